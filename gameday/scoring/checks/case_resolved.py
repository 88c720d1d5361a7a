"""case-resolved: the team resolved AWS's support case."""

from __future__ import annotations

from gameday.scenario.model import CaseState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import TEAM, State


def evaluate(params: CaseState, state: State, owner: str) -> Verdict:
    if state.case_resolved is None:
        return Verdict(False, "the support case is still open")
    return Verdict(True, f"the team resolved the case at {run_time(state.case_resolved[0])}", TEAM)


CHECK = register(
    CheckType(
        name="case-resolved",
        title="The support case is resolved",
        description=(
            "Holds once the team resolved the support case (`support:ResolveCase`, "
            "successful, signed with a key the team holds)."
        ),
        params=CaseState,
        reads=("api:support",),
        evaluate=evaluate,
    )
)
