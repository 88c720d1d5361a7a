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
    found = [a for a in user.policies.values() if matches(params.policy, a, state)]
    now = [a.name for a in found]
    if params.attached:
        if now:
            return Verdict(True, f"{', '.join(now)} attached to {name}", found[0].by)
        return Verdict(False, f"no {params.policy} policy on {name}")
    if now:
        return Verdict(False, f"{', '.join(now)} still attached to {name}")
    removed = [a for a in user.history.values() if matches(params.policy, a, state)]
    if not removed:
        return Verdict(False, f"{name} never had a {params.policy} policy to remove")
    gone = "user deleted" if not user.exists else "detached"
    names = ", ".join(a.name for a in removed)
    return Verdict(
        True, f"{names} removed from {name} ({gone})", user.removed_by.get(removed[-1].key)
    )


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
            "deleted) — a policy that was never there has not been removed. The step is the "
            "team's when the team attached (or removed) the policy; AWS's quarantine on the user "
            "is AWS's doing, so a step that wants it left alone is a `keep` step. A step that "
            "lifts the quarantine names the containment step in its `after`, so that lifting it "
            "while the leaked key works earns nothing (and the penalty quarantine-removed-early "
            "is what it costs)."
        ),
        params=PolicyAttached,
        reads=("api:iam", "kind:inject.delivered"),
        evaluate=evaluate,
    )
)
