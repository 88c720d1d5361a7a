"""Discovery: who am I, and what is in this account?"""

from __future__ import annotations

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Technique
from gameday.scenario.model import Enumerate, Whoami


def _whoami(ctx: AttackerContext, params: Whoami) -> None:
    identity = ctx.call("sts", "get_caller_identity")
    if identity:
        ctx.outcome.loot["arn"] = identity.get("Arn")


def _enumerate(ctx: AttackerContext, params: Enumerate) -> None:
    ctx.call("iam", "list_users")
    ctx.call("iam", "list_roles")
    ctx.call("iam", "list_attached_user_policies", UserName=_own_user(ctx))
    ctx.call("s3", "list_buckets")
    regions = params.regions or ctx.regions_in_use
    for region in regions:
        ctx.call("ec2", "describe_instances", region=region)
        ctx.call("secretsmanager", "list_secrets", region=region)
        ctx.call("lambda", "list_functions", region=region)


def _own_user(ctx: AttackerContext) -> str:
    arn = str(ctx.outcome.loot.get("arn", ""))
    return arn.rsplit("/", 1)[-1] if "/" in arn else "unknown"


TECHNIQUES.register(
    Technique(
        id="aws.discovery.whoami",
        tactic="discovery",
        title="Who does this key belong to?",
        description="Calls sts:GetCallerIdentity — the first call of nearly every attacker "
        "tool: it works even under the quarantine policy and reveals the account and user.",
        detection="CloudTrail GetCallerIdentity from an unfamiliar IP or user agent, minutes "
        "after the key appeared in a public commit.",
        detonate=_whoami,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.discovery.enumerate",
        tactic="discovery",
        title="Enumerate the account",
        description="Lists IAM users and roles, the user's own policies, S3 buckets, and in "
        "each region the EC2 instances, Secrets Manager secrets and Lambda functions.",
        detection="A burst of List*/Describe* calls across services and regions from one key; "
        "many AccessDenied errors once the quarantine policy is attached.",
        detonate=_enumerate,
    )
)
