"""The quarantine policy, attached through the mock's IAM by its real ARN."""

from __future__ import annotations

import json

import pytest

from gameday.errors import UserError
from gameday.exercise.injects import deliver
from gameday.exercise.injects.quarantine import INLINE_POLICY_DOCUMENT

from .harness import Harness, LeakedUser, scenario_for


@pytest.mark.parametrize(
    ("version", "arn"),
    [("V3", "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"),
     ("V2", "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"),
     ("V1", "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine")],
)  # fmt: skip
def test_managed_policy_is_attached_to_the_leaked_keys_user(
    harness: Harness, leaked_user: LeakedUser, version: str, arn: str
) -> None:
    scenario = scenario_for(
        leaked_user.user_name, [{"id": "q", "type": "quarantine", "at": "67s", "policy": version}]
    )
    harness.clock.t = 67.0
    delivered = deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))

    iam = harness.aws.client("iam")
    attached = iam.list_attached_user_policies(UserName=leaked_user.user_name)["AttachedPolicies"]
    assert attached == [{"PolicyName": arn.rsplit("/", 1)[1], "PolicyArn": arn}]
    # The key stays active: AWS leaves remediation to the customer.
    keys = iam.list_access_keys(UserName=leaked_user.user_name)["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Active"]
    assert delivered.data["policy_arn"] == arn
    assert delivered.data["user_name"] == leaked_user.user_name
    (event,) = harness.events()
    assert (event["kind"], event["type"], event["t"]) == ("inject.delivered", "quarantine", 67.0)
    assert (event["status"], event["policy_arn"]) == ("attached", arn)


def test_inline_variant_writes_the_old_policy_with_v1s_actions(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name, [{"id": "q", "type": "quarantine", "at": "1m", "policy": "inline"}]
    )
    deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))

    iam = harness.aws.client("iam")
    names = iam.list_user_policies(UserName=leaked_user.user_name)["PolicyNames"]
    assert names == ["AWSExposedCredentialPolicy_DO_NOT_REMOVE"]
    document = iam.get_user_policy(
        UserName=leaked_user.user_name, PolicyName="AWSExposedCredentialPolicy_DO_NOT_REMOVE"
    )["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    assert document == INLINE_POLICY_DOCUMENT
    # The same actions as the first managed quarantine policy that moto bundles.
    v1 = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine")["Policy"]
    v1_document = iam.get_policy_version(PolicyArn=v1["Arn"], VersionId=v1["DefaultVersionId"])[
        "PolicyVersion"
    ]["Document"]
    v1_document = json.loads(v1_document) if isinstance(v1_document, str) else v1_document
    assert sorted(document["Statement"][0]["Action"]) == sorted(
        v1_document["Statement"][0]["Action"]
    )
    assert len(document["Statement"][0]["Action"]) == 28
    assert document["Statement"][0]["Effect"] == "Deny"


def test_a_missing_user_is_journaled_and_the_run_goes_on(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    harness.aws.client("iam").delete_access_key(
        UserName=leaked_user.user_name, AccessKeyId=leaked_user.access_key_id
    )
    harness.aws.client("iam").delete_user(UserName=leaked_user.user_name)
    scenario = scenario_for(leaked_user.user_name, [{"id": "q", "type": "quarantine", "at": "1m"}])

    deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))

    (event,) = harness.events()
    assert event["status"] == "failed"
    assert event["error_code"] == "NoSuchEntity"
    assert any("quarantine 'q' failed" in line for line in harness.console_lines)


def test_a_quarantine_takes_no_template(harness: Harness, leaked_user: LeakedUser) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "q", "type": "quarantine", "at": "1m", "template": "emails/case-opened"}],
    )
    with pytest.raises(UserError, match="takes no template"):
        deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))
