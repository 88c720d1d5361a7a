"""The scenario library: finding scenario files in a folder and summarising them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import ScenarioError
from gameday.paths import PROJECT_ROOT
from gameday.scenario.loader import load_scenario
from gameday.scenario.model import Scenario

DEFAULT_LIBRARY = PROJECT_ROOT / "scenarios"


@dataclass(frozen=True)
class Entry:
    path: Path
    scenario: Scenario | None
    error: ScenarioError | None


def scenario_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The YAML files named, and those inside named folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            yield path


def load_library(folder: Path = DEFAULT_LIBRARY) -> list[Entry]:
    entries = []
    for path in scenario_files([folder]):
        try:
            entries.append(Entry(path, load_scenario(path), None))
        except ScenarioError as error:
            entries.append(Entry(path, None, error))
    return entries
