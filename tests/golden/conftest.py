"""The golden runs, shared by every test module of this folder and every xdist worker."""

from __future__ import annotations

import os

import pytest

from .runs import GoldenRuns


@pytest.fixture(scope="session")
def golden_runs(tmp_path_factory: pytest.TempPathFactory) -> GoldenRuns:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    return GoldenRuns(root / "golden-runs")
