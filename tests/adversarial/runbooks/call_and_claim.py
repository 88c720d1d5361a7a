"""The box-ticker: calls every API a check might look for, acts on no answer, claims the rest.

What it does after the first notice:
1. "Investigates": CloudTrail lookups that cannot find the attacker — a made-up event name in
   a region nobody uses and in us-east-1, and the leaked key over a window a month before
   the leak.
2. "Sweeps every region": DescribeInstances, and Lambda's ListFunctions, in every region, in
   a loop that throws the answers away.
3. "Replies to AWS" at once, with one word (in the console where the plan has no Support API).
4. Reads IAM (users, keys, their last use, policies, console passwords, roles), Secrets
   Manager and CloudTrail's trails, and changes nothing it finds.
5. Notes claims for everything a person would have to confirm: incident lead, root password,
   rotation, eradication.
It changes nothing in the account. `call_and_deactivate.py` is the same team with one real
act, the leaked key's deactivation.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit
from adversary_kit import attempt

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

MADE_UP_EVENT = "DescribeEverything"
CLAIMS = (
    "Reviewed CloudTrail: nothing suspicious. Swept every region. Rotated every key, removed "
    "the attacker's resources, changed the root password and confirmed root MFA, purged the "
    "key from the repository's history; alerting on trail changes is in place."
)


def respond(ctx: RunbookContext) -> None:
    tick_every_box(ctx)
    ctx.note(CLAIMS)


def tick_every_box(ctx: RunbookContext) -> kit.Facts:
    """Every call a check might count, a few minutes after the first notice; its facts."""
    facts = kit.first_notice(ctx)
    ctx.note(f"Incident opened for {facts.key_id}; incident lead named, stakeholders paged")
    ctx.sleep("2m")
    regions = kit.every_region(ctx)
    tick_cloudtrail(ctx, facts.key_id, regions)
    tick_regions(ctx, regions)
    if not kit.reply_to_every_case(ctx, "Done."):
        ctx.note("Replied on the case in the Support Center console: Done.")
    tick_iam(ctx, facts.key_id)
    tick_secrets_and_trails(ctx)
    return facts


def tick_cloudtrail(ctx: RunbookContext, key_id: str, regions: list[str]) -> None:
    ours = set(kit.company_regions(ctx)) | {"us-east-1"}
    unused = [region for region in regions if region not in ours][-1:] or ["us-east-1"]
    made_up = [{"AttributeKey": "EventName", "AttributeValue": MADE_UP_EVENT}]
    for region in [*unused, "us-east-1"]:
        trail = ctx.aws.client("cloudtrail", region_name=region)
        attempt(trail.lookup_events, LookupAttributes=made_up, MaxResults=1)
    long_ago = ctx.time() - timedelta(days=30)
    attempt(
        ctx.aws.client("cloudtrail", region_name="us-east-1").lookup_events,
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}],
        StartTime=long_ago,
        EndTime=long_ago + timedelta(days=1),
        MaxResults=1,
    )


def tick_regions(ctx: RunbookContext, regions: list[str]) -> None:
    for region in regions:
        attempt(ctx.aws.client("ec2", region_name=region).describe_instances)
        attempt(ctx.aws.client("lambda", region_name=region).list_functions)


def tick_iam(ctx: RunbookContext, key_id: str) -> None:
    iam: Any = ctx.aws.client("iam")
    attempt(iam.get_access_key_last_used, AccessKeyId=key_id)
    for user in kit.users(iam):
        name = user["UserName"]
        keys = attempt(iam.list_access_keys, UserName=name)
        for key in (keys or {}).get("AccessKeyMetadata", []):
            attempt(iam.get_access_key_last_used, AccessKeyId=key["AccessKeyId"])
        attempt(iam.list_attached_user_policies, UserName=name)
        attempt(iam.list_user_policies, UserName=name)
        attempt(iam.get_login_profile, UserName=name)
    attempt(iam.list_roles)
    attempt(iam.list_policies, Scope="Local")


def tick_secrets_and_trails(ctx: RunbookContext) -> None:
    for region in kit.company_regions(ctx):
        attempt(ctx.aws.client("secretsmanager", region_name=region).list_secrets)
        trails: Any = ctx.aws.client("cloudtrail", region_name=region)
        found = attempt(trails.describe_trails, includeShadowTrails=True)
        for trail in (found or {}).get("trailList", []):
            attempt(trails.get_trail_status, Name=trail["TrailARN"])
