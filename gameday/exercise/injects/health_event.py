"""The AWS Health event, on the account's default EventBridge bus (FACTS §1.7).

AWS raises `AWS_RISK_CREDENTIALS_EXPOSED` (or a related risk code) and EventBridge delivers
it to the account's default bus in us-east-1, where a customer's rule can start automation
(AWS's own sample deletes the key and mails security). The inject builds the event in its
real shape and puts it on the mock's bus, so a rule with an SQS target receives it.

The simulation marker cannot be an extra top-level key (EventBridge events have a fixed
envelope), so it goes in the description text and in a `gameday` field under `detail`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from gameday.exercise.injects.base import Channel, Delivered, Draft, InjectContext, Outcome
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import (
    MARKER,
    Scene,
    marked_subject,
    marked_text,
    template_base,
)
from gameday.scenario.model import HealthEventInject

EVENT_FOLDER = "events"
SOURCE = "aws.health"
DETAIL_TYPE = "AWS Health Event"
REGION = "us-east-1"
SERVICE = "RISK"
_EVENT_IDS = uuid.UUID("0b6f2c55-8f7e-4a8e-9d3c-2f6b8e1d4a70")


def default_template(code: str) -> str:
    """`AWS_RISK_CREDENTIALS_EXPOSED` → `events/aws-risk-credentials-exposed`."""
    return f"{EVENT_FOLDER}/{code.lower().replace('_', '-')}"


def http_date(scene: Scene) -> str:
    """Health's own time format inside `detail`: `Thu, 01 Jan 2026 12:05:00 GMT`."""
    return scene.facts.at(scene.t).strftime("%a, %d %b %Y %H:%M:%S GMT")


def render(inject: HealthEventInject, scene: Scene) -> Draft[dict[str, Any]]:
    facts = scene.facts
    code = inject.event_type_code
    template = template_base(inject.template, EVENT_FOLDER, default_template(code))
    variables = scene.variables(event_type_code=code)
    rendered = scene.renderer.render(f"{template}.txt.j2", variables)
    description = marked_text(rendered.text.strip())
    identity = f"{facts.scenario_id}/{facts.seed}/{facts.account_id}/{inject.id}"
    suffix = uuid.uuid5(_EVENT_IDS, identity)
    started = http_date(scene)
    detail: dict[str, Any] = {
        "eventArn": f"arn:aws:health:{REGION}::event/{SERVICE}/{code}/{code}_{suffix}",
        "service": SERVICE,
        "eventScopeCode": "ACCOUNT_SPECIFIC",
        "communicationId": f"{suffix.hex}-1",
        "eventTypeCode": code,
        "eventTypeCategory": "issue",
        "startTime": started,
        "lastUpdatedTime": started,
        "statusCode": "open",
        "eventRegion": REGION,
        "eventDescription": [{"language": "en_US", "latestDescription": description}],
        "affectedEntities": [{"entityValue": facts.access_key_id}],
        "affectedAccount": facts.account_id,
        "gameday": {
            "simulation": True,
            "marker": MARKER,
            "scenario": facts.scenario_id,
            "inject": inject.id,
        },
    }
    moment = facts.at(scene.t)
    event: dict[str, Any] = {
        "version": "0",
        "id": str(uuid.uuid5(_EVENT_IDS, identity + "/envelope")),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": facts.account_id,
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }
    subject = rendered.export("subject") or f"AWS Health Event: {code}"
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=marked_subject(subject),
        body=description,
        data={
            "account_id": facts.account_id,
            "access_key_id": facts.access_key_id,
            "event_type_code": code,
            "event_arn": detail["eventArn"],
            "event": event,
        },
    )
    entry = {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [],
        "Time": moment,
        "EventBusName": "default",
    }
    return Draft(delivered, entry)


def send(inject: HealthEventInject, draft: Draft[dict[str, Any]], ctx: InjectContext) -> Outcome:
    from botocore.exceptions import ClientError  # type: ignore[import-untyped, unused-ignore]

    event = dict(draft.delivered.data["event"])
    fields: dict[str, Any] = {
        "event_type_code": inject.event_type_code,
        "event_arn": draft.delivered.data["event_arn"],
        "bus": "default",
        "region": REGION,
    }
    try:
        response = ctx.aws.client("events", region=REGION).put_events(Entries=[draft.payload])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        ctx.console(f"Health event '{inject.id}' not delivered: {code} — {error}")
        return Outcome({**fields, "status": "failed", "error_code": code, "error": str(error)})
    entry = response["Entries"][0]
    if "EventId" not in entry:
        error_text = f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
        ctx.console(f"Health event '{inject.id}' refused by EventBridge: {error_text}")
        return Outcome({**fields, "status": "failed", "error_code": entry.get("ErrorCode"),
                        "error": error_text})  # fmt: skip
    # EventBridge gives the event its id; the copy a runbook gets must match what rules see.
    event["id"] = entry["EventId"]
    ctx.console(f"AWS Health raised {inject.event_type_code} for key {ctx.facts.access_key_id}")
    return Outcome({**fields, "status": "put", "event_id": entry["EventId"]}, {"event": event})


CHANNEL = REGISTRY.register(
    Channel(
        type="health-event",
        model=HealthEventInject,
        title="AWS Health event",
        summary="AWS Health raises AWS_RISK_CREDENTIALS_EXPOSED (or another risk code) on the "
        "account's default EventBridge bus in us-east-1, where rules and automation pick it up",
        reveals=("account_id", "access_key_id", "event_type_code", "event_arn", "event"),
        template="events/<event type code, lower-case, dashed>",
        render=render,
        send=send,
    )
)
