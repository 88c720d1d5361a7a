"""leaked-key-used-by-responder: a responder made a call signed with the leaked key."""

from __future__ import annotations

from gameday.scenario.model import LeakedKeyUsedByResponder
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import State


def evaluate(params: LeakedKeyUsedByResponder, state: State, owner: str) -> Verdict:
    if state.leaked_key_used_by_responder is None:
        return Verdict(False, "no responder call was signed with the leaked key")
    t, _ = state.leaked_key_used_by_responder
    return Verdict(True, f"a responder signed a call with the leaked key at {run_time(t)}", "team")


CHECK = register(
    CheckType(
        name="leaked-key-used-by-responder",
        title="A responder used the leaked key",
        description=(
            "Holds once an `api.call` signed with the leaked key is journaled with "
            "`actor: responder`, whatever its outcome. The gateway attributes a call signed "
            "with the leaked key to the attacker only when the request comes from the "
            "simulated attacker; any other use of the key (a responder's CLI profile, a "
            "runbook) is journaled as the responder's. Using the key muddles the attacker's "
            "trail in CloudTrail and keeps a compromised secret in circulation."
        ),
        params=LeakedKeyUsedByResponder,
        reads=("leaked-key:responder",),
        evaluate=evaluate,
    )
)
