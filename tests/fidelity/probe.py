"""A responder that only looks: what a team sees of the seed incident, written down.

It waits for AWS's email, lets the attacker work for a while, then reads what a responder
can read — the case through the Support API, the Health event, the leaked user's policies
and CloudTrail's event history — and writes it as JSON to `$GAMEDAY_FIDELITY_OUT` for
tests/test_fidelity.py. It changes nothing in the account.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from gameday.world.clients import MockSession


def _lookup(cloudtrail: Any, start: Any, end: Any, **extra: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in cloudtrail.get_paginator("lookup_events").paginate(
        StartTime=start, EndTime=end, **extra
    ):
        for event in page["Events"]:
            events.append(
                {
                    "EventName": event["EventName"],
                    "EventSource": event.get("EventSource"),
                    "Username": event.get("Username"),
                    "AccessKeyId": event.get("AccessKeyId"),
                    "ReadOnly": event.get("ReadOnly"),
                    "CloudTrailEvent": json.loads(event["CloudTrailEvent"]),
                }
            )
    return events


def _with_the_leaked_key(ctx: Any, key_id: str) -> dict[str, str]:
    """What the leaked key itself may still do under the quarantine, as anyone holding it
    (the secret read from the responders' clone, where the public commit put it)."""
    text = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in Path(ctx.repo).rglob("*")
        if path.is_file() and ".git" not in path.parts
    )
    found = re.search(r"AWS_SECRET_ACCESS_KEY=['\"]?([A-Za-z0-9/+]{40})", text)
    assert found, "the leaked secret is not in the clone"
    session = MockSession(
        ctx.aws.endpoint_url,
        {},
        now=ctx.time,
        aws_access_key_id=key_id,
        aws_secret_access_key=found.group(1),
        region_name="us-east-1",
    )
    iam, sts = session.client("iam"), session.client("sts")
    attempts = {
        "sts:GetCallerIdentity": lambda: sts.get_caller_identity(),
        "iam:ListUsers": lambda: iam.list_users(),
        "iam:CreateUser": lambda: iam.create_user(UserName="probe-should-not-exist"),
        "iam:UpdateAccessKey": lambda: iam.update_access_key(AccessKeyId=key_id, Status="Inactive"),
    }
    outcome: dict[str, str] = {}
    for action, attempt in attempts.items():
        try:
            attempt()
            outcome[action] = "ok"
        except ClientError as error:
            outcome[action] = str(error.response["Error"]["Code"])
    return outcome


def respond(ctx: Any) -> None:
    email = ctx.wait_for("email")
    health = ctx.wait_for("health-event")
    ctx.sleep("20m")  # the attacker has had its time: discovery, persistence, mining
    user = email.data["user_name"]
    iam = ctx.aws.client("iam")
    support = ctx.aws.client("support", region_name="us-east-1")
    cloudtrail = ctx.aws.client("cloudtrail", region_name="us-east-1")
    start, end = ctx.time() - timedelta(hours=2), ctx.time()
    seen = {
        "email": {"subject": email.subject, "body": email.body, "data": email.data},
        "health": {"subject": health.subject, "data": health.data},
        "attached": iam.list_attached_user_policies(UserName=user)["AttachedPolicies"],
        "cases": support.describe_cases(includeCommunications=True)["cases"],
        "lookup": _lookup(cloudtrail, start, end),
        "lookup_read_only": _lookup(
            cloudtrail,
            start,
            end,
            LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}],
        ),
        "lookup_writes": _lookup(
            cloudtrail,
            start,
            end,
            LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        ),
    }
    seen["leaked_key_may"] = _with_the_leaked_key(ctx, email.data["access_key_id"])
    with open(os.environ["GAMEDAY_FIDELITY_OUT"], "w", encoding="utf-8") as out:
        json.dump(seen, out, default=str)
