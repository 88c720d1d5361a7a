"""What a valid scenario does that would spoil its game day: the warnings of `validate`.

A warning is not a mistake of the format — the scenario loads and runs — but something the
facilitator would only discover in front of the room: nobody is ever told of the leak, or a
step expects the attacker's leftovers while the attacker's every attempt to create
something comes when the quarantine already refuses it. `gameday validate` prints each as
`path:line:col: warning: message` and exits 0, or 2 with `--strict`. Each check here is a
`ScenarioCheck` (`(loc, message)` pairs for a valid scenario), the same shape as the ones
`validate_scenario(…, warnings=…)` takes from callers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gameday.scenario.durations import format_duration
from gameday.scenario.model import (
    ApiCalled,
    AttackerLeftoversRemoved,
    BackdoorExistingUser,
    BackdoorRole,
    BackdoorUser,
    Ec2Mining,
    LambdaCreate,
    LoginProfile,
    Scenario,
)
from gameday.scenario.promises import unkept_promises
from gameday.scenario.timing import NOTICE_TYPES, earliest_notice, sure_quarantine

Loc = tuple[str | int, ...]

# The techniques that create something in the account (users, keys, login profiles, roles,
# instances, functions). Every quarantine policy — V1, V2, V3 and the old inline one — denies
# the calls they need (CreateUser, CreateAccessKey, CreateLoginProfile, CreateRole,
# RunInstances, lambda:CreateFunction), so once it holds they can only fail.
CREATING = (BackdoorUser, BackdoorExistingUser, LoginProfile, BackdoorRole, Ec2Mining, LambdaCreate)


def nobody_notified(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """No inject tells the responders: nobody learns of the leak, and no runbook wakes up."""
    data = _plain(scenario)
    if earliest_notice(data) is not None:
        return
    kinds = ", ".join(NOTICE_TYPES[:-1]) + " or " + NOTICE_TYPES[-1]
    yield (
        ("timeline",) if scenario.timeline else (),
        f"no inject tells the responders of the leak (an {kinds}; a webhook only with its "
        "own 'url'), so nobody is notified and the steps' times count from the push — add "
        "one, like {id: case-email, type: email, at: 2m}",
    )


def attacker_only_fails(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """Steps that clean up after the attacker, when the attacker can create nothing: every
    creating technique comes once the quarantine refuses it (or there is none), so the step
    has nothing to clean up and no team can earn it.

    An attacker who only fails is a fair story on its own (the quarantine works, CloudTrail
    shows the refused calls); it spoils the game day only when a step expects leftovers.
    """
    cleanups = [
        (index, step)
        for index, step in enumerate(scenario.steps)
        if isinstance(step.check, AttackerLeftoversRemoved)
        or (isinstance(step.check, ApiCalled) and step.check.attacker_regions)
    ]
    if not cleanups:
        return
    attacker = scenario.attacker
    creating = [
        (max(technique.at, attacker.first_use), index)
        for index, technique in enumerate(attacker.techniques)
        if isinstance(technique, CREATING)
    ]
    step_index, step = cleanups[0]
    if not creating:
        yield (
            ("steps", step_index, "check"),
            f"no attacker technique creates anything, so step '{step.id}' has nothing to clean "
            "up and no team can earn it — add one (like aws.persistence.iam-create-backdoor-"
            "user) under attacker.techniques, or drop the step",
        )
        return
    quarantine = sure_quarantine(_plain(scenario))
    if quarantine is None:
        return
    attached, inject_id = quarantine
    refused_from = attached + attacker.consistency_window
    start, index = min(creating)
    if start < refused_from:
        return
    window = format_duration(attacker.consistency_window)
    yield (
        ("attacker", "techniques", index, "at"),
        f"every technique that creates something comes after the quarantine ('{inject_id}' at "
        f"{format_duration(attached)}) and its consistency window ({window}), when the "
        f"leaked key can no longer create anything, so step '{step.id}' has nothing to clean "
        f"up — move one before {format_duration(refused_from)}, or widen "
        "attacker.consistency_window",
    )


def _plain(scenario: Scenario) -> dict[str, Any]:
    return scenario.model_dump(mode="python", exclude_none=True)


HAZARDS = (nobody_notified, attacker_only_fails, unkept_promises)
