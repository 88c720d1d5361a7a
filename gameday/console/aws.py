"""The console's side of the mock account: the team's profile, its clients, and the calls.

Every function here is one or a few AWS API calls, made with boto3 as the team's IAM user
(the access key in the team's `aws/credentials`) against the endpoint of its `aws/config`.
Nothing reaches moto or the gateway any other way, so what the console does is journaled,
shown in CloudTrail and scored exactly as the same call from the AWS CLI.
"""

from __future__ import annotations

import configparser
import json
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from gameday.errors import UserError
from gameday.world.account import PROFILE
from gameday.world.clients import bare_botocore_session

# moto knows every region; a sweep asks a few at a time, as the console's Global View does
_SWEEP_WORKERS = 6


@dataclass(frozen=True)
class TeamProfile:
    """The team's AWS profile, as the handout gives it: key, secret, region, endpoint."""

    access_key_id: str
    secret_access_key: str
    region: str
    endpoint_url: str

    @classmethod
    def read(cls, aws_folder: Path) -> TeamProfile:
        config, credentials = configparser.ConfigParser(), configparser.ConfigParser()
        config.read(aws_folder / "config", encoding="utf-8")
        credentials.read(aws_folder / "credentials", encoding="utf-8")
        section = f"profile {PROFILE}"
        if not config.has_section(section) or not credentials.has_section(PROFILE):
            raise UserError(f"{aws_folder}: no `{PROFILE}` profile — is this a run's aws/ folder?")
        return cls(
            access_key_id=credentials[PROFILE]["aws_access_key_id"],
            secret_access_key=credentials[PROFILE]["aws_secret_access_key"],
            region=config[section].get("region", "us-east-1"),
            endpoint_url=config[section]["endpoint_url"],
        )


class TeamAccount:
    """boto3 clients signed with the team's key, one per service and region, reused."""

    def __init__(self, profile: TeamProfile) -> None:
        self.profile = profile
        self._session = boto3.Session(
            aws_access_key_id=profile.access_key_id,
            aws_secret_access_key=profile.secret_access_key,
            region_name=profile.region,
            botocore_session=bare_botocore_session(),
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.profile.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._session.client(
                    service, region_name=key[1], endpoint_url=self.profile.endpoint_url
                )
            return self._clients[key]

    # ── IAM ──────────────────────────────────────────────────────────────────────────────

    def whoami(self) -> dict[str, Any]:
        identity: dict[str, Any] = self.client("sts").get_caller_identity()
        return identity

    def users(self) -> list[dict[str, Any]]:
        iam = self.client("iam")
        users: list[dict[str, Any]] = []
        for page in iam.get_paginator("list_users").paginate():
            users.extend(page["Users"])
        for user in users:
            keys = iam.list_access_keys(UserName=user["UserName"])["AccessKeyMetadata"]
            user["ActiveKeys"] = sum(1 for key in keys if key["Status"] == "Active")
            user["Keys"] = len(keys)
        return sorted(users, key=lambda user: str(user["UserName"]))

    def user(self, name: str) -> dict[str, Any]:
        iam = self.client("iam")
        user: dict[str, Any] = iam.get_user(UserName=name)["User"]
        keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        for key in keys:
            used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
            key["LastUsed"] = used.get("AccessKeyLastUsed", {})
        user["AccessKeys"] = sorted(keys, key=lambda key: key["CreateDate"])
        user["AttachedPolicies"] = iam.list_attached_user_policies(UserName=name)[
            "AttachedPolicies"
        ]
        user["InlinePolicies"] = [
            {
                "PolicyName": policy,
                "Document": _document(
                    iam.get_user_policy(UserName=name, PolicyName=policy)["PolicyDocument"]
                ),
            }
            for policy in iam.list_user_policies(UserName=name)["PolicyNames"]
        ]
        user["Groups"] = [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]]
        try:
            user["LoginProfile"] = iam.get_login_profile(UserName=name)["LoginProfile"]
        except iam.exceptions.NoSuchEntityException:
            user["LoginProfile"] = None
        user["MFADevices"] = iam.list_mfa_devices(UserName=name)["MFADevices"]
        return user

    def set_key_status(self, user: str, key_id: str, status: str) -> None:
        self.client("iam").update_access_key(UserName=user, AccessKeyId=key_id, Status=status)

    def delete_key(self, user: str, key_id: str) -> None:
        self.client("iam").delete_access_key(UserName=user, AccessKeyId=key_id)

    def create_key(self, user: str) -> dict[str, Any]:
        key: dict[str, Any] = self.client("iam").create_access_key(UserName=user)["AccessKey"]
        return key

    def detach_user_policy(self, user: str, arn: str) -> None:
        self.client("iam").detach_user_policy(UserName=user, PolicyArn=arn)

    def delete_user_policy(self, user: str, name: str) -> None:
        self.client("iam").delete_user_policy(UserName=user, PolicyName=name)

    def delete_login_profile(self, user: str) -> None:
        self.client("iam").delete_login_profile(UserName=user)

    def roles(self) -> list[dict[str, Any]]:
        iam = self.client("iam")
        roles: list[dict[str, Any]] = []
        for page in iam.get_paginator("list_roles").paginate():
            roles.extend(page["Roles"])
        for role in roles:
            role["Trust"] = _document(role.get("AssumeRolePolicyDocument", {}))
            role["Trusted"] = _principals(role.get("AssumeRolePolicyDocument", {}))
        return sorted(roles, key=lambda role: str(role["RoleName"]))

    def role(self, name: str) -> dict[str, Any]:
        iam = self.client("iam")
        role: dict[str, Any] = iam.get_role(RoleName=name)["Role"]
        role["Trust"] = _document(role.get("AssumeRolePolicyDocument", {}))
        role["AttachedPolicies"] = iam.list_attached_role_policies(RoleName=name)[
            "AttachedPolicies"
        ]
        role["InlinePolicies"] = iam.list_role_policies(RoleName=name)["PolicyNames"]
        return role

    # ── EC2 ──────────────────────────────────────────────────────────────────────────────

    def regions(self) -> list[str]:
        found = self.client("ec2").describe_regions(AllRegions=True)["Regions"]
        return sorted(str(region["RegionName"]) for region in found)

    def instances(self, regions: Iterable[str]) -> list[dict[str, Any]]:
        """Every instance not yet terminated long ago, in `regions`, with its region."""

        def in_region(region: str) -> list[dict[str, Any]]:
            ec2 = self.client("ec2", region)
            found = []
            for page in ec2.get_paginator("describe_instances").paginate():
                for reservation in page["Reservations"]:
                    for instance in reservation["Instances"]:
                        instance["Region"] = region
                        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                        instance["Name"] = tags.get("Name", "")
                        found.append(instance)
            return found

        wanted = list(regions)
        with ThreadPoolExecutor(min(_SWEEP_WORKERS, max(1, len(wanted)))) as pool:
            every = [i for found in pool.map(in_region, wanted) for i in found]
        return sorted(every, key=lambda i: (str(i["Region"]), str(i["InstanceId"])))

    def terminate(self, region: str, instance_ids: list[str]) -> None:
        self.client("ec2", region).terminate_instances(InstanceIds=instance_ids)

    # ── CloudTrail ───────────────────────────────────────────────────────────────────────

    def events(
        self,
        attribute: str | None,
        value: str | None,
        start: datetime | None,
        end: datetime | None,
        *,
        region: str | None = None,
        limit: int = 200,
    ) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"MaxResults": 50}
        if attribute and value:
            request["LookupAttributes"] = [{"AttributeKey": attribute, "AttributeValue": value}]
        if start is not None:
            request["StartTime"] = start
        if end is not None:
            request["EndTime"] = end
        trail = self.client("cloudtrail", region)
        events: list[dict[str, Any]] = []
        while len(events) < limit:
            page = trail.lookup_events(**request)
            events.extend(page.get("Events", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        for event in events[:limit]:
            detail = json.loads(event.get("CloudTrailEvent") or "{}")
            event["Detail"] = json.dumps(detail, indent=2, sort_keys=True)
            event["AccessKey"] = event.get("AccessKeyId") or detail.get("userIdentity", {}).get(
                "accessKeyId", ""
            )
            event["Region"] = detail.get("awsRegion", "")
            event["ErrorCode"] = detail.get("errorCode", "")
        return events[:limit]

    # ── Support ──────────────────────────────────────────────────────────────────────────

    def cases(self) -> list[dict[str, Any]]:
        found = self.client("support", "us-east-1").describe_cases(includeResolvedCases=True)
        cases: list[dict[str, Any]] = found.get("cases", [])
        return cases

    def case(self, case_id: str) -> dict[str, Any]:
        support = self.client("support", "us-east-1")
        found = support.describe_cases(caseIdList=[case_id], includeResolvedCases=True)
        if not found.get("cases"):
            raise UserError(f"no support case {case_id}")
        case: dict[str, Any] = found["cases"][0]
        communications = support.describe_communications(caseId=case_id)["communications"]
        case["Communications"] = sorted(communications, key=lambda c: str(c.get("timeCreated")))
        return case

    def reply(self, case_id: str, body: str) -> None:
        self.client("support", "us-east-1").add_communication_to_case(
            caseId=case_id, communicationBody=body
        )

    # ── Secrets Manager ──────────────────────────────────────────────────────────────────

    def secrets(self, region: str) -> list[dict[str, Any]]:
        manager = self.client("secretsmanager", region)
        secrets: list[dict[str, Any]] = []
        for page in manager.get_paginator("list_secrets").paginate():
            secrets.extend(page["SecretList"])
        return sorted(secrets, key=lambda secret: str(secret["Name"]))

    def secret(self, region: str, name: str, *, reveal: bool) -> dict[str, Any]:
        manager = self.client("secretsmanager", region)
        secret: dict[str, Any] = manager.describe_secret(SecretId=name)
        secret["Value"] = (
            manager.get_secret_value(SecretId=name).get("SecretString") if reveal else None
        )
        return secret

    def put_secret(self, region: str, name: str, value: str) -> str:
        done = self.client("secretsmanager", region).put_secret_value(
            SecretId=name, SecretString=value
        )
        return str(done.get("VersionId", ""))


def _document(document: Any) -> str:
    """A policy document, pretty (IAM returns it decoded, or URL-encoded JSON text)."""
    if isinstance(document, str):
        from urllib.parse import unquote

        text = document
        try:
            document = json.loads(unquote(text))
        except ValueError:
            return text
    return json.dumps(document, indent=2, sort_keys=True)


def _principals(document: Any) -> str:
    """Who a trust policy lets assume the role, in a few words."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return ""
    names: list[str] = []
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {}) if isinstance(statement, dict) else {}
        if isinstance(principal, str):
            names.append(principal)
            continue
        for value in principal.values():
            names.extend(value if isinstance(value, list) else [value])
    return ", ".join(str(name) for name in names)
