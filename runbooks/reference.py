"""What a well-drilled team does when AWS says a key has leaked.

1. Read the notice: which key, which user, where it leaked.
2. Contain from another principal (the leaked key's own user is quarantined and cannot act):
   deactivate the key — deactivate, not delete, so the investigation keeps its subject —
   and take the repository out of public view, keeping it as evidence.
3. Investigate in CloudTrail: every call the key made, then every call of what it created.
4. Eradicate: the attacker's keys first (so nothing relaunches), then its users, login
   profiles, roles and functions, then its instances — in every region, including the ones
   the company never uses.
5. Recover: rotate every key created before the breach; the production service's key through
   its secret (new key, store it, wait for the service to pick it up, then disable the old).
6. Communicate: reply to AWS's support case with what was done; delete the leaked key.

It learns the facts from the injects, as a team learns them from the email, and uses only
the responder's own credentials.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

PRINCIPALS_OF_THE_EXERCISE = {"incident-responder", "gameday-framework"}


def respond(ctx: Any) -> None:
    notice = ctx.wait_for("email")
    key_id = notice.data["access_key_id"]
    user = notice.data["user_name"]
    ctx.note(f"Incident opened for {key_id} ({user}); incident lead assigned")
    iam = ctx.aws.client("iam")

    # contain
    ctx.sleep("3m")
    iam.update_access_key(UserName=user, AccessKeyId=key_id, Status="Inactive")
    ctx.make_repo_private()
    ctx.note(f"Deactivated {key_id}; repository made private")

    # investigate
    ctx.sleep("4m")
    created = investigate(ctx, key_id)
    ctx.note(f"CloudTrail: the key created {json.dumps(created, sort_keys=True)}")

    # eradicate
    ctx.sleep("5m")
    eradicate(ctx, created)
    sweep_regions(ctx)

    # recover
    ctx.sleep("5m")
    rotate_workload(ctx)
    rotate_old_keys(ctx, leaked=key_id)

    # communicate, then finish the leaked key
    ctx.sleep("3m")
    reply_to_case(ctx, key_id, created)
    iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    ctx.note("Leaked key deleted after the investigation; case answered")


def lookup(ctx: Any, key: str, value: str) -> list[dict[str, Any]]:
    trail = ctx.aws.client("cloudtrail", region_name="us-east-1")
    pages = trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
        StartTime=ctx.time() - timedelta(days=1),
        EndTime=ctx.time(),
    )
    return [event for page in pages for event in page["Events"]]


def investigate(ctx: Any, key_id: str) -> dict[str, list[str]]:
    """Everything the leaked key created, and what those in turn created."""
    created: dict[str, list[str]] = {"users": [], "keys": [], "roles": [], "profiles": []}
    events = lookup(ctx, "AccessKeyId", key_id)
    seen_users: set[str] = set()
    while events:
        more: list[dict[str, Any]] = []
        for event in events:
            detail = json.loads(event["CloudTrailEvent"])
            if detail.get("errorCode"):
                continue
            request = detail.get("requestParameters") or {}
            name = event["EventName"]
            if name == "CreateUser":
                created["users"].append(request["userName"])
            elif name == "CreateAccessKey":
                response = detail.get("responseElements") or {}
                new_key = (response.get("accessKey") or {}).get("accessKeyId")
                if new_key:
                    created["keys"].append(f"{request.get('userName', '')}/{new_key}")
            elif name == "CreateRole":
                created["roles"].append(request["roleName"])
            elif name == "CreateLoginProfile":
                created["profiles"].append(request["userName"])
        for new_user in created["users"]:
            if new_user not in seen_users:
                seen_users.add(new_user)
                more += lookup(ctx, "Username", new_user)
        events = more
    return created


def eradicate(ctx: Any, created: dict[str, list[str]]) -> None:
    iam = ctx.aws.client("iam")
    for entry in created["keys"]:
        user, key = entry.split("/", 1)
        ignore_missing(iam.delete_access_key, UserName=user, AccessKeyId=key)
    for user in created["profiles"]:
        if user not in created["users"]:
            ignore_missing(iam.delete_login_profile, UserName=user)
    for user in created["users"]:
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        for policy in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
            iam.detach_user_policy(UserName=user, PolicyArn=policy["PolicyArn"])
        ignore_missing(iam.delete_login_profile, UserName=user)
        iam.delete_user(UserName=user)
    for role in created["roles"]:
        for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
        iam.delete_role(RoleName=role)


def sweep_regions(ctx: Any) -> None:
    """Every region, used or not: terminate what nobody in the company launched."""
    regions = ctx.aws.client("ec2").describe_regions()["Regions"]
    ours = {region for region in ctx.scenario.account.regions} if ctx.scenario else set()
    for region in sorted(r["RegionName"] for r in regions):
        ec2 = ctx.aws.client("ec2", region_name=region)
        reservations = ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        )["Reservations"]
        rogue = [
            instance["InstanceId"]
            for reservation in reservations
            for instance in reservation["Instances"]
            if region not in ours or instance["LaunchTime"] >= ctx.time() - timedelta(hours=3)
        ]
        if rogue:
            ec2.terminate_instances(InstanceIds=rogue)
            ctx.note(f"Terminated {len(rogue)} rogue instance(s) in {region}")


def rotate_workload(ctx: Any) -> None:
    """New key into the secret, let the service pick it up, then retire the old key."""
    workload = ctx.scenario.workload if ctx.scenario else None
    if workload is None:
        return
    iam = ctx.aws.client("iam")
    secrets = ctx.aws.client("secretsmanager")
    current = json.loads(secrets.get_secret_value(SecretId=workload.secret)["SecretString"])
    fresh = iam.create_access_key(UserName=workload.user)["AccessKey"]
    secrets.put_secret_value(
        SecretId=workload.secret,
        SecretString=json.dumps(
            {
                "aws_access_key_id": fresh["AccessKeyId"],
                "aws_secret_access_key": fresh["SecretAccessKey"],
            }
        ),
    )
    ctx.sleep("2m")  # the service reads its secret on every request
    old = current["aws_access_key_id"]
    iam.update_access_key(UserName=workload.user, AccessKeyId=old, Status="Inactive")
    ctx.sleep("2m")
    iam.delete_access_key(UserName=workload.user, AccessKeyId=old)
    ctx.note(f"Rotated the {workload.name} key through {workload.secret}")


def rotate_old_keys(ctx: Any, leaked: str) -> None:
    """Every active key created before the breach, on every user but the exercise's own."""
    iam = ctx.aws.client("iam")
    breach = ctx.time() - timedelta(seconds=ctx.now())
    workload_user = ctx.scenario.workload.user if ctx.scenario and ctx.scenario.workload else None
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        if name in PRINCIPALS_OF_THE_EXERCISE or name == workload_user:
            continue
        keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        stale = [
            k
            for k in keys
            if k["AccessKeyId"] != leaked and k["Status"] == "Active" and k["CreateDate"] < breach
        ]
        for key in stale:
            for spare in keys:  # an IAM user holds two keys at most: make room first
                if spare["Status"] == "Inactive" and spare["AccessKeyId"] != leaked:
                    iam.delete_access_key(UserName=name, AccessKeyId=spare["AccessKeyId"])
            keys = [k for k in keys if k["Status"] == "Active"]
            iam.create_access_key(UserName=name)
            iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    ctx.note("Rotated every access key created before the breach")


def reply_to_case(ctx: Any, key_id: str, created: dict[str, list[str]]) -> None:
    support = ctx.aws.client("support", region_name="us-east-1")
    cases = support.describe_cases(includeResolvedCases=False)["cases"]
    summary = (
        f"We deactivated and then deleted {key_id}, reviewed its CloudTrail activity, removed "
        f"what it created ({', '.join(sum(created.values(), [])) or 'nothing'}), terminated "
        "unauthorised instances in every region, rotated all keys older than the exposure and "
        "changed the root password. The repository is private."
    )
    for case in cases:
        support.add_communication_to_case(caseId=case["caseId"], communicationBody=summary)


def ignore_missing(call: Any, **params: Any) -> None:
    try:
        call(**params)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchEntity":
            raise
