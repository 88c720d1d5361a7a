"""The `gameday` command line run as a user runs it: a subprocess of this interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def gameday(
    *args: str, cwd: Path = REPO_ROOT, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS…` in `cwd`, its output captured; wide enough that nothing wraps."""
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "240", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def shown(path: Path) -> str:
    """A path as the command line shows it when given relative to the project."""
    return path.relative_to(REPO_ROOT).as_posix()
