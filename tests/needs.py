"""The system packages some tests need (Chromium, chromedriver, espeak-ng, git-secrets)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def not_installed(what: str, install: str) -> NoReturn:
    """End a test whose system package is missing: a skip on a developer's machine, a failure
    under CI (`CI` set), whose job installs every one of them (.ci/run)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} not installed; CI must install it ({install})")
    pytest.skip(f"{what} not installed ({install})")
