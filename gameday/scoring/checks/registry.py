"""The registry of check types: one record per `type` of the scenario's `Check` union.

A check type pairs metadata (its name, a title, what it reads, a description for the
catalogue) with behaviour: `evaluate(params, state, owner)` returns a `Verdict` — whether the
predicate holds over the state projected from the journal, why, and whose act made it hold.
`owner` is the id of the step or penalty the check belongs to (a manual check is satisfied by
a `mark` of that id).

What a check reads is a set of *topics*; the state names the topics each journal event
touches, and a check is re-evaluated only when one of its topics is touched:

- `api:SERVICE`   a successful, mutating API call to SERVICE (`api:iam`, `api:ec2` …)
- `called:SERVICE:Action`  a successful call of that action by the team (signed with a key
                           the team holds)
- `leaked-key:responder`   a call signed with the leaked key, journaled as the responder's
- `kind:KIND`     a journal event of that kind (`kind:workload.probe`, `kind:mark` …)
- `steps`         another step's check changed (for checks that depend on steps)
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from pydantic import BaseModel

from gameday.errors import UserError, did_you_mean
from gameday.scenario import model

if TYPE_CHECKING:
    from gameday.scoring.state import State

P = TypeVar("P", bound=BaseModel)

STEPS_TOPIC = "steps"


class Verdict(NamedTuple):
    """The value of a check at one moment, the reason in words, and who made it hold.

    `by` names whose act made the check true (`team`, `facilitator`, `attacker`, `aws` …, see
    `gameday.scoring.state.doer`), or None when nobody's did (it held from the start, or holds
    because nothing happened). A step earns points only for a check the team (or, for a
    manual step, the facilitator) made true.
    """

    holds: bool
    reason: str
    by: str | None = None


class UnknownCheckError(UserError):
    """A check type that nobody registered."""


@dataclass(frozen=True)
class CheckType(Generic[P]):
    """One check type: metadata for the catalogue and behaviour for the scorer."""

    name: str
    title: str
    description: str
    params: type[P]
    reads: tuple[str, ...]
    evaluate: Callable[[P, State, str], Verdict]
    topics: Callable[[P], frozenset[str]] | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)  # meanings for the catalogue

    def topics_for(self, params: P) -> frozenset[str]:
        """The topics whose events may change this check's value for these parameters."""
        return self.topics(params) if self.topics is not None else frozenset(self.reads)


def model_check_types() -> dict[str, type[BaseModel]]:
    """Every `type` name of the scenario model's `Check` union, with its parameter model."""
    union = typing.get_args(model.Check)[0]
    types: dict[str, type[BaseModel]] = {}
    for member in typing.get_args(union):
        for name in typing.get_args(member.model_fields["type"].annotation):
            types[name] = member
    return types


class Registry:
    """Check types by name; a duplicate is refused and an unknown name gets a suggestion."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckType[Any]] = {}

    def register(self, check: CheckType[P]) -> CheckType[P]:
        if check.name in self._checks:
            raise ValueError(f"check '{check.name}' is registered twice — give it another name")
        names = typing.get_args(check.params.model_fields["type"].annotation)
        if check.name not in names:
            raise ValueError(
                f"check '{check.name}' takes {check.params.__name__}, whose type is one of "
                f"{', '.join(names)} — register it under one of those names"
            )
        self._checks[check.name] = check
        return check

    def get(self, name: str) -> CheckType[Any]:
        try:
            return self._checks[name]
        except KeyError:
            raise UnknownCheckError(
                f"unknown check '{name}' — {did_you_mean(name, self._checks)}"
            ) from None

    def names(self) -> set[str]:
        return set(self._checks)

    def __iter__(self) -> Iterator[CheckType[Any]]:
        return iter(sorted(self._checks.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._checks)


CHECKS = Registry()
register = CHECKS.register
