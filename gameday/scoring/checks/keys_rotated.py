"""keys-rotated: no access key created before the breach is still active."""

from __future__ import annotations

from gameday.scenario.model import KeysRotated
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State

# The run's own principals keep their keys: rotating them would lock the exercise out.
EXEMPT_PRINCIPALS = ("responder", "framework")


def evaluate(params: KeysRotated, state: State, owner: str) -> Verdict:
    exempt = state.principal_keys(*EXEMPT_PRINCIPALS)
    stale = [
        key
        for key in state.keys.values()
        if key.active
        and key.created_t <= 0
        and key.access_key_id not in exempt
        and (not params.users or key.user in params.users)
        and key.user not in params.exclude
    ]
    if stale:
        names = ", ".join(f"{key.label()} of {key.user}" for key in stale)
        return Verdict(False, f"{len(stale)} key(s) from before the breach still active: {names}")
    return Verdict(True, "no key created before the breach is active")


CHECK = register(
    CheckType(
        name="keys-rotated",
        title="Every key created before the breach is rotated",
        description=(
            "Holds when no access key that existed at the push (T0) is still Active — across "
            "all users, or only the listed `users`, leaving out the users in `exclude`. "
            "Deactivated and deleted keys count as rotated. The keys of the run's responder "
            "and framework principals are never counted."
        ),
        params=KeysRotated,
        reads=("api:iam",),
        evaluate=evaluate,
        parameters={
            "users": "only the keys of these users (default: every user)",
            "exclude": "users whose keys are left alone (a workload rotated separately)",
        },
    )
)
