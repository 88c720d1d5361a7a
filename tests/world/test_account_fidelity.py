"""The mock account as a responder lives it, pinned to what AWS really answers.

Each test stands for one detail a responder who went through a real leak would notice:
AWS's own quarantine in CloudTrail, read-only events and their filter, the consistency
window after the quarantine, partitions, AccessDenied wording, Support severities. Shapes
are compared with botocore's service models.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from gameday.journal import FixedClock
from gameday.scenario import Scenario
from gameday.world.account import MockAccount
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate, seed_estate
from gameday.world.gateway import READS_STILL_SERVED_S
from gameday.world.quarantine import QUARANTINE_POLICY_ARNS

from .test_gateway import LEAKED_USER, attacker, error_of, quarantine, responder


def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


# ── AccessDenied names the resource AWS names ──────────────────────────────────────────────


def test_a_denied_attach_or_detach_names_the_user_not_the_policy(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    # IAM's message for an attachment names the principal by kind and name
    # ("… iam:AttachRolePolicy on resource: role cluster-RoleHeadNode-…"), not the policy.
    quarantine(mock_account, "V3")
    caller = f"arn:aws:iam::{mock_account.account_id}:user/{LEAKED_USER}"
    iam = attacker(mock_account, estate, "iam")
    for action, operation in [
        ("AttachUserPolicy", iam.attach_user_policy),
        ("DetachUserPolicy", iam.detach_user_policy),
    ]:
        with pytest.raises(ClientError) as denied:
            operation(UserName="j.alvarez", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        assert error_of(denied) == (
            "AccessDenied",
            f"User: {caller} is not authorized to perform: iam:{action} on resource: "
            "user j.alvarez with an explicit deny in an identity-based policy",
            403,
        )


def test_a_json_service_leaves_out_a_resource_the_action_is_not_scoped_to(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    quarantine(mock_account, "V3")
    caller = f"arn:aws:iam::{mock_account.account_id}:user/{LEAKED_USER}"
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "cloudtrail").lookup_events()
    assert error_of(denied) == (
        "AccessDeniedException",
        f"User: {caller} is not authorized to perform: cloudtrail:LookupEvents with an "
        "explicit deny in an identity-based policy",
        400,
    )
    # The query protocol keeps the star: IAM writes "on resource: *" for unscoped actions.
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "sts").get_session_token()
    assert error_of(denied)[1].endswith(
        "sts:GetSessionToken on resource: * with an explicit deny in an identity-based policy"
    )


# ── partitions ─────────────────────────────────────────────────────────────────────────────


def test_describe_regions_lists_the_commercial_partition_only(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    listed = {r["RegionName"] for r in responder(mock_account, "ec2").describe_regions()["Regions"]}
    commercial = set(boto3.session.Session().get_available_regions("ec2", partition_name="aws"))
    assert {"us-east-1", "eu-west-1", "ap-southeast-3", "me-central-1"} <= listed <= commercial
    assert not {r for r in listed if r.startswith(("cn-", "us-gov-", "us-iso"))}
    everything = responder(mock_account, "ec2").describe_regions(AllRegions=True)["Regions"]
    assert {r["RegionName"] for r in everything} <= commercial


@pytest.mark.parametrize("region", ["cn-north-1", "us-gov-west-1"])
def test_a_region_of_another_partition_does_not_know_the_accounts_keys(
    mock_account: MockAccount, estate: SeededEstate, region: str
) -> None:
    # Out of the box botocore sends these to another AWS (amazonaws.com.cn, GovCloud's own
    # endpoints) whose IAM has never seen a commercial key: it refuses the key as unknown,
    # each protocol in its own words.
    plain = boto3.session.Session(
        aws_access_key_id="AKIA" + "Q" * 16, aws_secret_access_key="x" * 40
    ).client("ec2", region_name=region)
    partition = botocore.session.get_session().get_partition_for_region(region)
    assert partition in ("aws-cn", "aws-us-gov")
    assert plain.meta.endpoint_url.endswith(".amazonaws.com.cn" if partition == "aws-cn" else "")
    assert plain.meta.partition == partition

    for service, code, status in [
        ("ec2", "AuthFailure", 401),
        ("sts", "InvalidClientTokenId", 403),
        ("iam", "InvalidClientTokenId", 403),
        ("secretsmanager", "UnrecognizedClientException", 400),
    ]:
        model = _model(service)
        with pytest.raises(ClientError) as refused:
            client = responder(mock_account, service, region)
            {
                "ec2": lambda c: c.describe_instances(),
                "sts": lambda c: c.get_caller_identity(),
                "iam": lambda c: c.list_users(),
                "secretsmanager": lambda c: c.list_secrets(),
            }[service](client)
        assert error_of(refused)[::2] == (code, status), (service, model.protocol)
    # The same key works in its own partition.
    assert responder(mock_account, "ec2", "eu-west-1").describe_instances()["Reservations"]


# ── Support severities ─────────────────────────────────────────────────────────────────────


def test_support_speaks_severity_codes_and_the_apis_names_not_the_consoles(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    model = _model("support")
    code_shape = model.operation_model("DescribeSeverityLevels").output_shape
    assert "severityLevels" in code_shape.members
    support = responder(mock_account, "support")
    case_id = mock_account.support.open_case("Your AWS account is compromised", "Body.", "urgent")

    (case,) = support.describe_cases(caseIdList=[case_id])["cases"]
    assert case["severityCode"] == "urgent"
    levels = support.describe_severity_levels()["severityLevels"]
    assert levels == [
        {"code": "low", "name": "Low"},
        {"code": "normal", "name": "Normal"},
        {"code": "high", "name": "High"},
        {"code": "urgent", "name": "Urgent"},
        {"code": "critical", "name": "Critical"},
    ]
    labels = {"General guidance", "Production system down", "Business-critical system down"}
    assert not labels & {level["name"] for level in levels}
    created = support.create_case(
        subject="Second look", communicationBody="Please check.", severityCode="high"
    )["caseId"]
    assert support.describe_cases(caseIdList=[created])["cases"][0]["severityCode"] == "high"
    with pytest.raises(ClientError):
        support.create_case(
            subject="x", communicationBody="y", severityCode="Production system down"
        )


def test_business_support_offers_no_business_critical_severity(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    mock_account.support.plan = "business"
    support = responder(mock_account, "support")
    codes = [level["code"] for level in support.describe_severity_levels()["severityLevels"]]
    assert codes == ["low", "normal", "high", "urgent"]
    with pytest.raises(ClientError):
        support.create_case(subject="x", communicationBody="y", severityCode="critical")


# ── CloudTrail ─────────────────────────────────────────────────────────────────────────────


def test_cloudtrail_shows_awss_quarantine_as_an_aws_service_call_and_reads_filter_by_readonly(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    run_clock.t = 30.0
    for service, operation in [("sts", "get_caller_identity"), ("iam", "list_users")]:
        getattr(attacker(mock_account, estate, service, "us-east-1"), operation)()
    attacker(mock_account, estate, "ec2", "us-east-1").describe_instances()
    run_clock.t = 67.0
    quarantine(mock_account, "V3")
    trail = responder(mock_account, "cloudtrail", "us-east-1")

    attached = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AttachUserPolicy"}]
    )["Events"]
    (event,) = attached
    assert "Username" not in event and "AccessKeyId" not in event
    record = json.loads(event["CloudTrailEvent"])
    assert record["userIdentity"] == {
        "type": "AWSService",
        "invokedBy": "AWS Internal",
        "accountId": mock_account.account_id,
    }
    assert (record["sourceIPAddress"], record["userAgent"]) == ("AWS Internal", "AWS Internal")
    assert record["requestParameters"] == {
        "userName": LEAKED_USER,
        "policyArn": QUARANTINE_POLICY_ARNS["V3"],
    }
    assert record["readOnly"] is False and record["eventSource"] == "iam.amazonaws.com"

    def names(value: str) -> list[str]:
        return [
            e["EventName"]
            for e in trail.lookup_events(
                LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": value}]
            )["Events"]
        ]

    # The responders' own lookups are read-only management events too.
    assert names("true") == ["LookupEvents", "DescribeInstances", "ListUsers", "GetCallerIdentity"]
    assert names("false") == ["AttachUserPolicy"]
    lookup = _model("cloudtrail").operation_model("LookupEvents")
    event_members = set(lookup.output_shape.members["Events"].member.members)
    assert set(event) <= event_members


# ── the consistency window after the quarantine ────────────────────────────────────────────


def test_after_the_quarantine_reads_may_still_work_for_seconds_and_writes_are_refused_at_once(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    # Field report: quarantine attached 12:34:19, attacker List/Describe calls at 12:34:32
    # still succeeded. Nothing the quarantine denies that changes the account gets through.
    run_clock.t = 67.0
    quarantine(mock_account, "V3", settled=False)
    iam = attacker(mock_account, estate, "iam")
    run_clock.t = 67.5
    for write in (
        lambda: iam.create_user(UserName="svc-backup-admin"),
        lambda: iam.create_access_key(UserName="j.alvarez"),
        lambda: iam.attach_user_policy(
            UserName=LEAKED_USER, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
        ),
        lambda: attacker(mock_account, estate, "sts").get_session_token(),
    ):
        with pytest.raises(ClientError) as denied:
            write()
        assert error_of(denied)[0] == "AccessDenied"
    run_clock.t = 80.0  # 13 s after the attach
    assert iam.list_users()["Users"]
    assert "Buckets" in attacker(mock_account, estate, "s3").list_buckets()
    run_clock.t = 67.0 + READS_STILL_SERVED_S
    with pytest.raises(ClientError) as denied:
        iam.list_users()
    assert error_of(denied)[0] == "AccessDenied"
    assert READS_STILL_SERVED_S <= 30  # "a few seconds", not minutes


def test_a_scenario_may_widen_the_window_for_writes_too(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    run_clock.t = 67.0
    mock_account.gateway.delay_denies(LEAKED_USER, 30.0)  # attacker.consistency_window: 30s
    quarantine(mock_account, "V3", settled=False)
    run_clock.t = 90.0
    attacker(mock_account, estate, "iam").create_user(UserName="svc-backup-admin")
    run_clock.t = 97.0
    with pytest.raises(ClientError):
        attacker(mock_account, estate, "iam").list_users()


# ── temporary credentials ──────────────────────────────────────────────────────────────────


def _revoke_older_sessions(issued_before: str) -> str:
    # As the IAM console's "Revoke active sessions" writes it on the role.
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": ["*"],
                    "Resource": ["*"],
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
                }
            ],
        }
    )


def test_a_role_session_outlives_the_key_until_older_sessions_are_revoked(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    account = mock_account.account_id
    role_arn = f"arn:aws:iam::{account}:role/partner-audit"
    run_clock.t = 110.0
    minted = attacker(mock_account, estate, "sts").assume_role(
        RoleArn=role_arn, RoleSessionName="release-7f3a", DurationSeconds=3600
    )["Credentials"]
    assert minted["AccessKeyId"].startswith("ASIA")
    session = Credential(minted["AccessKeyId"], minted["SecretAccessKey"], minted["SessionToken"])

    def as_session(service: str) -> Any:
        return mock_account.client(service, session, region="us-east-1")

    iam = responder(mock_account, "iam")
    run_clock.t = 300.0
    iam.update_access_key(
        UserName=LEAKED_USER,
        AccessKeyId=estate.leaked.credential.access_key_id,
        Status="Inactive",
    )
    with pytest.raises(ClientError) as dead:
        attacker(mock_account, estate, "s3").list_buckets()
    assert error_of(dead)[0] == "InvalidAccessKeyId"
    assert "Buckets" in as_session("s3").list_buckets()  # the session does not care

    run_clock.t = 540.0
    iam.put_role_policy(
        RoleName="partner-audit",
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=_revoke_older_sessions("2026-01-01T12:09:00.000Z"),
    )
    with pytest.raises(ClientError) as revoked:
        as_session("iam").list_users()
    assert error_of(revoked) == (
        "AccessDenied",
        f"User: arn:aws:sts::{account}:assumed-role/partner-audit/release-7f3a is not "
        f"authorized to perform: iam:ListUsers on resource: arn:aws:iam::{account}:user/ "
        "with an explicit deny in an identity-based policy",
        403,
    )
    # A session issued after the revocation works; long-term keys are not sessions.
    run_clock.t = 600.0
    fresh = responder(mock_account, "sts").assume_role(
        RoleArn=role_arn, RoleSessionName="pipeline"
    )["Credentials"]
    later = Credential(fresh["AccessKeyId"], fresh["SecretAccessKey"], fresh["SessionToken"])
    assert mock_account.client("iam", later).list_users()["Users"]
    assert iam.list_users()["Users"]

    # Deleting the role ends every session of it.
    iam.delete_role_policy(RoleName="partner-audit", PolicyName="AWSRevokeOlderSessions")
    for attached in iam.list_attached_role_policies(RoleName="partner-audit")["AttachedPolicies"]:
        iam.detach_role_policy(RoleName="partner-audit", PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName="partner-audit")
    with pytest.raises(ClientError) as gone:
        mock_account.client("iam", later).list_users()
    assert error_of(gone)[0] == "InvalidClientTokenId"


def test_cloudtrail_records_the_session_handed_out_without_its_secret_parts(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    run_clock.t = 110.0
    minted = attacker(mock_account, estate, "sts", "us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{mock_account.account_id}:role/partner-audit",
        RoleSessionName="release-7f3a",
    )["Credentials"]
    (event,) = responder(mock_account, "cloudtrail", "us-east-1").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}]
    )["Events"]
    record = json.loads(event["CloudTrailEvent"])
    assert record["responseElements"]["credentials"]["accessKeyId"] == minted["AccessKeyId"]
    assert minted["SessionToken"] not in event["CloudTrailEvent"]
    assert minted["SecretAccessKey"] not in event["CloudTrailEvent"]
    assert record["requestParameters"]["roleArn"].endswith(":role/partner-audit")


def test_get_session_token_mints_a_real_session_of_the_user_that_outlives_its_key(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    # moto alone answers with AWS's documentation example key, which nothing accepts.
    run_clock.t = 40.0
    sts = attacker(mock_account, estate, "sts", "us-east-1")
    answer = sts.get_session_token(DurationSeconds=3600)
    output = _model("sts").operation_model("GetSessionToken").output_shape
    assert set(answer) - {"ResponseMetadata"} <= set(output.members)
    minted = answer["Credentials"]
    assert set(minted) == set(output.members["Credentials"].members)
    assert minted["AccessKeyId"].startswith("ASIA") and "EXAMPLE" not in minted["AccessKeyId"]
    assert minted["Expiration"] == run_clock.t0 + timedelta(seconds=40 + 3600)
    session = Credential(minted["AccessKeyId"], minted["SecretAccessKey"], minted["SessionToken"])
    caller = f"arn:aws:iam::{mock_account.account_id}:user/{LEAKED_USER}"
    assert mock_account.client("sts", session).get_caller_identity()["Arn"] == caller
    with pytest.raises(ClientError) as again:
        mock_account.client("sts", session).get_session_token()
    assert error_of(again) == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
        403,
    )
    no_token = Credential(minted["AccessKeyId"], minted["SecretAccessKey"])
    with pytest.raises(ClientError) as missing:
        mock_account.client("sts", no_token).get_caller_identity()
    assert error_of(missing)[0] == "InvalidClientTokenId"

    # The user's own policies apply to its session: the quarantine too.
    run_clock.t = 67.0
    quarantine(mock_account, "V3")
    with pytest.raises(ClientError) as quarantined:
        mock_account.client("iam", session).create_user(UserName="svc-backup-admin")
    assert error_of(quarantined)[0] == "AccessDenied"
    with pytest.raises(ClientError) as denied:
        sts.get_session_token()  # the quarantine denies minting more
    assert error_of(denied)[0] == "AccessDenied"

    iam = responder(mock_account, "iam")
    run_clock.t = 300.0
    iam.update_access_key(
        UserName=LEAKED_USER,
        AccessKeyId=estate.leaked.credential.access_key_id,
        Status="Inactive",
    )
    # The long-term key is dead; the session it minted is not.
    assert "SecretList" in mock_account.client("secretsmanager", session).list_secrets()

    run_clock.t = 540.0
    iam.put_user_policy(
        UserName=LEAKED_USER,
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=_revoke_older_sessions("2026-01-01T12:09:00.000Z"),
    )
    with pytest.raises(ClientError) as revoked:
        mock_account.client("secretsmanager", session).list_secrets()
    assert error_of(revoked) == (
        "AccessDeniedException",
        f"User: {caller} is not authorized to perform: secretsmanager:ListSecrets with an "
        "explicit deny in an identity-based policy",
        400,
    )
    run_clock.t = 40.0 + 3600 + 1
    with pytest.raises(ClientError) as expired:
        mock_account.client("sts", session).get_caller_identity()
    assert error_of(expired)[0] == "ExpiredToken"


# ── every seeded resource can be deleted ───────────────────────────────────────────────────


def test_seeded_trails_inline_policies_and_the_account_alias_can_be_deleted_too(
    mock_account: MockAccount, seed_scenario: Scenario
) -> None:
    # The other kinds (users and their keys, login profiles, MFA devices; groups; roles;
    # managed policies; secrets; buckets; instances) are deleted in
    # test_account.py::test_every_kind_of_seeded_resource_can_be_deleted.
    raw = seed_scenario.model_dump()
    estate = raw["account"]["estate"]
    estate["trails"] = [
        {"name": "northwind-audit", "bucket": "northwind-invoices", "region": "us-east-1"}
    ]
    user = next(u for u in estate["users"] if u["name"] == "j.alvarez")
    user["inline_policies"] = {
        "read-invoices": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
        }
    }
    seed_estate(mock_account, Scenario.model_validate(raw), seed=7)

    trails = responder(mock_account, "cloudtrail", "us-east-1")
    assert [t["Name"] for t in trails.describe_trails()["trailList"]] == ["northwind-audit"]
    trails.delete_trail(Name="northwind-audit")
    assert trails.describe_trails()["trailList"] == []

    iam = responder(mock_account, "iam")
    assert iam.list_user_policies(UserName="j.alvarez")["PolicyNames"] == ["read-invoices"]
    iam.delete_user_policy(UserName="j.alvarez", PolicyName="read-invoices")
    assert iam.list_user_policies(UserName="j.alvarez")["PolicyNames"] == []

    assert iam.list_account_aliases()["AccountAliases"] == ["northwind-prod"]
    iam.delete_account_alias(AccountAlias="northwind-prod")
    assert iam.list_account_aliases()["AccountAliases"] == []
