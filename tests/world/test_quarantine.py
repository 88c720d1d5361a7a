"""Explicit-deny evaluation on its own: AWS's quarantine documents, wildcards, conditions."""

from __future__ import annotations

import json

import pytest
from moto.iam.aws_managed_policies import aws_managed_policies_data

from gameday.world.quarantine import QUARANTINE_POLICY_ARNS, explicit_deny

MANAGED = json.loads(aws_managed_policies_data)


def document(version: str) -> dict[str, object]:
    name = QUARANTINE_POLICY_ARNS[version].rsplit("/", 1)[-1]
    return dict(MANAGED[name]["Document"])


@pytest.mark.parametrize(
    ("version", "action", "denied"),
    [
        ("V1", "iam:CreateUser", True),
        ("V1", "iam:ListUsers", False),
        ("V1", "lightsail:CreateInstances", True),  # `lightsail:Create*`
        ("V2", "iam:ListUsers", True),
        ("V2", "s3:GetObject", True),
        ("V2", "cloudtrail:LookupEvents", True),
        ("V2", "kms:ScheduleKeyDeletion", False),
        ("V3", "kms:ScheduleKeyDeletion", True),
        ("V3", "iam:DeleteAccessKey", True),
        ("V3", "ec2:DescribeInstances", False),
        ("V3", "sts:GetCallerIdentity", False),
    ],
)
def test_quarantine_documents_deny_their_own_lists(version: str, action: str, denied: bool) -> None:
    assert (explicit_deny([document(version)], action) is not None) is denied


def test_action_names_match_without_regard_to_case_and_resources_with_it() -> None:
    policy = {
        "Statement": {"Effect": "Deny", "Action": "S3:Get*", "Resource": "arn:aws:s3:::secret-*/*"}
    }
    assert explicit_deny([policy], "s3:GetObject", "arn:aws:s3:::secret-bucket/a.txt")
    assert not explicit_deny([policy], "s3:GetObject", "arn:aws:s3:::Secret-bucket/a.txt")
    assert not explicit_deny([policy], "s3:PutObject", "arn:aws:s3:::secret-bucket/a.txt")


def test_allows_and_not_actions() -> None:
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert explicit_deny([allow_all], "iam:CreateUser") is None
    all_but_sts = {"Statement": [{"Effect": "Deny", "NotAction": "sts:*", "Resource": "*"}]}
    assert explicit_deny([json.dumps(all_but_sts)], "iam:CreateUser")
    assert explicit_deny([json.dumps(all_but_sts)], "sts:GetSessionToken") is None


def test_conditions_decide_whether_a_deny_applies() -> None:
    before_noon = {
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2026-01-01T12:00:00Z"}},
            }
        ]
    }
    # Long-term keys carry no token issue time, so the condition (and the deny) does not apply.
    assert explicit_deny([before_noon], "iam:ListUsers", context={}) is None
    old_token = {"aws:TokenIssueTime": "2026-01-01T11:00:00Z"}
    assert explicit_deny([before_noon], "iam:ListUsers", context=old_token)
    new_token = {"aws:TokenIssueTime": "2026-01-01T12:30:00Z"}
    assert explicit_deny([before_noon], "iam:ListUsers", context=new_token) is None

    outside_office = {
        "Statement": {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}},
        }
    }
    assert explicit_deny(
        [outside_office], "ec2:RunInstances", context={"aws:SourceIp": "203.0.113.9"}
    )
    assert not explicit_deny(
        [outside_office], "ec2:RunInstances", context={"aws:SourceIp": "10.1.1.1"}
    )


def test_v3_kms_statement_applies_only_outside_aws_services() -> None:
    v3 = document("V3")
    guarded = [s for s in v3["Statement"] if s.get("Condition")]  # type: ignore[attr-defined]
    assert guarded, "V3 carries a conditional statement"
    action = guarded[0]["Action"]
    action = action if isinstance(action, str) else action[0]
    assert explicit_deny([v3], action, context={})
    assert (
        explicit_deny([v3], action, context={"kms:ViaService": "s3.us-east-1.amazonaws.com"})
        is None
    )


def test_a_malformed_document_denies_nothing() -> None:
    assert explicit_deny(["{not json"], "iam:CreateUser") is None
