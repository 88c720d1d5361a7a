"""Fixtures of the report tests; the builders behind them are in runs.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gameday.scenario import load_scenario
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

from .runs import SCENARIO_PATH, careful_run, careless_run, save_run


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario(SCENARIO_PATH)


@pytest.fixture()
def careless(scenario: Scenario) -> tuple[list[dict[str, Any]], Score]:
    return careless_run(scenario)


@pytest.fixture()
def careful(scenario: Scenario) -> tuple[list[dict[str, Any]], Score]:
    return careful_run(scenario)


@pytest.fixture()
def run_saver(tmp_path: Path) -> Callable[[str, list[dict[str, Any]], Score | None], Path]:
    def save(name: str, events: list[dict[str, Any]], score: Score | None) -> Path:
        return save_run(tmp_path / "runs", name, events, score)

    return save
