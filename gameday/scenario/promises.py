"""Titles are promises: the `validate` warning for a step whose title names a condition its
check does not test.

"Rotate the billing service's key through its secret without an outage" is a promise to the
room; if the step's check only looks at the secret, a team that took the service down on the
way still reads "Met" beside that title. Each `Promise` here is a phrase a title can make and
what a step needs for its check to keep it: `throughout` a check that the service is up
("without an outage"), a `before_step` ("before destroying it"), a target inside the time
named ("within 15 minutes"). A title that makes none of these promises is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gameday.scenario.model import Scenario, Step

Loc = tuple[str | int, ...]

_UP = ("workload-healthy",)  # the checks that say the service stays up


@dataclass(frozen=True)
class Promise:
    """A phrase of a title, whether a step's checks test what it says, and what to do when
    they do not (for the scenario and step at hand: not every check takes every field)."""

    pattern: re.Pattern[str]
    kept: Callable[[Step, re.Match[str]], bool]
    advice: Callable[[Scenario, Step], str]


def _held_up(step: Step, _: re.Match[str]) -> bool:
    return step.throughout is not None and step.throughout.type in _UP


def _ordered(step: Step, found: re.Match[str]) -> bool:
    """A `before_step` orders a call; a service that must stay up orders a rotation (the old
    key disabled first breaks it)."""
    return getattr(step.check, "before_step", None) is not None or _held_up(step, found)


def _order_advice(scenario: Scenario, step: Step) -> str:
    if "before_step" in type(step.check).model_fields:
        return "give its check a `before_step` naming the step that destroys it"
    if scenario.workload is not None:
        return (
            "add `throughout: {type: workload-healthy}`, so that disabling first — which "
            "breaks the service — loses the step; or reword the title"
        )
    return (
        f"a {step.check.type} check cannot test the order: reword the title, or make the step "
        "an `api-called` check with a `before_step`"
    )


def _in_time(step: Step, found: re.Match[str]) -> bool:
    amount = int(found.group("amount"))
    seconds = amount * (3600 if found.group("unit").startswith("h") else 60)
    return step.target <= seconds


PROMISES = (
    Promise(
        re.compile(
            r"\bwithout (?:an? |any )?(?:outage|downtime|interruption|breaking|taking \S+ down)",
            re.IGNORECASE,
        ),
        _held_up,
        lambda scenario, step: (
            "add `throughout: {type: workload-healthy}` so the step is met only if the service "
            "stays up from detection to its deadline"
            if scenario.workload is not None
            else "the scenario has no workload to stay up: add one, or reword the title"
        ),
    ),
    Promise(
        re.compile(
            r"\bbefore (?:destroying|deleting|removing|deactivating|disabling|revoking)\b",
            re.IGNORECASE,
        ),
        _ordered,
        _order_advice,
    ),
    Promise(
        re.compile(
            r"\bwithin (?P<amount>\d+) ?(?P<unit>min(?:ute)?s?|h(?:ou)?rs?|hours?)\b",
            re.IGNORECASE,
        ),
        _in_time,
        lambda scenario, step: "set its target to that time or less",
    ),
)


def unkept_promises(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """Each step whose title promises a condition (see `PROMISES`) its checks do not test."""
    for index, step in enumerate(scenario.steps):
        for promise in PROMISES:
            found = promise.pattern.search(step.title)
            if found is None or promise.kept(step, found):
                continue
            yield (
                ("steps", index, "title"),
                f"step '{step.id}' promises '{found.group(0)}' in its title, which its check "
                f"does not test — {promise.advice(scenario, step)}",
            )
