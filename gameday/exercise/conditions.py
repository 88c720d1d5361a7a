"""The conditions an inject may depend on (`when:` / `unless:`), evaluated when it is due.

A condition is a named predicate over the run's state. The state itself — is the support
case replied to, is the leaked key still active, is the repository public — is answered by
whoever owns that part of the world, through the `RunState` protocol below; this module
only knows how each condition reads it. The registry is keyed by the names the scenario
format allows (`gameday.scenario.model.CONDITIONS`), each with a sentence for the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from gameday.errors import did_you_mean

SupportPlan = Literal["basic", "developer", "business", "enterprise"]
KeyStatus = Literal["Active", "Inactive", "Deleted"]


class RunState(Protocol):
    """The questions about a live run that conditions ask. Each answer is for *now*."""

    @property
    def support_plan(self) -> SupportPlan:
        """The account's AWS Support plan (fixed by the scenario)."""
        ...

    def case_replied(self) -> bool:
        """The team has replied on the support case once the leaked key was disabled — the
        reply that answers AWS (and earns the `case-replied` check); one sent while the key
        still worked does not count."""
        ...

    def case_resolved(self) -> bool:
        """The support case's status is resolved."""
        ...

    def leaked_key_status(self) -> KeyStatus:
        """The leaked access key as IAM sees it: Active, Inactive, or Deleted."""
        ...

    def repository_private(self) -> bool:
        """The leaky repository has been made private on the code host."""
        ...

    def repository_deleted(self) -> bool:
        """The leaky repository was deleted from the code host."""
        ...

    def quarantine_attached(self) -> bool:
        """An AWS compromised-key quarantine policy is attached to the leaked key's user."""
        ...


@dataclass(frozen=True)
class Condition:
    """One condition: its name in scenarios, what it means, and how to read it off the state."""

    name: str
    description: str
    holds: Callable[[RunState], bool]
    fixed: bool = False  # the scenario alone decides it (the support plan), not the run


REGISTRY: dict[str, Condition] = {}


def register(
    name: str, description: str, *, fixed: bool = False
) -> Callable[[Callable[[RunState], bool]], Condition]:
    """Register the decorated predicate as condition `name`; a name may be registered once.
    `fixed`: the scenario alone decides it, so it holds or fails the same in every run."""

    def add(holds: Callable[[RunState], bool]) -> Condition:
        if name in REGISTRY:
            raise ValueError(f"condition '{name}' is registered twice")
        REGISTRY[name] = Condition(name, description, holds, fixed)
        return REGISTRY[name]

    return add


def condition(name: str) -> Condition:
    """The condition called `name`; an unknown name says which one was probably meant."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown condition '{name}' — {did_you_mean(name, REGISTRY)}") from None


def holds(name: str, state: RunState) -> bool:
    return condition(name).holds(state)


def skip_reason(when: Iterable[str], unless: Iterable[str], state: RunState) -> str | None:
    """Why an inject guarded by `when`/`unless` must not fire now, or None if it may.

    Every `when` condition must hold and no `unless` condition may; the first one that
    fails is the reason, worded for the journal ("when: case-replied is false").
    """
    for name in when:
        if not holds(name, state):
            return f"when: {name} is false"
    for name in unless:
        if holds(name, state):
            return f"unless: {name} is true"
    return None


@register(
    "enterprise-support",
    "The account has Enterprise Support: AWS also phones the security contact.",
    fixed=True,
)
def _enterprise_support(state: RunState) -> bool:
    return state.support_plan == "enterprise"


@register(
    "business-support-or-higher",
    "The account has Business or Enterprise Support (faster case response times).",
    fixed=True,
)
def _business_support(state: RunState) -> bool:
    return state.support_plan in ("business", "enterprise")


@register(
    "case-replied",
    "The responders have replied to the support case AWS opened about the exposed key, with "
    "the leaked key disabled at the time: an earlier reply does not stop AWS's follow-up.",
)
def _case_replied(state: RunState) -> bool:
    return state.case_replied()


@register(
    "case-resolved",
    "The support case about the exposed key has been resolved.",
)
def _case_resolved(state: RunState) -> bool:
    return state.case_resolved()


@register(
    "leaked-key-disabled",
    "The leaked access key no longer works: it is Inactive or deleted.",
)
def _leaked_key_disabled(state: RunState) -> bool:
    return state.leaked_key_status() != "Active"


@register(
    "leaked-key-deleted",
    "The leaked access key has been deleted.",
)
def _leaked_key_deleted(state: RunState) -> bool:
    return state.leaked_key_status() == "Deleted"


@register(
    "repository-private",
    "The leaky repository is out of public view (made private, or deleted).",
)
def _repository_private(state: RunState) -> bool:
    return state.repository_private() or state.repository_deleted()


@register(
    "repository-deleted",
    "The leaky repository has been deleted from the code host.",
)
def _repository_deleted(state: RunState) -> bool:
    return state.repository_deleted()


@register(
    "quarantine-attached",
    "AWS's compromised-key quarantine policy is attached to the leaked key's user.",
)
def _quarantine_attached(state: RunState) -> bool:
    return state.quarantine_attached()
