"""The golden runs, shared by every test module of this folder and every xdist worker."""

from __future__ import annotations

import pytest

from .runs import GoldenRuns, shared_golden_runs


@pytest.fixture(scope="session")
def golden_runs(tmp_path_factory: pytest.TempPathFactory) -> GoldenRuns:
    return shared_golden_runs(tmp_path_factory)
