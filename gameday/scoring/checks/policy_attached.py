"""policy-attached: a policy (quarantine, deny-all or an ARN) is on a user, or was removed."""

from __future__ import annotations

from gameday.scenario.model import PolicyAttached
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import (
    DENY_ALL_MANAGED,
    Attachment,
    State,
    denies_everything,
    is_quarantine,
)


def matches(policy: str, attachment: Attachment, state: State) -> bool:
    """Whether an attachment is the policy a check names: `quarantine`, `deny-all` or an ARN."""
    if policy == "quarantine":
        return is_quarantine(attachment)
    if policy == "deny-all":
        if attachment.kind == "inline":
            return denies_everything(attachment.document)
        managed = state.policies.get(attachment.name)
        return attachment.name in DENY_ALL_MANAGED or (
            managed is not None and denies_everything(managed.document)
        )
    return attachment.kind == "managed" and attachment.name == policy


def evaluate(params: PolicyAttached, state: State, owner: str) -> Verdict:
    name = params.user or state.leaked_user
    user = state.users.get(name)
    if user is None:
        return Verdict(False, f"user {name} is not in the account")
    now = [a.name for a in user.policies.values() if matches(params.policy, a, state)]
    if params.attached:
        if now:
            return Verdict(True, f"{', '.join(now)} attached to {name}")
        return Verdict(False, f"no {params.policy} policy on {name}")
    if now:
        return Verdict(False, f"{', '.join(now)} still attached to {name}")
    before = [a.name for a in user.history.values() if matches(params.policy, a, state)]
    if not before:
        return Verdict(False, f"{name} never had a {params.policy} policy to remove")
    gone = "user deleted" if not user.exists else "detached"
    return Verdict(True, f"{', '.join(before)} removed from {name} ({gone})")


CHECK = register(
    CheckType(
        name="policy-attached",
        title="A policy is attached to a user (or was removed)",
        description=(
            "With `attached: true`, holds while the policy is on the user (default: the leaked "
            "key's user). `policy: quarantine` is AWS's quarantine — the managed "
            "AWSCompromisedKeyQuarantine, V2 or V3, or the older inline "
            "AWSExposedCredentialPolicy_DO_NOT_REMOVE; `policy: deny-all` is any inline or "
            "managed policy with an unconditional Deny of Action `*` on Resource `*` (AWSDenyAll "
            "included), read from the PolicyDocument of PutUserPolicy, CreatePolicy and "
            "CreatePolicyVersion; anything else is a managed policy ARN. With `attached: false`, "
            "holds once such a policy was on the user and is no longer (detached, or the user "
            "deleted) — a policy that was never there has not been removed."
        ),
        params=PolicyAttached,
        reads=("api:iam", "kind:inject.delivered"),
        evaluate=evaluate,
    )
)
