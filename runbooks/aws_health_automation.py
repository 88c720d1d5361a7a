"""AWS's published automation for AWS_RISK_CREDENTIALS_EXPOSED, as a runbook.

The aws-health-tools sample wires an EventBridge rule on the Health event to a Step Functions
flow of three steps; this runbook does the same three, in the same order, and nothing else:

1. Delete the exposed key pair: find the key's user with `iam:GetAccessKeyLastUsed`, then
   `iam:DeleteAccessKey`.
2. Look up the user's CloudTrail events of the last 24 hours (`cloudtrail:LookupEvents`,
   LookupAttributes Username, MaxResults 50) and summarise the most frequent event names and
   resource names.
3. Notify security — here a journaled note whose first line is the notification's subject,
   "Security Alert: Exposed IAM Key For User U On Account A".

Run against a scenario it shows what such automation leaves to people: it contains the key in
seconds, but it investigates nothing beyond one user's last 50 events, removes nothing the
attacker created, rotates nothing, and deletes a production service's key as readily as a
developer's. Every scenario of the library raises the Health event, as AWS does; if one never
arrives the runbook says so and stops, as the real rule would simply never fire.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

EVENT_TYPE_CODE = "AWS_RISK_CREDENTIALS_EXPOSED"
LOOKBACK = timedelta(hours=24)
MAX_RESULTS = 50
TOP = 10  # how many event names and resources the summary lists
WAIT_FOR_EVENT = "6h"  # longer than any exercise: the rule simply never fires


def respond(ctx: RunbookContext) -> None:
    while True:
        try:
            delivered = ctx.wait_for("health-event", timeout=WAIT_FOR_EVENT)
        except TimeoutError:
            ctx.note(f"No {EVENT_TYPE_CODE} Health event arrived: the automation never ran")
            return
        event = delivered.data["event"]
        if event.get("detail", {}).get("eventTypeCode") == EVENT_TYPE_CODE:
            break  # the EventBridge rule matches this code only

    account = str(event.get("account") or delivered.data.get("account_id", ""))
    for entity in event["detail"].get("affectedEntities", []):
        key_id = str(entity["entityValue"])
        user = delete_exposed_key_pair(ctx, key_id)
        if user is None:
            continue
        summary = lookup_cloudtrail_events(ctx, user)
        notify_security(ctx, account, user, key_id, summary)


def delete_exposed_key_pair(ctx: RunbookContext, key_id: str) -> str | None:
    """The key's user, found through GetAccessKeyLastUsed; the key is deleted."""
    iam = ctx.aws.client("iam")
    try:
        user = str(iam.get_access_key_last_used(AccessKeyId=key_id)["UserName"])
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    except ClientError as error:
        ctx.note(f"Could not delete {key_id}: {error.response['Error']['Code']}")
        return None
    return user


def lookup_cloudtrail_events(ctx: RunbookContext, user: str) -> str:
    """The user's last day of events, summarised: top event names and resource names."""
    trail = ctx.aws.client("cloudtrail", region_name="us-east-1")
    end = ctx.time()
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": user}],
        StartTime=end - LOOKBACK,
        EndTime=end,
        MaxResults=MAX_RESULTS,
    )["Events"]
    names = Counter(str(event["EventName"]) for event in events)
    resources: Counter[str] = Counter(
        str(resource["ResourceName"])
        for event in events
        for resource in event.get("Resources", [])
        if resource.get("ResourceName")
    )
    return "\n".join(
        [
            f"Events of {user} in the last 24 hours (at most {MAX_RESULTS}): {len(events)}",
            "Event names: " + _top(names),
            "Resources: " + _top(resources),
        ]
    )


def notify_security(
    ctx: RunbookContext, account: str, user: str, key_id: str, summary: str
) -> None:
    subject = f"Security Alert: Exposed IAM Key For User {user} On Account {account}"
    ctx.note(f"{subject}\nThe exposed access key {key_id} of {user} was deleted.\n{summary}")


def _top(counts: Counter[str]) -> str:
    listed: list[Any] = [f"{name} ({count})" for name, count in counts.most_common(TOP)]
    return ", ".join(listed) or "none"
