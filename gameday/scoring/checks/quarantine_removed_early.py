"""quarantine-removed-early: the quarantine came off while the leaked key still worked."""

from __future__ import annotations

from gameday.scenario.model import QuarantineKept
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import State


def evaluate(params: QuarantineKept, state: State, owner: str) -> Verdict:
    if state.quarantine_removed_early is None:
        return Verdict(False, "the quarantine was never removed while the leaked key worked")
    t, _ = state.quarantine_removed_early
    return Verdict(
        True, f"the quarantine was removed at {run_time(t)} while the leaked key worked", None
    )


CHECK = register(
    CheckType(
        name="quarantine-removed-early",
        title="The quarantine was removed while the leaked key still worked",
        description=(
            "The harmful twin of quarantine-kept-until-key-disabled, for penalties: holds from "
            "the moment AWS's quarantine policy is taken off the leaked key's user (detached, "
            "its inline form deleted, or the user deleted) while the key is still active, and "
            "stays true. Removing the quarantine after the key is disabled is the normal "
            "recovery step and does not count."
        ),
        params=QuarantineKept,
        reads=("api:iam", "kind:inject.delivered"),
        evaluate=evaluate,
    )
)
