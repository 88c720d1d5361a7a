"""The check registry: one check per type of the scenario format, no more, no fewer."""

from __future__ import annotations

import pytest

from gameday.errors import UserError
from gameday.scenario.model import ApiCalled, CaseState, Manual
from gameday.scoring.checks import CHECKS, CheckType, Registry, Verdict, model_check_types
from gameday.scoring.state import State


def never(params: Manual, state: State, owner: str) -> Verdict:
    return Verdict(False, "never")


def manual(name: str = "manual") -> CheckType[Manual]:
    return CheckType(name, "Manual", "A manual step.", Manual, ("kind:mark",), never)


def test_every_check_type_of_the_scenario_format_has_exactly_one_check() -> None:
    assert CHECKS.names() == set(model_check_types())
    assert len(CHECKS) == len(model_check_types()) == 21


def test_each_check_takes_the_parameters_the_scenario_format_gives_its_type() -> None:
    types = model_check_types()
    for check in CHECKS:
        assert check.params is types[check.name], check.name
        assert check.reads and check.title and check.description


def test_registering_a_name_twice_is_refused() -> None:
    registry = Registry()
    registry.register(manual())
    with pytest.raises(ValueError, match="check 'manual' is registered twice"):
        registry.register(manual())


def test_a_check_must_be_registered_under_its_parameters_type() -> None:
    with pytest.raises(ValueError, match="register it under one of those names"):
        Registry().register(manual("manual-step"))


def test_an_unknown_check_gets_the_closest_name() -> None:
    with pytest.raises(UserError) as error:
        CHECKS.get("acess-key-disabled")
    assert str(error.value) == (
        "unknown check 'acess-key-disabled' — did you mean 'access-key-disabled'?"
    )


def test_a_check_is_evaluated_again_only_for_what_it_reads() -> None:
    api_called = CHECKS.get("api-called")
    lookup = ApiCalled(type="api-called", action="cloudtrail:LookupEvents")
    before = ApiCalled(type="api-called", action="cloudtrail:LookupEvents", before_step="x")
    # the steps too, for either: `before_step`, or the owning step's `after`
    assert api_called.topics_for(lookup) == {"called:cloudtrail:LookupEvents", "steps"}
    assert api_called.topics_for(before) == {"called:cloudtrail:LookupEvents", "steps"}
    replied = CaseState(type="case-replied")
    assert CHECKS.get("case-replied").topics_for(replied) == {"api:support"}
