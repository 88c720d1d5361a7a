"""sessions-revoked: every temporary session the attacker minted has stopped working.

Disabling the leaked key does not end the temporary credentials the attacker already took
with it (`sts:AssumeRole`, `sts:GetSessionToken`): they keep working until they expire.
AWS's remedy is the IAM console's "Revoke active sessions" — an inline policy on the role
(`AWSRevokeOlderSessions`; for a user's own sessions, the same policy on the user) denying
everything to sessions issued before now (`DateLessThan` on `aws:TokenIssueTime`).
The check asks the same explicit-deny evaluation the mock's gateway enforces
(`gameday.world.quarantine`) whether the role's policies now refuse a session issued when
the attacker's was, for actions across the services an attacker uses; a deny of a few
actions, or one dated before the session, does not revoke it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gameday.scenario.model import SessionsRevoked
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import DENY_ALL_MANAGED, Principal, Session, State, parse_document
from gameday.world.quarantine import explicit_deny

# What an attacker does with a session, across services; a revoked session is refused all.
PROBE_ACTIONS = (
    "sts:AssumeRole",
    "iam:CreateUser",
    "iam:CreateAccessKey",
    "iam:ListUsers",
    "ec2:RunInstances",
    "ec2:DescribeInstances",
    "s3:ListAllMyBuckets",
    "s3:GetObject",
    "secretsmanager:ListSecrets",
    "secretsmanager:GetSecretValue",
    "lambda:CreateFunction",
    "cloudtrail:StopLogging",
    "kms:Decrypt",
    "organizations:LeaveOrganization",
)
_DENY_ALL = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}


def _policies(role: Principal, state: State) -> list[tuple[Any, str | None]]:
    """The documents of the role's policies that the scoring state knows, with who put each."""
    documents: list[tuple[Any, str | None]] = []
    for attachment in role.policies.values():
        if attachment.kind == "inline":
            document = parse_document(attachment.document)
        elif attachment.name in DENY_ALL_MANAGED:
            document = _DENY_ALL
        else:
            managed = state.policies.get(attachment.name)
            document = parse_document(managed.document) if managed is not None else None
        if isinstance(document, dict):
            documents.append((document, attachment.by))
    return documents


def _issue_time(session: Session) -> str | None:
    if session.issued_epoch is None:
        return None
    moment = datetime.fromtimestamp(session.issued_epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def revoked_by(session: Session, state: State) -> tuple[bool, str, str | None]:
    """Whether the session is dead now, why, and whose act killed it."""
    if session.role:
        kind, name, holder = "role", session.role, state.roles.get(session.role)
    else:
        kind, name = "user", session.user or ""
        holder = state.users.get(name)
    if holder is not None and not holder.exists:
        return True, f"{kind} {name} deleted", holder.deleted_by
    now = state.t0_epoch + state.t if state.t0_epoch is not None else None
    if session.expires_epoch is not None and now is not None and now >= session.expires_epoch:
        return True, f"session {session.access_key_id} expired", None
    issued = _issue_time(session)
    works = f"session {session.access_key_id} of {name} still works"
    if holder is None or issued is None:
        return False, works, None
    context = {
        "aws:TokenIssueTime": issued,
        "aws:PrincipalType": "AssumedRole" if session.role else "User",
    }
    for document, by in _policies(holder, state):
        if all(explicit_deny([document], action, "*", context) for action in PROBE_ACTIONS):
            return True, f"{name} denies sessions issued at {issued}", by
    return False, works, None


def evaluate(params: SessionsRevoked, state: State, owner: str) -> Verdict:
    sessions = [s for s in state.sessions.values() if s.by == "attacker"]
    if not sessions:
        return Verdict(False, "the attacker holds no temporary credentials")
    reasons: list[str] = []
    doers: list[str | None] = []
    for session in sessions:
        dead, reason, by = revoked_by(session, state)
        if not dead:
            return Verdict(False, reason)
        reasons.append(reason)
        doers.append(by)
    by = next((who for who in doers if who != "team"), "team") if all(doers) else None
    return Verdict(True, "; ".join(dict.fromkeys(reasons)), by)


CHECK = register(
    CheckType(
        name="sessions-revoked",
        title="The attacker's temporary credentials are revoked",
        description=(
            "Holds once every session the attacker minted (`sts:AssumeRole`, or the user's own "
            "`sts:GetSessionToken`) has stopped working: its role (or user) denies sessions "
            "issued when it was (an inline or managed policy with an explicit Deny of every "
            "action for an `aws:TokenIssueTime` condition — the IAM console's "
            "`AWSRevokeOlderSessions` — or a deny-all), the role or user was deleted, or the "
            "session expired. A deny of some actions only, or dated before the session was "
            "issued, does not revoke it; disabling the leaked key does not either. Fails while "
            "the attacker holds no session. The step is the team's when the team's policy or "
            "deletion ended every session; an expiry is nobody's doing."
        ),
        params=SessionsRevoked,
        reads=("api:iam", "api:sts"),
        evaluate=evaluate,
    )
)
