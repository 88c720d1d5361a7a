"""Impact: burning the victim's money on GPU instances in regions nobody watches."""

from __future__ import annotations

from typing import Any

from gameday.exercise.attacker.base import TECHNIQUES, AttackerContext, Resource, Technique
from gameday.scenario.model import Ec2Mining

USER_DATA = "#!/bin/bash\n# SIMULATION — game day exercise: stands for a cryptocurrency miner\n"


def _fake_ami(ctx: AttackerContext) -> str:
    return "ami-" + "".join(ctx.rng.choice("0123456789abcdef") for _ in range(17))


def _launch(ctx: AttackerContext, params: Ec2Mining, region: str, count: int) -> None:
    request: dict[str, Any] = {
        "ImageId": _fake_ami(ctx),
        "InstanceType": params.instance_type,
        "MinCount": count,
        "MaxCount": count,
        "UserData": USER_DATA,
        "ClientToken": "".join(ctx.rng.choice("0123456789abcdef") for _ in range(32)),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "worker"}]}
        ],
    }
    launched = ctx.call("ec2", "run_instances", region=region, **request)
    if launched is None:
        return
    for instance in launched["Instances"]:
        ctx.created(Resource("instance", instance["InstanceId"], region=region))


def _running(ctx: AttackerContext, region: str) -> int | None:
    """How many of the attacker's instances still run in `region` (None: cannot tell)."""
    mine = [r.id for r in ctx.resources if r.kind == "instance" and r.region == region]
    if not mine:
        return 0
    found = ctx.call(
        "ec2",
        "describe_instances",
        region=region,
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}],
    )
    if found is None:
        return None
    alive = {i["InstanceId"] for r in found.get("Reservations", []) for i in r.get("Instances", [])}
    return len(alive & set(mine))


def _mine(ctx: AttackerContext, params: Ec2Mining) -> None:
    ctx.call("ec2", "describe_regions")
    for region in params.regions:
        running = _running(ctx, region)
        if running is None:
            continue
        if running < params.count:
            _launch(ctx, params, region, params.count - running)


TECHNIQUES.register(
    Technique(
        id="aws.impact.ec2-mining",
        tactic="impact",
        title="Mine cryptocurrency on GPU instances",
        description="Launches large GPU instances in regions the victim does not use, and "
        "relaunches any that are terminated for as long as it holds working credentials — "
        "including keys it minted for itself.",
        detection="RunInstances of p3/g5-class types in unused regions; a cost anomaly; "
        "the instance count climbing back after a clean-up.",
        detonate=_mine,
    )
)
