"""case-replied: the team replied to AWS's support case once the leaked key was contained."""

from __future__ import annotations

from gameday.scenario.model import CaseState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import TEAM, State


def evaluate(params: CaseState, state: State, owner: str) -> Verdict:
    if state.case_replied is not None:
        return Verdict(
            True,
            f"the team replied to the case at {run_time(state.case_replied[0])}, the leaked key "
            "disabled",
            TEAM,
        )
    if state.case_reply_too_early is not None:
        t, _ = state.case_reply_too_early
        return Verdict(
            False,
            f"the team replied at {run_time(t)} while the leaked key still worked — reply again",
        )
    return Verdict(False, "the team has not replied to the support case")


CHECK = register(
    CheckType(
        name="case-replied",
        title="The support case got a reply once the key was contained",
        description=(
            "Holds once the team added a communication to the support case "
            "(`support:AddCommunicationToCase`, successful, signed with a key the team holds) "
            "while containment held: the leaked key was Inactive or deleted at the time. A "
            "reply sent while the key still worked tells AWS nothing true yet and does not "
            "count (nor does it answer AWS's follow-up: the `case-replied` condition of the "
            "timeline reads the same reply); a later one does. A reply cannot be taken back."
        ),
        params=CaseState,
        reads=("api:support",),
        evaluate=evaluate,
    )
)
