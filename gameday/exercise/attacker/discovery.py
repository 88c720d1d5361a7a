"""Discovery: who am I, and what is in this account?"""

from __future__ import annotations

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Technique
from gameday.scenario.model import Enumerate, Whoami


def _whoami(ctx: AttackerContext, params: Whoami) -> None:
    identity = ctx.call("sts", "get_caller_identity")
    if identity:
        ctx.outcome.loot["arn"] = identity.get("Arn")


def _enumerate(ctx: AttackerContext, params: Enumerate) -> None:
    # Enumeration tools start by asking whose key they hold: the policies worth listing
    # first are the key owner's own. What they find is the attacker's map of the account.
    found: dict[str, list[str]] = {}
    identity = ctx.call("sts", "get_caller_identity")
    users = ctx.call("iam", "list_users")
    found["users"] = [u["UserName"] for u in (users or {}).get("Users", [])]
    roles = ctx.call("iam", "list_roles")
    found["roles"] = [r["RoleName"] for r in (roles or {}).get("Roles", [])]
    own_user = _user_of(str((identity or {}).get("Arn", "")))
    if own_user:
        policies = ctx.call("iam", "list_attached_user_policies", UserName=own_user)
        found["own_policies"] = [
            p["PolicyArn"] for p in (policies or {}).get("AttachedPolicies", [])
        ]
    buckets = ctx.call("s3", "list_buckets")
    found["buckets"] = [b["Name"] for b in (buckets or {}).get("Buckets", [])]
    for key in ("instances", "secrets", "functions"):
        found[key] = []
    for region in params.regions or ctx.regions_in_use:
        reservations = ctx.call("ec2", "describe_instances", region=region)
        found["instances"] += [
            f"{region}/{i['InstanceId']}"
            for r in (reservations or {}).get("Reservations", [])
            for i in r.get("Instances", [])
        ]
        secrets = ctx.call("secretsmanager", "list_secrets", region=region)
        found["secrets"] += [f"{region}/{s['Name']}" for s in (secrets or {}).get("SecretList", [])]
        functions = ctx.call("lambda", "list_functions", region=region)
        found["functions"] += [
            f"{region}/{f['FunctionName']}" for f in (functions or {}).get("Functions", [])
        ]
    ctx.outcome.loot.update(found)


def _user_of(arn: str) -> str | None:
    """The user name in an IAM user's ARN (None for a role session or nothing)."""
    if ":user/" not in arn:
        return None
    return arn.rsplit("/", 1)[-1]


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
