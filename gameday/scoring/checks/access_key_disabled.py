"""access-key-disabled: a key (the leaked one, an estate key, or all of a user's) is disabled."""

from __future__ import annotations

from gameday.scenario.model import AccessKeyDisabled
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import AccessKey, State


def _disabled(key: AccessKey, wanted: str) -> bool:
    if wanted == "deleted":
        return not key.exists
    if wanted == "inactive":
        return key.exists and key.status == "Inactive"
    return not key.active


def _describe(key: AccessKey) -> str:
    return f"{key.label()} is {'deleted' if not key.exists else key.status}"


def evaluate(params: AccessKeyDisabled, state: State, owner: str) -> Verdict:
    if params.key is None and params.user is not None:
        keys = state.keys_of(params.user)
        if not keys:
            return Verdict(True, f"user {params.user} has no access keys")
        subject = f"every key of {params.user}"
    else:
        ref = params.key or "leaked"
        key_id = state.key_id(ref)
        key = state.keys.get(key_id) if key_id else None
        if key is None:
            return Verdict(False, f"key '{ref}' is not in the seeded estate")
        keys = [key]
        subject = key.label()
    wanted = {"any": "inactive or deleted"}.get(params.state, params.state)
    still = [key for key in keys if not _disabled(key, params.state)]
    if still:
        return Verdict(False, "; ".join(_describe(key) for key in still) + f" (wanted {wanted})")
    described = "; ".join(_describe(key) for key in keys)
    # One key names itself; "every key of U" is followed by what became of each.
    return Verdict(
        True, described if len(keys) == 1 and params.key else f"{subject}: {described}", _by(keys)
    )


def _by(keys: list[AccessKey]) -> str | None:
    """Who disabled the last of the keys to stop working (None: dead from the start)."""
    stopped = [key for key in keys if key.disabled is not None]
    if not stopped:
        return None
    return max(stopped, key=lambda key: key.disabled or (0.0, 0)).disabled_by


CHECK = register(
    CheckType(
        name="access-key-disabled",
        title="An access key is disabled",
        description=(
            "Holds when the key is no longer usable: `state: inactive` wants it deactivated "
            "(still present, status Inactive), `state: deleted` wants it deleted, `state: any` "
            "accepts either. `key` is `leaked` (the key that leaked) or the id of a key in the "
            "estate; with `key: null` and a `user`, every key that user ever had must be "
            "disabled — keys minted during the run included. The step is the team's when the "
            "team's call disabled the key (the last one, for a user's keys); a key already dead "
            "at the push is nobody's doing (see `keep` in docs/scenario-format.md)."
        ),
        params=AccessKeyDisabled,
        reads=("api:iam",),
        evaluate=evaluate,
        parameters={
            "key": "`leaked`, an estate key's id, or null (with `user`) for all of a user's keys",
            "user": "with `key: null`: the user whose every key must be disabled",
            "state": "`inactive`, `deleted` or `any`",
        },
    )
)
