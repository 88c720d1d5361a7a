"""The Health event, received through an EventBridge rule with an SQS target in moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gameday.exercise.injects import MARKER, MockAws, deliver

from .harness import Harness, LeakedUser, scenario_for, unique


def health_queue(aws: MockAws, pattern: dict[str, Any]) -> str:
    """An SQS queue fed by a rule on the default bus, as a customer would set one up."""
    sqs, events = aws.client("sqs"), aws.client("events")
    queue_url = sqs.create_queue(QueueName=unique("health"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    rule = unique("exposed-keys")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


def receive(aws: MockAws, queue_url: str) -> list[dict[str, Any]]:
    messages = (
        aws.client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        .get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in messages]


def test_exposed_key_event_reaches_a_rule_in_its_real_shape(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    queue_url = health_queue(
        harness.aws,
        {"source": ["aws.health"], "detail-type": ["AWS Health Event"],
         "detail": {"eventTypeCode": ["AWS_RISK_CREDENTIALS_EXPOSED"]}},
    )  # fmt: skip
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "case", "type": "support-case", "at": "2m"},
         {"id": "health", "type": "health-event", "at": "2m"}],
    )  # fmt: skip
    ctx = harness.context(scenario, leaked_user.access_key_id)

    delivered = deliver(scenario.timeline[1], ctx)

    (event,) = receive(harness.aws, queue_url)
    assert event["version"] == "0"
    assert event["source"] == "aws.health"
    assert event["detail-type"] == "AWS Health Event"
    assert event["region"] == "us-east-1"
    assert event["time"] == "2026-03-14T09:32:00Z"
    assert event["resources"] == []
    detail = event["detail"]
    code = "AWS_RISK_CREDENTIALS_EXPOSED"
    assert detail["service"] == "RISK"
    assert detail["eventTypeCode"] == code
    assert detail["eventTypeCategory"] == "issue"
    assert detail["eventScopeCode"] == "ACCOUNT_SPECIFIC"
    assert detail["eventArn"].startswith(f"arn:aws:health:us-east-1::event/RISK/{code}/{code}_")
    assert detail["startTime"] == "Sat, 14 Mar 2026 09:32:00 GMT"
    assert detail["statusCode"] == "open"
    assert detail["affectedAccount"] == ctx.facts.account_id
    assert detail["affectedEntities"] == [{"entityValue": leaked_user.access_key_id}]
    (description,) = detail["eventDescription"]
    assert description["language"] == "en_US"
    text = description["latestDescription"]
    assert text.startswith(f"[{MARKER}]")
    assert leaked_user.access_key_id in text
    assert ctx.facts.public_url in text
    assert ctx.facts.case_id in text
    # The marker lives under detail, never as an extra top-level key of the envelope.
    assert detail["gameday"] == {
        "simulation": True, "marker": MARKER, "scenario": "injects-test", "inject": "health",
    }  # fmt: skip
    assert set(event) <= {"version", "id", "detail-type", "source", "account", "time", "region",
                          "resources", "detail"}  # fmt: skip

    # A runbook's copy is the event the rule saw. moto's SQS delivery leaves out `account`,
    # which AWS includes; ours carries it.
    assert delivered.data["access_key_id"] == leaked_user.access_key_id
    assert delivered.data["event"]["account"] == ctx.facts.account_id
    assert {k: v for k, v in delivered.data["event"].items() if k != "account"} == event
    (journaled,) = harness.events()
    assert journaled["type"] == "health-event"
    assert journaled["status"] == "put"
    assert journaled["event_id"] == event["id"]
    assert journaled["event_arn"] == detail["eventArn"]


@pytest.mark.parametrize(
    "code",
    ["AWS_RISK_CREDENTIALS_COMPROMISED", "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
     "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED", "AWS_RISK_IAM_QUARANTINE"],
)  # fmt: skip
def test_related_risk_codes_have_their_own_description(
    harness: Harness, leaked_user: LeakedUser, code: str
) -> None:
    queue_url = health_queue(harness.aws, {"source": ["aws.health"],
                                           "detail": {"eventTypeCode": [code]}})  # fmt: skip
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "health", "type": "health-event", "at": "2m", "event_type_code": code}],
    )
    delivered = deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))

    (event,) = receive(harness.aws, queue_url)
    assert event["detail"]["eventTypeCode"] == code
    assert f"/RISK/{code}/" in event["detail"]["eventArn"]
    assert event["detail"]["affectedEntities"][0]["entityValue"] == leaked_user.access_key_id
    assert MARKER in event["detail"]["eventDescription"][0]["latestDescription"]
    assert delivered.body == event["detail"]["eventDescription"][0]["latestDescription"]
