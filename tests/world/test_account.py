"""The mock account: where it listens, its principals, the seeded estate and its dates."""

from __future__ import annotations

import json
import socket
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gameday.journal import FixedClock
from gameday.scenario import Scenario
from gameday.world.account import ADMINISTRATOR_ACCESS, MockAccount, backend
from gameday.world.decoys import account_of, estate_credentials
from gameday.world.estate import SeededEstate


def responder(account: MockAccount, service: str, region: str | None = None) -> Any:
    session = account.session(account.responder.credential, region=region, framework_client=False)
    return session.client(service)


def test_the_server_listens_on_127_0_0_1_only(mock_account: MockAccount) -> None:
    host, port = mock_account.address
    assert host == "127.0.0.1"
    assert mock_account.endpoint_url == f"http://127.0.0.1:{port}"
    listening = mock_account._server.socket  # the real listening socket
    assert listening.family == socket.AF_INET
    assert listening.getsockname() == ("127.0.0.1", port)
    # Another loopback address reaches nothing: the socket is not bound to every interface.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", port), timeout=2):
        pass


def test_principals_live_in_the_scenarios_account_with_admin_rights(
    mock_account: MockAccount,
) -> None:
    for principal in (mock_account.framework, mock_account.responder):
        identity = mock_account.client("sts", principal.credential).get_caller_identity()
        assert identity["Account"] == mock_account.account_id
        assert identity["Arn"] == principal.arn
        assert account_of(principal.credential.access_key_id) == mock_account.account_id
        attached = mock_account.client("iam").list_attached_user_policies(
            UserName=principal.user_name
        )
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [ADMINISTRATOR_ACCESS]


def test_the_estate_is_seeded_with_the_scenarios_keys_and_their_age(
    mock_account: MockAccount, estate: SeededEstate, seed_scenario: Scenario
) -> None:
    t0 = mock_account.clock.t0
    iam = responder(mock_account, "iam")
    expected = estate_credentials(seed_scenario, mock_account.seed)
    assert estate.leaked.credential == expected["deploy-key"]
    assert estate.workload is not None and estate.workload.credential == expected["billing-prod"]

    (leaked,) = iam.list_access_keys(UserName="ohgodpleasenotme")["AccessKeyMetadata"]
    assert leaked["AccessKeyId"] == expected["deploy-key"].access_key_id
    assert leaked["CreateDate"] == t0 - timedelta(days=412)
    last = iam.get_access_key_last_used(AccessKeyId=leaked["AccessKeyId"])["AccessKeyLastUsed"]
    assert (last["LastUsedDate"], last["ServiceName"]) == (t0 - timedelta(hours=2), "s3")
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName="ci-deployer")["AccessKeyMetadata"]
    }
    assert statuses == {
        expected["ci-old"].access_key_id: "Inactive",
        expected["ci-current"].access_key_id: "Active",
    }
    user = iam.get_user(UserName="m.okafor")["User"]
    assert user["CreateDate"] == t0 - timedelta(days=820)
    assert user["UserId"].startswith("AIDA")

    gateway = mock_account.gateway
    assert gateway.registry.actor_of(estate.leaked.credential.access_key_id) == "attacker"
    assert gateway.registry.actor_of(estate.workload.credential.access_key_id) == "workload"


def test_the_estate_has_its_groups_roles_policies_and_console_users(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    iam = responder(mock_account, "iam")
    groups = iam.list_groups_for_user(UserName="ohgodpleasenotme")["Groups"]
    assert [g["GroupName"] for g in groups] == ["developers"]
    attached = iam.list_attached_user_policies(UserName="billing-api")["AttachedPolicies"]
    assert attached == [
        {
            "PolicyName": "billing-api-runtime",
            "PolicyArn": f"arn:aws:iam::{mock_account.account_id}:policy/billing-api-runtime",
        }
    ]
    role = iam.get_role(RoleName="partner-audit")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"AWS": ["arn:aws:iam::250017543218:root"]}
    assert iam.get_login_profile(UserName="j.alvarez")["LoginProfile"]["UserName"] == "j.alvarez"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="billing-api")
    assert len(iam.list_mfa_devices(UserName="m.okafor")["MFADevices"]) == 1
    assert iam.list_account_aliases()["AccountAliases"] == ["northwind-prod"]


def test_secrets_buckets_and_instances_are_where_the_scenario_puts_them(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    secrets = responder(mock_account, "secretsmanager")
    stored = json.loads(secrets.get_secret_value(SecretId="prod/billing-api/aws")["SecretString"])
    assert estate.workload is not None
    assert stored == {
        "aws_access_key_id": estate.workload.credential.access_key_id,
        "aws_secret_access_key": estate.workload.credential.secret_access_key,
    }
    s3 = responder(mock_account, "s3")
    listed = s3.list_objects_v2(Bucket="northwind-invoices")["Contents"]
    assert [o["Key"] for o in listed] == ["2026/02/invoice-10231.pdf", "2026/02/invoice-10232.pdf"]
    body = s3.get_object(Bucket="northwind-web-assets", Key="index.html")["Body"].read()
    assert body == b"<h1>Northwind</h1>"

    for region, count, kind in (("us-east-1", 3, "t3.medium"), ("eu-west-1", 1, "t3.small")):
        reservations = responder(mock_account, "ec2", region).describe_instances()["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        assert len(instances) == count and {i["InstanceType"] for i in instances} == {kind}
        assert all(i["State"]["Name"] == "running" for i in instances)
        assert all(i["LaunchTime"] < mock_account.clock.t0 for i in instances)
        assert sorted(i["InstanceId"] for i in instances) == sorted(estate.instances[region])


def test_what_is_created_during_the_run_is_dated_on_the_run_clock(
    mock_account: MockAccount, estate: SeededEstate, run_clock: FixedClock
) -> None:
    run_clock.t = 300.0
    iam = responder(mock_account, "iam")
    created = iam.create_access_key(UserName="billing-api")["AccessKey"]
    assert created["CreateDate"] == run_clock.t0 + timedelta(seconds=300)
    run_clock.t = 420.0
    assert iam.create_user(UserName="svc-new")["User"]["CreateDate"] == run_clock.t0 + timedelta(
        seconds=420
    )


def test_reset_empties_the_account_and_leaves_other_accounts_alone(
    mock_account: MockAccount, journal: Any, run_clock: FixedClock
) -> None:
    other = backend("iam", "111122223333")
    other.create_user(region_name="us-east-1", user_name="someone-elses")
    responder(mock_account, "iam").create_user(UserName="left-over")

    mock_account.reset(clock=run_clock, journal=journal)

    names = [u["UserName"] for u in responder(mock_account, "iam").list_users()["Users"]]
    assert names == ["gameday-framework", "incident-responder"]
    assert "someone-elses" in backend("iam", "111122223333").users


def test_write_profiles_writes_a_config_the_cli_and_sdks_read(
    mock_account: MockAccount, tmp_path: Path
) -> None:
    environment = mock_account.write_profiles(tmp_path)

    config = (tmp_path / "aws" / "config").read_text(encoding="utf-8")
    credentials = tmp_path / "aws" / "credentials"
    assert "[profile gameday]" in config
    assert f"endpoint_url = {mock_account.endpoint_url}" in config
    assert f"region = {mock_account.region}" in config
    assert mock_account.responder.credential.access_key_id in credentials.read_text(
        encoding="utf-8"
    )
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert environment == {
        "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": "gameday",
    }
