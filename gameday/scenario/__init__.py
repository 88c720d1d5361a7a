"""The scenario format: the typed model, the loader with located errors, and the library."""

from __future__ import annotations

from gameday.scenario.loader import load_scenario, parse_scenario
from gameday.scenario.model import Scenario

__all__ = ["Scenario", "load_scenario", "parse_scenario"]
