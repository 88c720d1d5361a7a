"""AWS's injects in the real mock account, through the gateway: AWS is no tenant of it.

The exercise acts for AWS with a credential of its own that is no IAM user, key or policy of
the account. Whatever the team does to the account's identities — every key deactivated,
every user but one deleted, every policy detached — AWS's quarantine, Health event, support
case and emails still arrive; and CloudTrail shows the quarantine as AWS's act, while the
exercise's plumbing (warm-up, the Health event's `PutEvents`) is not in it at all.
"""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from gameday.exercise.injects import InjectContext, Renderer, deliver
from gameday.exercise.injects.facts import IncidentFacts
from gameday.journal import FixedClock, Journal, read_journal
from gameday.scenario import Scenario
from gameday.world.account import MockAccount
from gameday.world.estate import SeededEstate

LEAK_COMMIT = "3f9a1c0d5e7b2a4968c1f0e2d3b4a5968778695a"
QUARANTINE_V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"


def responder(account: MockAccount, service: str, region: str = "us-east-1") -> Any:
    session = account.session(account.responder.credential, region=region, framework_client=False)
    return session.client(service)


def context(
    account: MockAccount, scenario: Scenario, estate: SeededEstate, journal: Journal, run: Path
) -> InjectContext:
    facts = IncidentFacts.from_scenario(
        scenario,
        access_key_id=estate.leaked.credential.access_key_id,
        leak_commit=LEAK_COMMIT,
        t0=account.clock.t0,
        seed=7,
    )
    return InjectContext(
        facts,
        scenario,
        run,
        journal,
        account.clock,
        aws=account,
        console=lambda _: None,
        renderer=Renderer(),
        case_desk=account.support,
    )


def fire(ctx: InjectContext, *inject_ids: str) -> dict[str, Any]:
    """Deliver the scenario's injects with these ids; their `inject.delivered` events."""
    by_id = {inject.id: inject for inject in ctx.scenario.timeline}
    for inject_id in inject_ids:
        deliver(by_id[inject_id], ctx)
    return {
        e["inject"]: e
        for e in read_journal(Path(ctx.run_dir) / "journal.jsonl")
        if e["kind"] == "inject.delivered"
    }


def lock_everyone_out(account: MockAccount, spare: str) -> None:
    """What a panicking team might do: every policy detached, every user but `spare` deleted,
    every key left deactivated — their own last."""
    iam = responder(account, "iam")
    own = account.responder.credential.access_key_id
    users = [u["UserName"] for u in iam.list_users()["Users"]]
    for group in iam.list_groups()["Groups"]:
        name = group["GroupName"]
        for policy in iam.list_attached_group_policies(GroupName=name)["AttachedPolicies"]:
            iam.detach_group_policy(GroupName=name, PolicyArn=policy["PolicyArn"])
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        for policy in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
    for user in users:
        for policy in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
            iam.detach_user_policy(UserName=user, PolicyArn=policy["PolicyArn"])
        for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
            iam.delete_user_policy(UserName=user, PolicyName=name)
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            if key["AccessKeyId"] != own:
                iam.update_access_key(
                    UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive"
                )
    for user in users:
        if user in (spare, account.responder.user_name):
            continue
        for group in iam.list_groups_for_user(UserName=user)["Groups"]:
            iam.remove_user_from_group(UserName=user, GroupName=group["GroupName"])
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        for device in iam.list_mfa_devices(UserName=user)["MFADevices"]:
            iam.deactivate_mfa_device(UserName=user, SerialNumber=device["SerialNumber"])
        with suppress(iam.exceptions.NoSuchEntityException):
            iam.delete_login_profile(UserName=user)
        iam.delete_user(UserName=user)
    iam.update_access_key(UserName=account.responder.user_name, AccessKeyId=own, Status="Inactive")
    with pytest.raises(ClientError):
        iam.list_users()  # the team has locked itself out too


def test_injects_still_arrive_once_every_user_key_and_policy_of_the_account_is_gone(
    mock_account: MockAccount,
    estate: SeededEstate,
    seed_scenario: Scenario,
    journal: Journal,
    run_clock: FixedClock,
    tmp_path: Path,
) -> None:
    ctx = context(mock_account, seed_scenario, estate, journal, tmp_path)
    run_clock.t = 30.0
    lock_everyone_out(mock_account, spare=estate.leaked.user_name)
    iam = mock_account.iam()
    assert set(iam.users) == {estate.leaked.user_name, mock_account.responder.user_name}
    assert all(key.status == "Inactive" for key in iam.access_keys.values())

    run_clock.t = 67.0
    delivered = fire(ctx, "quarantine", "support-case", "case-email", "health-event")
    assert delivered["quarantine"]["status"] == "attached"
    assert QUARANTINE_V3 in iam.users[estate.leaked.user_name].managed_policies
    assert delivered["health-event"]["status"] == "put"
    assert delivered["support-case"]["opened"] is True
    opened = [e for e in read_journal(journal.path) if e["kind"] == "support.case-opened"]
    assert [e["case_id"] for e in opened] == [delivered["support-case"]["case_reference"]]
    assert delivered["case-email"].get("status") != "failed"
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 1


def test_cloudtrail_shows_the_quarantine_as_awss_act_and_nothing_else_of_the_exercise(
    mock_account: MockAccount,
    estate: SeededEstate,
    seed_scenario: Scenario,
    journal: Journal,
    run_clock: FixedClock,
    tmp_path: Path,
) -> None:
    mock_account.warm()  # the exercise's plumbing, before the clock starts
    ctx = context(mock_account, seed_scenario, estate, journal, tmp_path)
    run_clock.t = 67.0
    fire(ctx, "quarantine")
    run_clock.t = 120.0
    fire(ctx, "health-event")
    run_clock.t = 300.0
    trail = responder(mock_account, "cloudtrail")
    events = trail.lookup_events()["Events"]
    framework_calls = [
        e
        for e in read_journal(journal.path)
        if e["kind"] == "api.call" and e["actor"] == "framework"
    ]
    assert [c["action"] for c in framework_calls] == ["AttachUserPolicy", "PutEvents"]

    (attach,) = [e for e in events if e["EventName"] == "AttachUserPolicy"]
    record = json.loads(attach["CloudTrailEvent"])
    assert record["userIdentity"] == {
        "type": "AWSService",
        "invokedBy": "AWS Internal",
        "accountId": mock_account.account_id,
    }
    assert record["sourceIPAddress"] == record["userAgent"] == "AWS Internal"
    assert record["requestParameters"] == {
        "userName": estate.leaked.user_name,
        "policyArn": QUARANTINE_V3,
    }
    assert "Username" not in attach and "AccessKeyId" not in attach
    # Only the quarantine: not the Health event's PutEvents, not the warm-up's reads.
    assert [e["EventName"] for e in events] == ["AttachUserPolicy"]
    framework_key = mock_account.framework_credential.access_key_id
    assert (
        trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": framework_key}]
        )["Events"]
        == []
    )
    by_event = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": QUARANTINE_V3}]
    )["Events"]
    assert [e["EventName"] for e in by_event] == ["AttachUserPolicy"]
