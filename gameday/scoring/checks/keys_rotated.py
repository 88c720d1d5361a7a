"""keys-rotated: every key that worked at the push has been replaced, then disabled."""

from __future__ import annotations

from gameday.scenario.model import KeysRotated
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import AccessKey, State

# The run's own principals keep their keys: rotating them would lock the exercise out.
EXEMPT_PRINCIPALS = ("responder", "framework")


def rotation(state: State, old: AccessKey) -> tuple[bool, str, str | None]:
    """Whether one key is rotated: disabled, and replaced by a new key of its user where it
    was in use (its secrets hold the new key and, for the workload's, the workload used it).
    The verdict, why, and who did it."""
    label = f"{old.label()} of {old.user}"
    if old.active:
        return False, f"{label} is still active", None
    doers = [old.disabled_by]
    held_in = state.secrets_holding(old.access_key_id)
    for secret in held_in:
        rotated, why, by = state.secret_rotation(secret)
        if not rotated:
            return False, f"{label} is disabled, but {why}", None
        doers.append(by)
    if not held_in and not state.replacements(old.user):
        return False, f"{label} is disabled, but {old.user} has no new key from the team", None
    by = next((who for who in doers if who != "team"), "team")
    where = f" (in {', '.join(s.name for s in held_in)})" if held_in else ""
    return True, f"{label} replaced{where} and disabled", by


def in_scope(params: KeysRotated, state: State) -> list[AccessKey]:
    """The keys that worked at the push, in the check's users, but the exercise's own."""
    exempt = state.principal_keys(*EXEMPT_PRINCIPALS)
    return [
        key
        for key in state.keys.values()
        if key.active_at_start
        and key.created_by is None
        and key.access_key_id not in exempt
        and (not params.users or key.user in params.users)
        and key.user not in params.exclude
    ]


def evaluate(params: KeysRotated, state: State, owner: str) -> Verdict:
    keys = in_scope(params, state)
    if not keys:
        return Verdict(True, "no key that worked at the push is in scope")
    outcomes = [rotation(state, key) for key in keys]
    left = [why for rotated, why, _ in outcomes if not rotated]
    if left:
        shown = "; ".join(left[:4]) + (f"; and {len(left) - 4} more" if len(left) > 4 else "")
        return Verdict(False, f"{len(left)} of {len(keys)} key(s) not rotated: {shown}")
    doers = [by for _, _, by in outcomes]
    by = next((who for who in doers if who != "team"), "team")
    return Verdict(True, f"all {len(keys)} key(s) from before the push rotated", by)


CHECK = register(
    CheckType(
        name="keys-rotated",
        title="Every key that worked at the push is rotated",
        description=(
            "Holds when every access key that existed and was Active at the push (T0) — across "
            "all users, or only the listed `users`, leaving out the users in `exclude` — is "
            "rotated: a new key of the same user, created by the team after T0, is Active and "
            "in use where the old one was, and the old one is disabled (Inactive or deleted). "
            "Where the old key was held in a Secrets Manager secret, that secret must now hold "
            "the new key (and, for the workload's secret, a workload probe must have worked "
            "with it since — as for `secret-rotated`); elsewhere (a person's laptop, a CI "
            "system, nothing the exercise sees) the new key is handed over out of band, so its "
            "existence is what counts. Disabling or deleting a key without a replacement is "
            "not rotating it; a key the attacker minted is no replacement. The keys of the "
            "run's responder and framework principals are never counted."
        ),
        params=KeysRotated,
        reads=("api:iam", "api:secretsmanager", "kind:workload.probe"),
        evaluate=evaluate,
        parameters={
            "users": "only the keys of these users (default: every user)",
            "exclude": "users whose keys are left alone (a workload rotated separately)",
        },
    )
)
