"""case-replied: the responder replied to AWS's support case."""

from __future__ import annotations

from gameday.scenario.model import CaseState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: CaseState, state: State, owner: str) -> Verdict:
    if state.case_replied is None:
        return Verdict(False, "nobody has replied to the support case")
    return Verdict(True, f"the responder replied to the case at {state.case_replied[0]:.0f}s")


CHECK = register(
    CheckType(
        name="case-replied",
        title="The support case got a reply",
        description=(
            "Holds once the responder added a communication to the support case "
            "(`support:AddCommunicationToCase`, successful). A reply cannot be taken back."
        ),
        params=CaseState,
        reads=("api:support",),
        evaluate=evaluate,
    )
)
