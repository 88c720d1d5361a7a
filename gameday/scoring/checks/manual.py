"""manual: a step a machine cannot observe, satisfied when the facilitator marks it."""

from __future__ import annotations

from gameday.scenario.model import Manual
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import State


def evaluate(params: Manual, state: State, owner: str) -> Verdict:
    if owner in state.marks:
        return Verdict(
            True, f"marked by the facilitator at {run_time(state.marks[owner])}", "facilitator"
        )
    return Verdict(False, "waiting for the facilitator (`gameday mark`)")


CHECK = register(
    CheckType(
        name="manual",
        title="Marked by the facilitator",
        description=(
            "For what a machine cannot observe (the root password changed, legal informed): "
            "holds from the first `mark` event naming the step (`gameday mark RUN_DIR STEP_ID`) "
            "made by the facilitator (`by: facilitator`, which takes the facilitator's token); "
            "a mark by anyone else counts for nothing. `instructions` tell the facilitator what "
            "to look for."
        ),
        params=Manual,
        reads=("kind:mark",),
        evaluate=evaluate,
        parameters={
            "instructions": "what the facilitator checks before marking the step",
        },
    )
)
