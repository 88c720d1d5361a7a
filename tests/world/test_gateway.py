"""The gateway over real HTTP: journaling, actors, dead keys, explicit denies, CloudTrail, Support.

Every test talks to the shared mock account on 127.0.0.1 through boto3, as the exercise's
participants do: responders with plain clients, the attacker and workload through the
framework's clients (`MockAccount.client`).
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from datetime import timedelta
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from gameday.journal import Event, FixedClock, Journal, read_journal
from gameday.world.account import MockAccount
from gameday.world.clients import MockSession
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate, seed_estate
from gameday.world.quarantine import INLINE_QUARANTINE_POLICY_NAME, QUARANTINE_POLICY_ARNS
from gameday.world.routing import service_of

LEAKED_USER = "ohgodpleasenotme"
ATTACKER_IP = "203.0.113.77"
ATTACKER_AGENT = "aws-cli/2.15.0 Python/3.11.6 Linux/5.15.0 exe/x86_64.ubuntu.22"


def responder(account: MockAccount, service: str, region: str | None = None) -> Any:
    """A plain boto3 client with the responders' profile key, as a person would use."""
    session = account.session(account.responder.credential, region=region, framework_client=False)
    return session.client(service)


def attacker(
    account: MockAccount, estate: SeededEstate, service: str, region: str | None = None
) -> Any:
    return account.client(
        service,
        estate.leaked.credential,
        region=region,
        source_ip=ATTACKER_IP,
        user_agent=ATTACKER_AGENT,
    )


def api_calls(journal: Journal) -> list[Event]:
    return [event for event in read_journal(journal.path) if event["kind"] == "api.call"]


def error_of(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: Any = error.value.response
    return (
        str(response["Error"]["Code"]),
        str(response["Error"].get("Message", "")),
        int(response["ResponseMetadata"]["HTTPStatusCode"]),
    )


def quarantine(
    account: MockAccount, version: str = "V3", user: str = LEAKED_USER, *, settled: bool = True
) -> None:
    """AWS attaches its quarantine; `settled`: IAM has converged, reads are refused too."""
    account.client("iam").attach_user_policy(
        UserName=user, PolicyArn=QUARANTINE_POLICY_ARNS[version]
    )
    if settled:
        account.gateway.clear_propagation()


# ── journaling and actors ──────────────────────────────────────────────────────────────────


def test_each_call_is_journaled_with_who_what_where_and_how_it_ended(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal, run_clock: FixedClock
) -> None:
    run_clock.t = 95.0
    attacker(mock_account, estate, "sts").get_caller_identity()
    responder(mock_account, "iam").list_access_keys(UserName=LEAKED_USER)
    with pytest.raises(ClientError):
        responder(mock_account, "iam").get_user(UserName="nobody-by-this-name")

    whoami, listing, missing = api_calls(journal)
    assert whoami["actor"] == "attacker"
    assert whoami["access_key_id"] == estate.leaked.credential.access_key_id
    assert (whoami["service"], whoami["action"], whoami["region"]) == (
        "sts",
        "GetCallerIdentity",
        "us-east-1",
    )
    assert (whoami["status"], whoami["error_code"]) == (200, None)
    assert whoami["t"] == 95.0 and whoami["time"] == "2026-01-01T12:01:35.000Z"
    assert (whoami["source_ip"], whoami["user_agent"]) == (ATTACKER_IP, ATTACKER_AGENT)
    assert (
        whoami["principal"]["arn"] == f"arn:aws:iam::{mock_account.account_id}:user/{LEAKED_USER}"
    )

    assert listing["actor"] == "responder"
    assert listing["params"] == {"UserName": LEAKED_USER}
    assert listing["source_ip"] == "127.0.0.1"
    assert missing["status"] == 404 and missing["error_code"] == "NoSuchEntity"


def test_the_leaked_key_used_outside_the_framework_counts_as_a_responder(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    plain = mock_account.session(estate.leaked.credential, framework_client=False)
    plain.client("sts").get_caller_identity()

    (call,) = api_calls(journal)
    assert call["actor"] == "responder"
    assert call["key_actor"] == "attacker"


def test_a_key_created_by_a_call_belongs_to_the_actor_who_created_it(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    iam = attacker(mock_account, estate, "iam")
    iam.create_user(UserName="svc-backup-admin")
    minted = iam.create_access_key(UserName="svc-backup-admin")["AccessKey"]
    backdoor = Credential(minted["AccessKeyId"], minted["SecretAccessKey"])
    mock_account.client("sts", backdoor).get_caller_identity()
    responder(mock_account, "iam").create_access_key(UserName="billing-api")

    calls = api_calls(journal)
    assert [c["actor"] for c in calls] == ["attacker", "attacker", "attacker", "responder"]
    assert calls[2]["access_key_id"] == backdoor.access_key_id
    assert calls[2]["key_actor"] == "attacker"
    assert {"type": "AWS::IAM::AccessKey", "name": backdoor.access_key_id} in calls[1]["resources"]


def test_secrets_in_requests_never_reach_the_journal(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    responder(mock_account, "iam").create_login_profile(
        UserName="ci-deployer", Password="Tr0ub4dor&3-horse-staple"
    )
    responder(mock_account, "secretsmanager").put_secret_value(
        SecretId="prod/web/database", SecretString='{"password": "hunter2-but-longer"}'
    )

    text = journal.path.read_text(encoding="utf-8")
    assert "Tr0ub4dor" not in text and "hunter2" not in text
    login, secret = api_calls(journal)
    assert login["params"]["Password"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert secret["params"]["SecretString"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert secret["params"]["SecretId"] == "prod/web/database"


def test_only_the_framework_may_set_the_recorded_source_ip(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    session = mock_account.session(mock_account.responder.credential, framework_client=False)
    client = session.client("sts")

    def spoof(request: Any, **_: Any) -> None:
        request.headers["X-Gameday-Source-Ip"] = "198.51.100.1"
        request.headers["X-Gameday-Client"] = "a guess"

    client.meta.events.register("before-sign", spoof)
    client.get_caller_identity()

    (call,) = api_calls(journal)
    assert call["source_ip"] == "127.0.0.1" and call["actor"] == "responder"


def test_moto_control_api_is_not_reachable(mock_account: MockAccount) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{mock_account.endpoint_url}/moto-api/data.json", timeout=5)
    assert refused.value.code == 404


# ── keys that no longer work ───────────────────────────────────────────────────────────────


REFUSALS = [
    ("iam", "list_users", {}, "InvalidClientTokenId", 403),
    ("sts", "get_caller_identity", {}, "InvalidClientTokenId", 403),
    ("ec2", "describe_instances", {}, "AuthFailure", 401),
    ("s3", "list_buckets", {}, "InvalidAccessKeyId", 403),
    ("secretsmanager", "list_secrets", {}, "UnrecognizedClientException", 400),
]


@pytest.mark.parametrize("fate", ["Inactive", "deleted", "never existed"])
def test_a_dead_key_is_refused_as_aws_refuses_it_in_every_protocol(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal, fate: str
) -> None:
    key = estate.leaked.credential
    iam = responder(mock_account, "iam")
    if fate == "Inactive":
        iam.update_access_key(
            UserName=LEAKED_USER, AccessKeyId=key.access_key_id, Status="Inactive"
        )
    elif fate == "deleted":
        iam.delete_access_key(UserName=LEAKED_USER, AccessKeyId=key.access_key_id)
    else:
        key = Credential("AKIAXFAZCUMLQQQQQQQQ", key.secret_access_key)

    for service, operation, params, code, status in REFUSALS:
        with pytest.raises(ClientError) as refused:
            getattr(mock_account.client(service, key), operation)(**params)
        assert error_of(refused)[0] == code and error_of(refused)[2] == status, service

    refused_calls = api_calls(journal)[1 if fate != "never existed" else 0 :]
    assert [c["error_code"] for c in refused_calls] == [r[3] for r in REFUSALS]


def test_a_reactivated_key_works_again(mock_account: MockAccount, estate: SeededEstate) -> None:
    key_id = estate.leaked.credential.access_key_id
    iam = responder(mock_account, "iam")
    iam.update_access_key(UserName=LEAKED_USER, AccessKeyId=key_id, Status="Inactive")
    iam.update_access_key(UserName=LEAKED_USER, AccessKeyId=key_id, Status="Active")
    assert (
        attacker(mock_account, estate, "sts").get_caller_identity()["Account"]
        == mock_account.account_id
    )


# ── explicit denies ────────────────────────────────────────────────────────────────────────


def test_quarantine_v3_denies_what_it_lists_in_each_protocol_and_lets_whoami_through(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    quarantine(mock_account, "V3")
    account = mock_account.account_id
    caller = f"arn:aws:iam::{account}:user/{LEAKED_USER}"

    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "iam").create_user(UserName="svc-backup-admin")
    assert error_of(denied) == (
        "AccessDenied",
        f"User: {caller} is not authorized to perform: iam:CreateUser on resource: "
        f"arn:aws:iam::{account}:user/svc-backup-admin with an explicit deny in an "
        "identity-based policy",
        403,
    )
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "ec2", "sa-east-1").run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="p3.16xlarge"
        )
    code, message, status = error_of(denied)
    assert (code, status) == ("UnauthorizedOperation", 403)
    assert f"ec2:RunInstances on resource: arn:aws:ec2:sa-east-1:{account}:instance/*" in message
    for service, operation, expected in [
        ("s3", "list_buckets", "AccessDenied"),
        ("cloudtrail", "lookup_events", "AccessDeniedException"),
    ]:
        with pytest.raises(ClientError) as denied:
            getattr(attacker(mock_account, estate, service), operation)()
        assert error_of(denied)[0] == expected
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "iam").update_access_key(
            AccessKeyId=estate.leaked.credential.access_key_id, Status="Inactive"
        )
    assert error_of(denied)[0] == "AccessDenied"

    assert attacker(mock_account, estate, "sts").get_caller_identity()["Arn"] == caller
    attacker(mock_account, estate, "ec2").describe_instances()  # not in the policy


def test_detaching_the_quarantine_lifts_the_deny_at_once(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    quarantine(mock_account, "V3")
    with pytest.raises(ClientError):
        attacker(mock_account, estate, "iam").create_user(UserName="first-try")
    responder(mock_account, "iam").detach_user_policy(
        UserName=LEAKED_USER, PolicyArn=QUARANTINE_POLICY_ARNS["V3"]
    )
    attacker(mock_account, estate, "iam").create_user(UserName="second-try")


@pytest.mark.parametrize(
    ("version", "list_users_denied"), [("V1", False), ("V2", True), ("V3", True)]
)
def test_each_quarantine_version_denies_its_own_list(
    mock_account: MockAccount, estate: SeededEstate, version: str, list_users_denied: bool
) -> None:
    quarantine(mock_account, version)
    iam = attacker(mock_account, estate, "iam")
    with pytest.raises(ClientError):
        iam.create_access_key(UserName="m.okafor")
    if list_users_denied:
        with pytest.raises(ClientError):
            iam.list_users()
    else:
        assert iam.list_users()["Users"]


def test_the_old_inline_quarantine_policy_denies_too(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": ["iam:CreateUser", "ec2:RunInstances"], "Resource": ["*"]}
        ],
    }
    mock_account.client("iam").put_user_policy(
        UserName=LEAKED_USER,
        PolicyName=INLINE_QUARANTINE_POLICY_NAME,
        PolicyDocument=json.dumps(document),
    )
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "iam").create_user(UserName="svc-x")
    assert error_of(denied)[0] == "AccessDenied"


def test_a_deny_all_on_a_group_stops_everything_but_whoami(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    responder(mock_account, "iam").put_group_policy(
        GroupName="developers", PolicyName="deny-all", PolicyDocument=json.dumps(document)
    )
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "secretsmanager").list_secrets()
    assert error_of(denied)[:1] == ("AccessDeniedException",)
    with pytest.raises(ClientError):
        mock_account.client("iam", estate.credential("alvarez-cli")).list_users()
    # AWS answers GetCallerIdentity whatever a policy says.
    attacker(mock_account, estate, "sts").get_caller_identity()
    responder(mock_account, "iam").list_users()  # not in the group


def test_wildcards_and_conditions_in_a_deny_are_honoured(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "iam:Create*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
            }
        ],
    }
    mock_account.client("iam").put_user_policy(
        UserName=LEAKED_USER, PolicyName="office-only", PolicyDocument=json.dumps(document)
    )
    with pytest.raises(ClientError):
        attacker(mock_account, estate, "iam").create_group(GroupName="from-outside")
    attacker(mock_account, estate, "iam").list_groups()
    from_office = mock_account.client("iam", estate.leaked.credential, source_ip="10.20.30.40")
    from_office.create_group(GroupName="from-the-office")


# ── CloudTrail event history ───────────────────────────────────────────────────────────────


def attacker_story(mock_account: MockAccount, estate: SeededEstate, clock: FixedClock) -> None:
    """Discovery at 80-130s, then a denied persistence attempt at 240s."""
    quarantine(mock_account, "V3")
    for t, service, operation in [
        (80.0, "sts", "get_caller_identity"),
        (100.0, "iam", "list_roles"),
        (110.0, "ec2", "describe_instances"),
        (130.0, "iam", "list_groups"),
    ]:
        clock.t = t
        getattr(attacker(mock_account, estate, service), operation)()
    clock.t = 240.0
    with pytest.raises(ClientError):
        attacker(mock_account, estate, "iam").create_user(UserName="svc-backup-admin")
    clock.t = 600.0


def test_lookup_by_access_key_returns_the_keys_calls_newest_first_in_cloudtrails_shape(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    attacker_story(mock_account, estate, run_clock)
    key_id = estate.leaked.credential.access_key_id

    events = responder(mock_account, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key_id}]
    )["Events"]

    assert [e["EventName"] for e in events] == [
        "CreateUser",
        "ListGroups",
        "DescribeInstances",
        "ListRoles",
        "GetCallerIdentity",
    ]
    newest = events[0]
    assert newest["EventTime"] == run_clock.t0 + timedelta(seconds=240)
    assert (newest["ReadOnly"], newest["AccessKeyId"], newest["Username"]) == (
        "false",
        key_id,
        LEAKED_USER,
    )
    assert newest["EventSource"] == "iam.amazonaws.com"
    assert {"ResourceType": "AWS::IAM::User", "ResourceName": "svc-backup-admin"} in newest[
        "Resources"
    ]
    record = json.loads(newest["CloudTrailEvent"])
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": record["userIdentity"]["principalId"],
        "arn": f"arn:aws:iam::{mock_account.account_id}:user/{LEAKED_USER}",
        "accountId": mock_account.account_id,
        "accessKeyId": key_id,
        "userName": LEAKED_USER,
    }
    assert record["userIdentity"]["principalId"].startswith("AIDA")
    assert record["eventTime"] == "2026-01-01T12:04:00Z"
    assert (record["sourceIPAddress"], record["userAgent"]) == (ATTACKER_IP, ATTACKER_AGENT)
    assert (record["errorCode"], record["awsRegion"]) == ("AccessDenied", "us-east-1")
    assert record["requestParameters"] == {"userName": "svc-backup-admin"}
    assert record["eventID"] == newest["EventId"] and record["readOnly"] is False


def test_lookup_pages_with_next_token_and_a_paginator_walks_them(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    attacker_story(mock_account, estate, run_clock)
    trail = responder(mock_account, "cloudtrail")
    lookup = [
        {"AttributeKey": "AccessKeyId", "AttributeValue": estate.leaked.credential.access_key_id}
    ]

    first = trail.lookup_events(LookupAttributes=lookup, MaxResults=2)
    second = trail.lookup_events(
        LookupAttributes=lookup, MaxResults=2, NextToken=first["NextToken"]
    )
    third = trail.lookup_events(
        LookupAttributes=lookup, MaxResults=2, NextToken=second["NextToken"]
    )
    assert "NextToken" not in third
    paged = [e["EventName"] for page in (first, second, third) for e in page["Events"]]

    paginator = trail.get_paginator("lookup_events")
    walked = [
        e["EventName"]
        for page in paginator.paginate(LookupAttributes=lookup, PaginationConfig={"PageSize": 2})
        for e in page["Events"]
    ]
    assert (
        paged
        == walked
        == ["CreateUser", "ListGroups", "DescribeInstances", "ListRoles", "GetCallerIdentity"]
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventName", "ListRoles", ["ListRoles"]),
        ("ReadOnly", "false", ["CreateUser", "AttachUserPolicy"]),
        (
            "Username",
            LEAKED_USER,
            ["CreateUser", "ListGroups", "DescribeInstances", "ListRoles", "GetCallerIdentity"],
        ),
        ("EventSource", "sts.amazonaws.com", ["GetCallerIdentity"]),
        ("ResourceType", "AWS::IAM::User", ["CreateUser", "AttachUserPolicy"]),
        ("ResourceName", "svc-backup-admin", ["CreateUser"]),
    ],
)
def test_every_lookup_attribute_filters(
    mock_account: MockAccount,
    estate: SeededEstate,
    run_clock: FixedClock,
    key: str,
    value: str,
    expected: list[str],
) -> None:
    attacker_story(mock_account, estate, run_clock)
    events = responder(mock_account, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}]
    )["Events"]
    # AWS's quarantine is in the history (as AWS's act, with no user or key of the account).
    assert [e["EventName"] for e in events] == expected
    by_id = responder(mock_account, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": events[0]["EventId"]}]
    )["Events"]
    assert [e["EventId"] for e in by_id] == [events[0]["EventId"]]


def test_lookup_honours_the_time_window_and_the_region(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    attacker_story(mock_account, estate, run_clock)
    attacker(mock_account, estate, "ec2", "eu-west-1").describe_regions()
    t0 = run_clock.t0
    trail = responder(mock_account, "cloudtrail")

    window = trail.lookup_events(
        StartTime=t0 + timedelta(seconds=90), EndTime=t0 + timedelta(seconds=120)
    )["Events"]
    assert [e["EventName"] for e in window] == ["DescribeInstances", "ListRoles"]
    ireland = responder(mock_account, "cloudtrail", "eu-west-1").lookup_events()["Events"]
    assert [e["EventName"] for e in ireland] == ["DescribeRegions"]
    assert json.loads(ireland[0]["CloudTrailEvent"])["awsRegion"] == "eu-west-1"


def test_history_leaves_out_data_events_and_calls_with_dead_keys(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    s3 = attacker(mock_account, estate, "s3")
    s3.list_buckets()
    s3.get_object(Bucket="northwind-invoices", Key="2026/02/invoice-10231.pdf")
    responder(mock_account, "iam").update_access_key(
        UserName=LEAKED_USER, AccessKeyId=estate.leaked.credential.access_key_id, Status="Inactive"
    )
    with pytest.raises(ClientError):
        attacker(mock_account, estate, "iam").list_users()

    events = responder(mock_account, "cloudtrail").lookup_events()["Events"]
    assert [e["EventName"] for e in events] == ["UpdateAccessKey", "ListBuckets"]


def test_lookup_refuses_what_cloudtrail_refuses(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    trail = responder(mock_account, "cloudtrail")
    with pytest.raises(ClientError) as refused:
        trail.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "CreateUser"},
                {"AttributeKey": "Username", "AttributeValue": LEAKED_USER},
            ]
        )
    assert error_of(refused)[0] == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as refused:
        trail.lookup_events(NextToken="not-a-token")
    assert error_of(refused)[0] == "InvalidNextTokenException"


# ── Support ────────────────────────────────────────────────────────────────────────────────


SUBJECT = "Your AWS account 491826357014 is compromised"


def test_a_case_the_framework_opens_is_seen_and_stays_put_until_someone_acts(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal, run_clock: FixedClock
) -> None:
    run_clock.t = 110.0
    case_id = mock_account.support.open_case(SUBJECT, "We detected your key online.", "urgent")
    support = responder(mock_account, "support")

    first = support.describe_cases()["cases"]
    again = support.describe_cases(caseIdList=[case_id])["cases"]
    assert first == again
    (case,) = first
    assert case["caseId"] == case_id and case_id.startswith("case-491826357014-2026-")
    assert len(case["displayId"]) == 10 and case["displayId"].isdigit()
    assert (case["subject"], case["severityCode"], case["status"]) == (
        SUBJECT,
        "urgent",
        "pending-customer-action",
    )
    assert case["timeCreated"] == "2026-01-01T12:01:50.000Z"
    assert case["recentCommunications"]["communications"][0]["submittedBy"] == "Amazon Web Services"
    opened = [e for e in read_journal(journal.path) if e["kind"] == "support.case-opened"]
    assert [e["case_id"] for e in opened] == [case_id]


def test_a_conversation_on_the_case_round_trips_and_resolving_closes_it(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    case_id = mock_account.support.open_case(SUBJECT, "We detected your key online.", "urgent")
    support = responder(mock_account, "support")
    run_clock.t = 900.0

    assert (
        support.add_communication_to_case(
            caseId=case_id, communicationBody="Key deactivated, backdoor user removed."
        )["result"]
        is True
    )
    assert support.describe_cases(caseIdList=[case_id])["cases"][0]["status"] == "opened"
    mock_account.support.add_communication(case_id, "Thank you. Please also rotate older keys.")
    assert support.describe_cases()["cases"][0]["status"] == "pending-customer-action"

    thread = support.describe_communications(caseId=case_id)["communications"]
    assert [c["body"] for c in thread] == [
        "Thank you. Please also rotate older keys.",
        "Key deactivated, backdoor user removed.",
        "We detected your key online.",
    ]
    assert thread[1]["submittedBy"] == mock_account.responder.arn
    assert thread[1]["timeCreated"] == "2026-01-01T12:15:00.000Z"

    resolution = support.resolve_case(caseId=case_id)
    assert (resolution["initialCaseStatus"], resolution["finalCaseStatus"]) == (
        "pending-customer-action",
        "resolved",
    )
    assert support.describe_cases()["cases"] == []
    resolved = support.describe_cases(includeResolvedCases=True)["cases"]
    assert [c["status"] for c in resolved] == ["resolved"]
    with pytest.raises(ClientError) as missing:
        support.describe_communications(caseId="case-491826357014-2026-0000000000000000")
    assert error_of(missing)[0] == "CaseIdNotFound"


def test_support_api_needs_business_support_or_higher(
    mock_server: MockAccount, seed_scenario: Any, run_clock: FixedClock, journal: Journal
) -> None:
    mock_server.reset(
        clock=run_clock, journal=journal, account_id=seed_scenario.account.id, support_plan="basic"
    )
    seed_estate(mock_server, seed_scenario, seed=mock_server.seed)
    with pytest.raises(ClientError) as refused:
        responder(mock_server, "support").describe_cases()
    assert error_of(refused)[0] == "SubscriptionRequiredException"


def test_a_fresh_quarantine_takes_a_while_to_reach_every_endpoint(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    # IAM is eventually consistent: in the field report some attacker calls made 13 s after
    # the quarantine landed still worked. The exercise models that window explicitly.
    run_clock.t = 67.0
    mock_account.gateway.delay_denies(LEAKED_USER, 30.0)
    quarantine(mock_account, "V3", settled=False)
    run_clock.t = 80.0
    attacker(mock_account, estate, "iam").create_user(UserName="svc-backup-admin")
    run_clock.t = 97.0
    with pytest.raises(ClientError) as denied:
        attacker(mock_account, estate, "iam").create_user(UserName="too-late")
    assert error_of(denied)[0] == "AccessDenied"


def test_a_key_two_parties_hold_is_journaled_as_whoever_says_they_use_it(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    # When the leaked key is the production service's own, the attacker and the workload
    # sign with the same key; the framework's clients say whose hands each call is in.
    leaked = estate.leaked.credential
    mock_account.register_key(leaked.access_key_id, "workload")
    mock_account.client("sts", leaked, actor="attacker").get_caller_identity()
    mock_account.client("sts", leaked, actor="workload").get_caller_identity()
    calls = [e for e in read_journal(journal.path) if e["kind"] == "api.call"]
    assert [(c["actor"], c["access_key_id"]) for c in calls[-2:]] == [
        ("attacker", leaked.access_key_id),
        ("workload", leaked.access_key_id),
    ]


# ── signatures, as AWS checks them ─────────────────────────────────────────────────────────

BUCKET = "northwind-invoices"
OBJECT = "2026/02/invoice-10231.pdf"
# One call per protocol: query (IAM), EC2, JSON (Secrets Manager), S3.
PROTOCOLS = [
    ("iam", "list_users"),
    ("ec2", "describe_instances"),
    ("secretsmanager", "list_secrets"),
    ("s3", "list_buckets"),
]


def signing_at(
    account: MockAccount, credential: Credential, offset: timedelta = timedelta()
) -> MockSession:
    """A person's client whose machine is `offset` away from the run clock."""
    return MockSession(
        account.endpoint_url,
        {},
        now=lambda: account.now() + offset,
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        region_name=account.region,
    )


def refusal(call: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as refused:
        call()
    return error_of(refused)


WRONG_SECRET = [
    ("iam", "list_users", "SignatureDoesNotMatch", 403),
    ("ec2", "describe_instances", "AuthFailure", 401),
    ("secretsmanager", "list_secrets", "InvalidSignatureException", 400),
    ("s3", "list_buckets", "SignatureDoesNotMatch", 403),
]


def test_a_wrong_secret_is_refused_as_aws_refuses_it_in_each_protocol_and_journaled(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    leaked = estate.leaked.credential
    forged = Credential(leaked.access_key_id, "x" * 40)
    for service, operation, code, status in WRONG_SECRET:
        client = signing_at(mock_account, forged).client(service)
        assert refusal(getattr(client, operation))[::2] == (code, status), service
    assert [(c["service"], c["status"], c["error_code"]) for c in api_calls(journal)] == [
        (service, status, code) for service, _, code, status in WRONG_SECRET
    ]
    assert all(c["principal"] == {} and c["result"] == {} for c in api_calls(journal))


def test_the_right_secret_of_another_key_signs_for_that_key_only(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    # The attacker knows the leaked key's secret; it does not sign for the workload's key.
    impostor = Credential(
        estate.credential("billing-prod").access_key_id, estate.leaked.credential.secret_access_key
    )
    code, message, status = refusal(
        signing_at(mock_account, impostor).client("sts").get_caller_identity
    )
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")
    assert (
        signing_at(mock_account, estate.leaked.credential)
        .client("sts")
        .get_caller_identity()["Arn"]
        .endswith(f":user/{LEAKED_USER}")
    )


SKEWED = [
    ("iam", "list_users", "SignatureDoesNotMatch", 403),
    ("ec2", "describe_instances", "RequestExpired", 400),
    ("secretsmanager", "list_secrets", "InvalidSignatureException", 400),
    ("s3", "list_buckets", "RequestTimeTooSkewed", 403),
]


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_request_more_than_15_minutes_off_the_run_clock_is_refused(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal, minutes: int
) -> None:
    session = signing_at(mock_account, estate.leaked.credential, timedelta(minutes=minutes))
    for service, operation, code, status in SKEWED:
        found, message, got = refusal(getattr(session.client(service), operation))
        assert (found, got) == (code, status), service
        if service in ("iam", "secretsmanager"):
            opening = "Signature expired" if minutes < 0 else "Signature not yet current"
            assert message.startswith(opening), message
    assert [c["error_code"] for c in api_calls(journal)] == [code for *_, code, _ in SKEWED]


@pytest.mark.parametrize("minutes", [-14, 14])
def test_a_request_within_15_minutes_of_the_run_clock_is_served(
    mock_account: MockAccount, estate: SeededEstate, minutes: int
) -> None:
    session = signing_at(mock_account, estate.leaked.credential, timedelta(minutes=minutes))
    for service, operation in PROTOCOLS:
        getattr(session.client(service), operation)()


def test_the_exercises_clients_sign_on_the_run_clock_hours_from_real_time(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    run_clock.t = 6 * 3600.0  # T0 is months from today; six hours into the run
    assert attacker(mock_account, estate, "sts").get_caller_identity()["Arn"]
    assert responder(mock_account, "iam").list_users()["Users"]
    for service, operation in PROTOCOLS:
        getattr(mock_account.client(service), operation)()  # the framework's own
    # A client that signs with the machine's clock is as far off as that.
    plain = boto3.Session(
        aws_access_key_id=estate.leaked.credential.access_key_id,
        aws_secret_access_key=estate.leaked.credential.secret_access_key,
        region_name="us-east-1",
    ).client("sts", endpoint_url=mock_account.endpoint_url)
    assert refusal(plain.get_caller_identity)[0] == "SignatureDoesNotMatch"


def test_temporary_credentials_need_their_session_token_and_expire(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    iam = responder(mock_account, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="forensics", AssumeRolePolicyDocument=json.dumps(trust))
    minted = responder(mock_account, "sts").assume_role(
        RoleArn=role["Role"]["Arn"], RoleSessionName="ir", DurationSeconds=900
    )["Credentials"]
    temporary = Credential(minted["AccessKeyId"], minted["SecretAccessKey"])
    assert temporary.access_key_id.startswith("ASIA")

    def session(token: str | None) -> MockSession:
        return MockSession(
            mock_account.endpoint_url,
            {},
            now=mock_account.now,
            aws_access_key_id=temporary.access_key_id,
            aws_secret_access_key=temporary.secret_access_key,
            aws_session_token=token,
            region_name="us-east-1",
        )

    arn = session(minted["SessionToken"]).client("sts").get_caller_identity()["Arn"]
    assert arn.endswith(":assumed-role/forensics/ir")
    for token in (None, "not-the-token"):
        assert refusal(session(token).client("sts").get_caller_identity)[0] == (
            "InvalidClientTokenId"
        )
    run_clock.t = 901.0
    assert refusal(session(minted["SessionToken"]).client("sts").get_caller_identity)[::2] == (
        "ExpiredToken",
        403,
    )


def test_the_framework_credential_acts_as_aws_in_the_account(
    mock_account: MockAccount, journal: Journal
) -> None:
    # Any client holding the secret signs as AWS: it acts in the scenario's account through
    # moto, with no IAM key whose status or policy could stop it.
    plain = mock_account.session(mock_account.framework_credential, framework_client=False)
    assert plain.client("sts").get_caller_identity()["Account"] == mock_account.account_id
    (call,) = api_calls(journal)
    assert call["actor"] == call["key_actor"] == "framework"
    assert call["principal"] == {
        "type": "AWSService",
        "invoked_by": "AWS Internal",
        "account_id": mock_account.account_id,
    }


# ── presigned URLs ─────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("version", ["sigv2 (botocore's default)", "s3v4"])
def test_a_presigned_get_works_until_it_expires_on_the_run_clock(
    mock_account: MockAccount,
    estate: SeededEstate,
    journal: Journal,
    run_clock: FixedClock,
    version: str,
) -> None:
    config = Config(signature_version="s3v4") if version == "s3v4" else None
    s3 = responder_session(mock_account).client("s3", config=config)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": OBJECT}, ExpiresIn=300
    )
    assert ("X-Amz-Signature=" in url) == (version == "s3v4")
    run_clock.t = 200.0
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200 and answer.read()
    run_clock.t = 400.0
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    assert "<Message>Request has expired</Message>" in refused.value.read().decode()
    served, expired = api_calls(journal)[-2:]
    assert (served["service"], served["action"], served["status"]) == ("s3", "GetObject", 200)
    assert served["access_key_id"] == mock_account.responder.credential.access_key_id
    assert (expired["status"], expired["error_code"]) == (403, "AccessDenied")
    tampered = url.replace("invoice-10231", "invoice-10232")
    run_clock.t = 250.0
    with pytest.raises(urllib.error.HTTPError) as forged:
        urllib.request.urlopen(tampered, timeout=10)
    assert "<Code>SignatureDoesNotMatch</Code>" in forged.value.read().decode()


def responder_session(account: MockAccount) -> MockSession:
    return account.session(account.responder.credential, framework_client=False)


# ── forged requests: what moto would serve is what is journaled, and it is refused ─────────


def send(
    account: MockAccount,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{account.endpoint_url}{path}", data=body or None, headers=headers or {}, method=method
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def test_a_forged_form_post_with_a_credential_in_its_query_is_refused_as_what_moto_would_serve(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    # A web page can make a browser post this form; moto would route it to S3 (no
    # Authorization header) while the query names IAM and the body asks for a new user.
    leaked = estate.leaked.credential.access_key_id
    credential = f"{leaked}/20260101/us-east-1/iam/aws4_request"
    status, answer = send(
        mock_account,
        f"/?X-Amz-Credential={credential}",
        b"Action=CreateUser&UserName=csrf-admin&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 400 <= status < 500 and "<Code>" in answer
    (call,) = api_calls(journal)
    assert call["service"] == "s3" and call["status"] == status
    assert call["error_code"] in ("AuthorizationQueryParametersError", "InvalidRequest")
    assert call["actor"] == "responder" and call["principal"] == {}
    assert "csrf-admin" not in mock_account.iam().users


def test_a_presigned_query_for_one_service_served_by_another_is_refused(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    # A valid IAM presigned URL: moto's dispatcher has no Authorization header to route it
    # by and would serve it as S3; the credential says IAM. Refused, journaled as S3's.
    iam = responder_session(mock_account).client("iam")
    url = iam.generate_presigned_url("list_users", ExpiresIn=300)
    status, answer = send(mock_account, url.removeprefix(mock_account.endpoint_url), method="GET")
    assert status == 400 and 'incorrect service "iam"' in answer
    (call,) = api_calls(journal)
    assert (call["service"], call["status"]) == ("s3", 400)
    assert call["error_code"] == "AuthorizationQueryParametersError"


def test_a_signed_request_from_a_web_page_is_refused_and_journaled(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    client = responder_session(mock_account).client("iam")

    def from_a_page(request: Any, **_: Any) -> None:
        request.headers["Origin"] = "https://attacker.example"

    client.meta.events.register("before-sign", from_a_page)
    code, message, status = refusal(lambda: client.create_user(UserName="from-a-page"))
    assert (code, status) == ("AccessDenied", 403) and "https://attacker.example" in message
    (call,) = api_calls(journal)
    assert (call["service"], call["action"], call["status"], call["error_code"]) == (
        "iam",
        "CreateUser",
        403,
        "AccessDenied",
    )
    assert "from-a-page" not in mock_account.iam().users
    # A browser's preflight is refused too.
    status, _ = send(
        mock_account, "/", method="OPTIONS", headers={"Origin": "https://attacker.example"}
    )
    assert status == 403


def test_an_unsigned_form_post_is_refused(mock_account: MockAccount, journal: Journal) -> None:
    status, answer = send(
        mock_account,
        "/",
        b"Action=CreateUser&UserName=anonymous&Version=2010-05-08",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403 and "<Code>AccessDenied</Code>" in answer
    (call,) = api_calls(journal)
    assert (call["service"], call["status"], call["error_code"]) == ("s3", 403, "AccessDenied")


def test_the_journal_names_the_service_and_action_moto_served(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal, monkeypatch: Any
) -> None:
    served: list[str] = []
    routes = mock_account.gateway.routes
    original = routes.app

    def app(backend: str) -> Any:
        served.append(backend)
        return original(backend)

    monkeypatch.setattr(routes, "app", app)
    me = responder_session(mock_account)
    me.client("iam").list_users()
    me.client("ses").list_identities()  # signed as "email", served by moto's SES
    me.client("cloudwatch").list_metrics()  # signed as "monitoring"
    me.client("s3").get_object(Bucket=BUCKET, Key=OBJECT)
    me.client("secretsmanager").list_secrets()
    me.client("ec2").describe_regions()
    calls = api_calls(journal)
    assert [(c["service"], c["action"]) for c in calls] == [
        ("iam", "ListUsers"),
        ("ses", "ListIdentities"),
        ("cloudwatch", "ListMetrics"),
        ("s3", "GetObject"),
        ("secretsmanager", "ListSecrets"),
        ("ec2", "DescribeRegions"),
    ]
    assert [service_of(backend) for backend in served] == [c["service"] for c in calls]


def test_calls_refused_before_aws_knows_the_caller_are_not_in_cloudtrail(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    leaked = estate.leaked.credential
    forged = signing_at(mock_account, Credential(leaked.access_key_id, "x" * 40)).client("iam")
    refusal(lambda: forged.create_user(UserName="wrong-secret"))
    late = signing_at(mock_account, leaked, timedelta(minutes=-30)).client("iam")
    refusal(lambda: late.create_user(UserName="too-late"))
    page = signing_at(mock_account, leaked).client("iam")
    page.meta.events.register(
        "before-sign",
        lambda request, **_: request.headers.__setitem__("Origin", "https://x.example"),
    )
    refusal(lambda: page.create_user(UserName="from-a-page"))
    attacker(mock_account, estate, "iam").list_groups()
    run_clock.t = 60.0
    events = responder(mock_account, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": leaked.access_key_id}]
    )["Events"]
    assert [e["EventName"] for e in events] == ["ListGroups"]


def test_uploads_sign_their_bodies_and_are_served(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    # Over http botocore hashes every body into x-amz-content-sha256, multipart parts too.
    s3 = responder_session(mock_account).client("s3")
    s3.put_object(Bucket=BUCKET, Key="notes/ir log ü+~.txt", Body=b"key disabled at 12:04")
    big = io.BytesIO(b"evidence" * (6 * 1024 * 1024 // 8 + 1))
    s3.upload_fileobj(
        big,
        BUCKET,
        "evidence/cloudtrail.json",
        Config=TransferConfig(
            multipart_threshold=5 * 1024 * 1024,
            multipart_chunksize=5 * 1024 * 1024,
            use_threads=False,
        ),
    )
    body = s3.get_object(Bucket=BUCKET, Key="notes/ir log ü+~.txt")["Body"].read()
    assert body == b"key disabled at 12:04"
    size = s3.head_object(Bucket=BUCKET, Key="evidence/cloudtrail.json")["ContentLength"]
    assert size == len(big.getvalue())
    actions = [(c["action"], c["status"]) for c in api_calls(journal)]
    assert actions[:5] == [
        ("PutObject", 200),
        ("CreateMultipartUpload", 200),
        ("UploadPart", 200),
        ("UploadPart", 200),
        ("CompleteMultipartUpload", 200),
    ]
