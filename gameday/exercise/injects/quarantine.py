"""The quarantine: AWS attaches a deny policy to the IAM user whose key leaked (FACTS §2).

About a minute after the push, AWS attaches the managed policy
`AWSCompromisedKeyQuarantineV3` (or V2, or the original one) to the key's user; older
incidents got an inline policy named `AWSExposedCredentialPolicy_DO_NOT_REMOVE` instead.
The key itself stays active: remediation is the customer's job. The inject does the same
through the mock's IAM with the framework's credential — AWS's own hands, no user, key or
policy of the account — so CloudTrail shows the attach as AWS's act, and nothing the
responders do to the account's identities can stop it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gameday.errors import UserError
from gameday.exercise.injects.base import Channel, Delivered, Draft, InjectContext, Outcome
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import Scene
from gameday.scenario.model import QuarantineInject
from gameday.world.quarantine import INLINE_QUARANTINE_POLICY_NAME, QUARANTINE_POLICY_ARNS

MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
REGION = "us-east-1"  # IAM is global; its endpoint answers in us-east-1

# The inline policy of older incidents denied what the first managed quarantine policy
# (2020) denies: IAM writes that would let an attacker persist, and the compute, account
# and function creation an attacker monetises.
INLINE_POLICY_ACTIONS = (
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:ChangePassword",
    "iam:CreateAccessKey",
    "iam:CreateInstanceProfile",
    "iam:CreateLoginProfile",
    "iam:CreateRole",
    "iam:CreateUser",
    "iam:DetachUserPolicy",
    "iam:PutUserPermissionsBoundary",
    "iam:PutUserPolicy",
    "iam:UpdateAccessKey",
    "iam:UpdateAccountPasswordPolicy",
    "iam:UpdateUser",
    "ec2:RequestSpotInstances",
    "ec2:RunInstances",
    "ec2:StartInstances",
    "organizations:CreateAccount",
    "organizations:CreateOrganization",
    "organizations:InviteAccountToOrganization",
    "lambda:CreateFunction",
    "lightsail:Create*",
    "lightsail:Start*",
    "lightsail:Delete*",
    "lightsail:Update*",
    "lightsail:GetInstanceAccessDetails",
    "lightsail:DownloadDefaultKeyPair",
)
INLINE_POLICY_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": list(INLINE_POLICY_ACTIONS), "Resource": ["*"]}],
}


@dataclass(frozen=True)
class Quarantine:
    """The policy to put on the user: a managed policy ARN, or the inline policy's name."""

    user_name: str
    policy_arn: str | None
    inline_name: str | None

    @property
    def policy_name(self) -> str:
        return self.inline_name or (self.policy_arn or "").removeprefix(MANAGED_POLICY_PREFIX)


def render(inject: QuarantineInject, scene: Scene) -> Draft[Quarantine]:
    if inject.template is not None:
        raise UserError(
            f"inject '{inject.id}': a quarantine sends no message, so it takes no template — "
            "remove 'template'"
        )
    facts = scene.facts
    if inject.policy == "inline":
        quarantine = Quarantine(facts.user_name, None, INLINE_QUARANTINE_POLICY_NAME)
        how = f"the inline policy {INLINE_QUARANTINE_POLICY_NAME}"
    else:
        quarantine = Quarantine(facts.user_name, QUARANTINE_POLICY_ARNS[inject.policy], None)
        how = f"the AWS managed policy {quarantine.policy_arn}"
    key = (
        "the key itself stays active until someone disables it"
        if scene.key_active()
        else "the key itself was already inactive, and works again if someone reactivates it"
    )
    body = (
        f"AWS attached {how} to IAM user {facts.user_name}, the owner of the exposed access key "
        f"{facts.access_key_id}. The policy denies the key's owner the IAM changes, instance "
        f"launches and other creations an attacker would make; {key}, and the policy stays "
        "until someone detaches it."
    )
    data: dict[str, Any] = {
        "account_id": facts.account_id,
        "access_key_id": facts.access_key_id,
        "user_name": facts.user_name,
        "policy": inject.policy,
        "policy_name": quarantine.policy_name,
    }
    if quarantine.policy_arn is not None:
        data["policy_arn"] = quarantine.policy_arn
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=f"Quarantine policy {quarantine.policy_name} attached to {facts.user_name}",
        body=body,
        data=data,
    )
    return Draft(delivered, quarantine)


def send(inject: QuarantineInject, draft: Draft[Quarantine], ctx: InjectContext) -> Outcome:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

    quarantine = draft.payload
    iam = ctx.aws.client("iam", region=REGION)
    fields: dict[str, Any] = {
        "user_name": quarantine.user_name,
        "policy_name": quarantine.policy_name,
    }
    try:
        if quarantine.policy_arn is not None:
            fields["policy_arn"] = quarantine.policy_arn
            iam.attach_user_policy(UserName=quarantine.user_name, PolicyArn=quarantine.policy_arn)
        else:
            iam.put_user_policy(
                UserName=quarantine.user_name,
                PolicyName=quarantine.policy_name,
                PolicyDocument=json.dumps(INLINE_POLICY_DOCUMENT),
            )
    except ClientError as error:
        # The world may have moved on (the responders already deleted the user): a fact of
        # the run to record, not a reason to stop it.
        code = error.response.get("Error", {}).get("Code", "ClientError")
        ctx.console(f"quarantine '{inject.id}' failed: {code} — {error}")
        return Outcome({**fields, "status": "failed", "error_code": code, "error": str(error)})
    ctx.console(f"AWS quarantined IAM user {quarantine.user_name} with {quarantine.policy_name}")
    return Outcome({**fields, "status": "attached"})


CHANNEL = REGISTRY.register(
    Channel(
        type="quarantine",
        model=QuarantineInject,
        title="Quarantine policy",
        summary="AWS attaches AWSCompromisedKeyQuarantineV3 (V2, V1, or the old inline "
        "AWSExposedCredentialPolicy_DO_NOT_REMOVE) to the leaked key's IAM user in the mock",
        reveals=("account_id", "access_key_id", "user_name", "policy", "policy_name", "policy_arn"),
        template=None,
        render=render,
        send=send,
    )
)
