"""End to end with the real AWS CLI, as responders work: only the generated profile.

The CLI runs as a subprocess with AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE / AWS_PROFILE
pointing at the run's `aws/` folder, so nothing but the generated profile tells it where the
mock is. A call "with the leaked key" keeps the profile (for the endpoint) and signs with the
key given in the environment, which the CLI prefers over the profile's own key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gameday.journal import FixedClock
from gameday.world.account import MockAccount
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate
from gameday.world.quarantine import QUARANTINE_POLICY_ARNS

AWS = Path(sys.executable).parent / "aws"
LEAKED_USER = "ohgodpleasenotme"
BUCKET = "northwind-invoices"
OBJECT = "2026/02/invoice-10231.pdf"

pytestmark = pytest.mark.slow


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


class Cli:
    """The AWS CLI with only the run's profile in its environment."""

    def __init__(self, profile_environment: dict[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.environment = {**base, **profile_environment}

    def __call__(self, *args: str, key: Credential | None = None) -> Result:
        environment = dict(self.environment)
        if key is not None:
            environment["AWS_ACCESS_KEY_ID"] = key.access_key_id
            environment["AWS_SECRET_ACCESS_KEY"] = key.secret_access_key
        done = subprocess.run(
            [str(AWS), *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, key: Credential | None = None) -> Any:
        result = self(*args, key=key)
        assert result.code == 0, result.stderr
        return result.json() if result.stdout.strip() else None


@pytest.fixture
def run_clock() -> FixedClock:
    """The CLI signs with the machine's time, which the gateway holds to the run clock: the
    run's T0 is now, as in a wall-clock game day (the mock refuses a request dated more than
    15 minutes from its clock, as AWS does)."""
    return FixedClock(datetime.now(UTC).replace(microsecond=0))


def aws_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def aws(mock_account: MockAccount, estate: SeededEstate, tmp_path: Path) -> Cli:
    return Cli(mock_account.write_profiles(tmp_path))  # the responders' user is the estate's


def test_responders_find_the_old_key_deactivate_it_and_the_key_stops_working(
    aws: Cli, estate: SeededEstate, mock_account: MockAccount
) -> None:
    leaked = estate.leaked.credential
    assert aws.ok("sts", "get-caller-identity")["Arn"] == mock_account.responder.arn

    users = {u["UserName"]: u for u in aws.ok("iam", "list-users")["Users"]}
    assert {"ohgodpleasenotme", "billing-api", "ci-deployer", "security-oncall"} <= set(users)
    t0 = mock_account.clock.t0
    assert users[LEAKED_USER]["CreateDate"] == aws_time(t0 - timedelta(days=430))
    keys = aws.ok("iam", "list-access-keys", "--user-name", LEAKED_USER)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(leaked.access_key_id, "Active")]
    assert keys[0]["CreateDate"] == aws_time(t0 - timedelta(days=412))

    assert aws.ok("sts", "get-caller-identity", key=leaked)["Arn"].endswith(f":user/{LEAKED_USER}")
    aws.ok(
        "iam",
        "update-access-key",
        "--user-name",
        LEAKED_USER,
        "--access-key-id",
        leaked.access_key_id,
        "--status",
        "Inactive",
    )
    refused = aws("sts", "get-caller-identity", key=leaked)
    assert refused.code != 0
    assert "InvalidClientTokenId" in refused.stderr
    assert "The security token included in the request is invalid" in refused.stderr
    keys = aws.ok("iam", "list-access-keys", "--user-name", LEAKED_USER)["AccessKeyMetadata"]
    assert keys[0]["Status"] == "Inactive"


def test_with_the_quarantine_attached_the_leaked_key_can_only_say_who_it_is(
    aws: Cli, estate: SeededEstate
) -> None:
    leaked = estate.leaked.credential
    aws.ok(
        "iam",
        "attach-user-policy",
        "--user-name",
        LEAKED_USER,
        "--policy-arn",
        QUARANTINE_POLICY_ARNS["V3"],
    )

    create_user = aws("iam", "create-user", "--user-name", "svc-backup-admin", key=leaked)
    assert create_user.code != 0 and "AccessDenied" in create_user.stderr
    assert "iam:CreateUser" in create_user.stderr and "explicit deny" in create_user.stderr
    run = aws(
        "ec2",
        "run-instances",
        "--region",
        "sa-east-1",
        "--image-id",
        "ami-12c6146b",
        "--instance-type",
        "p3.16xlarge",
        "--count",
        "4",
        key=leaked,
    )
    assert run.code != 0 and "UnauthorizedOperation" in run.stderr
    assert "ec2:RunInstances" in run.stderr
    assert aws.ok("sts", "get-caller-identity", key=leaked)["Account"] == estate.account_id


def test_cloudtrail_lookup_events_by_access_key_newest_first_with_paging(
    aws: Cli, estate: SeededEstate, mock_account: MockAccount, run_clock: FixedClock
) -> None:
    attacker = mock_account.session(estate.leaked.credential)
    for t, call in [
        (80.0, lambda: attacker.client("sts").get_caller_identity()),
        (100.0, lambda: attacker.client("iam").list_users()),
        (120.0, lambda: attacker.client("iam").list_roles()),
        (150.0, lambda: attacker.client("s3").list_buckets()),
    ]:
        run_clock.t = t
        call()
    run_clock.t = 600.0
    lookup = f"AttributeKey=AccessKeyId,AttributeValue={estate.leaked.credential.access_key_id}"

    everything = aws.ok("cloudtrail", "lookup-events", "--lookup-attributes", lookup)["Events"]
    assert [e["EventName"] for e in everything] == [
        "ListBuckets",
        "ListRoles",
        "ListUsers",
        "GetCallerIdentity",
    ]
    times = [e["EventTime"] for e in everything]
    assert times == sorted(times, reverse=True)
    assert all(e["AccessKeyId"] == estate.leaked.credential.access_key_id for e in everything)

    first = aws.ok("cloudtrail", "lookup-events", "--lookup-attributes", lookup, "--max-items", "3")
    assert [e["EventName"] for e in first["Events"]] == ["ListBuckets", "ListRoles", "ListUsers"]
    rest = aws.ok(
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        lookup,
        "--starting-token",
        first["NextToken"],
    )
    assert [e["EventName"] for e in rest["Events"]] == ["GetCallerIdentity"]


def test_support_case_opened_by_aws_round_trips_through_the_cli(
    aws: Cli, mock_account: MockAccount
) -> None:
    subject = f"Your AWS account {mock_account.account_id} is compromised"
    case_id = mock_account.support.open_case(subject, "Your access key was found online.", "urgent")

    cases = aws.ok("support", "describe-cases")["cases"]
    assert [(c["caseId"], c["subject"], c["status"]) for c in cases] == [
        (case_id, subject, "pending-customer-action")
    ]
    reply = "The key is deactivated and the backdoor user deleted."
    assert aws.ok(
        "support", "add-communication-to-case", "--case-id", case_id, "--communication-body", reply
    ) == {"result": True}
    bodies = [
        c["body"]
        for c in aws.ok("support", "describe-communications", "--case-id", case_id)[
            "communications"
        ]
    ]
    assert bodies == [reply, "Your access key was found online."]

    resolved = aws.ok("support", "resolve-case", "--case-id", case_id)
    assert resolved == {"initialCaseStatus": "opened", "finalCaseStatus": "resolved"}
    shown = aws.ok("support", "describe-cases", "--include-resolved-cases")["cases"]
    assert [c["status"] for c in shown] == ["resolved"]


def test_a_presigned_url_from_the_cli_works_until_it_expires(
    aws: Cli, mock_account: MockAccount, run_clock: FixedClock
) -> None:
    url = aws("s3", "presign", f"s3://{BUCKET}/{OBJECT}", "--expires-in", "600").stdout.strip()
    assert "Signature=" in url or "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200 and answer.read()

    run_clock.t = 3600.0  # an hour later on the run clock: the URL has expired
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=10)
    assert refused.value.code == 403
    document = refused.value.read().decode()
    assert "<Code>AccessDenied</Code>" in document and "Request has expired" in document


def test_a_cli_whose_time_is_far_from_the_run_clock_is_refused_as_aws_refuses_it(
    aws: Cli, run_clock: FixedClock
) -> None:
    run_clock.t = 20 * 60.0  # the run clock is 20 minutes ahead of the machine
    refused = aws("sts", "get-caller-identity")
    assert refused.code != 0
    assert "SignatureDoesNotMatch" in refused.stderr and "Signature expired" in refused.stderr
    ec2 = aws("ec2", "describe-instances")
    assert ec2.code != 0 and "RequestExpired" in ec2.stderr
    run_clock.t = 10 * 60.0  # within AWS's 15 minutes
    assert aws.ok("sts", "get-caller-identity")["Account"]


def test_describe_regions_stays_in_the_partition_and_another_partition_refuses_the_key(
    aws: Cli, estate: SeededEstate
) -> None:
    regions = aws.ok("ec2", "describe-regions", "--query", "Regions[].RegionName")
    assert "us-east-1" in regions and "sa-east-1" in regions
    assert not [r for r in regions if r.startswith(("cn-", "us-gov-"))]
    china = aws("sts", "get-caller-identity", "--region", "cn-north-1")
    assert china.code != 0 and "InvalidClientTokenId" in china.stderr
    govcloud = aws("ec2", "describe-instances", "--region", "us-gov-west-1")
    assert govcloud.code != 0 and "AuthFailure" in govcloud.stderr
