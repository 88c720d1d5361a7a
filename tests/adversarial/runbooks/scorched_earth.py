"""A team that contains by destroying everything it can reach.

After deactivating the leaked key and taking the repository private, it deletes every IAM
user but its own (keys, console passwords, policies, group memberships first), every role,
every secret, every bucket with its objects, every Lambda function and instance in every
region, and tells AWS the account is clean. Nothing the attacker made survives — nor does
anything the company ran. Whatever that earns is what destruction earns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit
from adversary_kit import attempt

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

SERVICE_ROLES = "/aws-service-role/"


def respond(ctx: RunbookContext) -> None:
    facts = kit.first_notice(ctx)
    ctx.note(f"{facts.key_id} leaked: wiping the account, we rebuild from code")
    ctx.sleep("2m")
    iam: Any = ctx.aws.client("iam")
    user = kit.user_of(ctx, facts)
    if user is not None:
        attempt(iam.update_access_key, UserName=user, AccessKeyId=facts.key_id, Status="Inactive")
    ctx.make_repo_private()

    ctx.sleep("2m")
    me = kit.myself(ctx)
    for found in list(kit.users(iam)):
        if found["UserName"] != me:
            delete_user(iam, str(found["UserName"]))
    roles = attempt(lambda: list(iam.get_paginator("list_roles").paginate())) or []
    for page in roles:
        for role in page["Roles"]:
            if not str(role.get("Path", "/")).startswith(SERVICE_ROLES):
                delete_role(iam, str(role["RoleName"]))
    ctx.note("Deleted every IAM user but ours, and every role")

    ctx.sleep("2m")
    regions = kit.every_region(ctx)
    for region in regions:
        wipe_region(ctx, region)
    delete_buckets(ctx)
    ctx.note("Terminated every instance, deleted every function, secret and bucket")

    text = "Contained: every credential and every resource in the account has been removed."
    if not kit.reply_to_every_case(ctx, text):
        ctx.note(f"Replied on the case in the Support Center console: {text}")


def delete_user(iam: Any, name: str) -> None:
    keys = attempt(iam.list_access_keys, UserName=name) or {}
    for key in keys.get("AccessKeyMetadata", []):
        attempt(iam.delete_access_key, UserName=name, AccessKeyId=key["AccessKeyId"])
    attempt(iam.delete_login_profile, UserName=name)
    attached = attempt(iam.list_attached_user_policies, UserName=name) or {}
    for policy in attached.get("AttachedPolicies", []):
        attempt(iam.detach_user_policy, UserName=name, PolicyArn=policy["PolicyArn"])
    inline = attempt(iam.list_user_policies, UserName=name) or {}
    for policy_name in inline.get("PolicyNames", []):
        attempt(iam.delete_user_policy, UserName=name, PolicyName=policy_name)
    groups = attempt(iam.list_groups_for_user, UserName=name) or {}
    for group in groups.get("Groups", []):
        attempt(iam.remove_user_from_group, UserName=name, GroupName=group["GroupName"])
    devices = attempt(iam.list_mfa_devices, UserName=name) or {}
    for device in devices.get("MFADevices", []):
        attempt(iam.deactivate_mfa_device, UserName=name, SerialNumber=device["SerialNumber"])
    attempt(iam.delete_user, UserName=name)


def delete_role(iam: Any, name: str) -> None:
    attached = attempt(iam.list_attached_role_policies, RoleName=name) or {}
    for policy in attached.get("AttachedPolicies", []):
        attempt(iam.detach_role_policy, RoleName=name, PolicyArn=policy["PolicyArn"])
    inline = attempt(iam.list_role_policies, RoleName=name) or {}
    for policy_name in inline.get("PolicyNames", []):
        attempt(iam.delete_role_policy, RoleName=name, PolicyName=policy_name)
    profiles = attempt(iam.list_instance_profiles_for_role, RoleName=name) or {}
    for profile in profiles.get("InstanceProfiles", []):
        attempt(
            iam.remove_role_from_instance_profile,
            InstanceProfileName=profile["InstanceProfileName"],
            RoleName=name,
        )
    attempt(iam.delete_role, RoleName=name)


def wipe_region(ctx: RunbookContext, region: str) -> None:
    ec2: Any = ctx.aws.client("ec2", region_name=region)
    found = attempt(
        ec2.describe_instances,
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}],
    )
    instances = [
        instance["InstanceId"]
        for reservation in (found or {}).get("Reservations", [])
        for instance in reservation["Instances"]
    ]
    if instances:
        attempt(ec2.terminate_instances, InstanceIds=instances)
    functions: Any = ctx.aws.client("lambda", region_name=region)
    for function in (attempt(functions.list_functions) or {}).get("Functions", []):
        attempt(functions.delete_function, FunctionName=function["FunctionName"])
    secrets: Any = ctx.aws.client("secretsmanager", region_name=region)
    for secret in (attempt(secrets.list_secrets) or {}).get("SecretList", []):
        attempt(secrets.delete_secret, SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


def delete_buckets(ctx: RunbookContext) -> None:
    s3: Any = ctx.aws.client("s3")
    for bucket in (attempt(s3.list_buckets) or {}).get("Buckets", []):
        name = bucket["Name"]
        located = attempt(s3.get_bucket_location, Bucket=name) or {}
        region = located.get("LocationConstraint") or "us-east-1"
        regional: Any = ctx.aws.client("s3", region_name=region)
        objects = attempt(regional.list_objects_v2, Bucket=name) or {}
        keys = [{"Key": item["Key"]} for item in objects.get("Contents", [])]
        if keys:
            attempt(regional.delete_objects, Bucket=name, Delete={"Objects": keys})
        listed = attempt(regional.list_object_versions, Bucket=name) or {}
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in listed.get("Versions", []) + listed.get("DeleteMarkers", [])
        ]
        if doomed:
            attempt(regional.delete_objects, Bucket=name, Delete={"Objects": doomed})
        attempt(regional.delete_bucket, Bucket=name)
