"""The scenario format: the typed model, the loader with located errors, and the library."""

from __future__ import annotations

from gameday.scenario.loader import (
    Validated,
    load_scenario,
    parse_scenario,
    validate_scenario,
    validate_scenario_text,
)
from gameday.scenario.model import Scenario

__all__ = [
    "Scenario",
    "Validated",
    "load_scenario",
    "parse_scenario",
    "validate_scenario",
    "validate_scenario_text",
]
