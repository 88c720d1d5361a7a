"""quarantine-kept-until-key-disabled: the quarantine stayed until the leaked key was off."""

from __future__ import annotations

from gameday.scenario.model import QuarantineKept
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import State


def evaluate(params: QuarantineKept, state: State, owner: str) -> Verdict:
    if state.quarantine_removed_early is not None:
        t, _ = state.quarantine_removed_early
        return Verdict(
            False, f"the quarantine was removed at {run_time(t)} while the leaked key worked"
        )
    if state.leaked_key_works():
        return Verdict(False, "the leaked key is still active")
    key = state.leaked_key()
    by = key.disabled_by if key is not None else None
    return Verdict(True, "the leaked key was disabled with the quarantine still in place", by)


CHECK = register(
    CheckType(
        name="quarantine-kept-until-key-disabled",
        title="The quarantine stayed until the leaked key was disabled",
        description=(
            "Holds once the leaked key is deactivated or deleted, provided AWS's quarantine "
            "policy was never taken off its user (detached, its inline form deleted, or the user "
            "deleted) while the key was still active. Removing the quarantine early is final: "
            "putting it back does not restore the check."
        ),
        params=QuarantineKept,
        reads=("api:iam", "kind:inject.delivered"),
        evaluate=evaluate,
    )
)
