"""The mock account: where it listens, who signs what, the seeded estate and its dates."""

from __future__ import annotations

import itertools
import json
import secrets
import socket
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sweeps import library_params

from gameday.journal import FixedClock, Journal, read_journal
from gameday.paths import SCENARIOS
from gameday.scenario import Scenario, load_scenario
from gameday.scenario.model import DEFAULT_RESPONDERS_USER
from gameday.world.account import ADMINISTRATOR_ACCESS, MockAccount, backend
from gameday.world.decoys import SECRET_ALPHABET, Credential, account_of, estate_credentials
from gameday.world.estate import SeededEstate, seed_estate, seeded_event
from gameday.world.gateway import find_access_key

LIBRARY = sorted(SCENARIOS.glob("*.yaml"))


def responder(account: MockAccount, service: str, region: str | None = None) -> Any:
    session = account.session(account.responder.credential, region=region, framework_client=False)
    return session.client(service)


def test_moto_finds_a_key_s_account_without_creating_backends(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from, iam_backends

    def partitions() -> dict[str, set[str]]:
        return {account: set(dict.keys(held)) for account, held in list(iam_backends.items())}

    key = mock_account.responder.credential.access_key_id
    before = partitions()
    assert get_account_id_from(key) == mock_account.account_id
    assert get_account_id_from("AKIA" + "Z" * 16) == DEFAULT_ACCOUNT_ID  # nobody's key
    assert partitions() == before  # no partition's backend made by looking
    backend("iam", mock_account.account_id).delete_access_key(key, mock_account.responder.user_name)
    assert get_account_id_from(key) == DEFAULT_ACCOUNT_ID


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


def test_the_framework_is_no_user_or_key_of_the_account_yet_acts_in_it(
    mock_account: MockAccount, journal: Journal
) -> None:
    framework = mock_account.framework_credential
    assert mock_account.client("iam").list_users()["Users"] == []  # no tenant of the exercise
    assert find_access_key(framework.access_key_id) is None
    assert not framework.access_key_id.startswith("AKIA")
    assert mock_account.gateway.framework_credential == framework

    mock_account.client("iam").create_user(UserName="made-by-aws")
    assert "made-by-aws" in mock_account.iam().users  # the scenario's account, nobody else's
    call = [e for e in read_journal(journal.path) if e["kind"] == "api.call"][-1]
    assert call["action"] == "CreateUser"
    assert call["actor"] == "framework" and call["access_key_id"] == framework.access_key_id
    assert call["principal"] == {
        "type": "AWSService",
        "invoked_by": "AWS Internal",
        "account_id": mock_account.account_id,
    }


def test_the_framework_credential_is_drawn_anew_for_every_account_object(
    mock_account: MockAccount, seed_scenario: Scenario
) -> None:
    other = MockAccount(seed_scenario.account.id, FixedClock(), seed=mock_account.seed)
    ours, theirs = mock_account.framework_credential, other.framework_credential
    # one seed journals one key id; the secret is this process's and this object's alone
    assert ours.access_key_id == theirs.access_key_id
    assert ours.secret_access_key != theirs.secret_access_key
    assert len(ours.secret_access_key) == 40 and set(ours.secret_access_key) <= set(SECRET_ALPHABET)


def test_the_framework_key_id_from_the_journal_signs_nothing(
    mock_account: MockAccount, estate: SeededEstate, seed_scenario: Scenario, journal: Journal
) -> None:
    key_id = seeded_event(seed_scenario, estate, mock_account)["principals"]["framework"]
    assert key_id == mock_account.framework_credential.access_key_id
    guesses = ["".join(secrets.choice(SECRET_ALPHABET) for _ in range(40)), "x" * 40]
    for secret, framework_client in itertools.product(guesses, (False, True)):
        guessed = mock_account.session(
            Credential(key_id, secret), framework_client=framework_client
        )
        for service, call, params in (
            ("sts", "get_caller_identity", {}),
            ("iam", "create_user", {"UserName": "hacked"}),
        ):
            with pytest.raises(ClientError) as refused:
                getattr(guessed.client(service), call)(**params)
            assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "hacked" not in mock_account.iam().users
    calls = [e for e in read_journal(journal.path) if e["kind"] == "api.call"]
    assert len(calls) == 8 and all(c["status"] == 403 for c in calls)
    # without the framework client's token the caller is a person, never AWS
    assert [calls[i]["actor"] for i in (0, 1, 4, 5)] == ["responder"] * 4


def test_the_responders_are_an_old_admin_of_the_estate_with_a_history(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    t0 = mock_account.clock.t0
    me = mock_account.responder
    before = mock_account.iam().access_keys[me.credential.access_key_id].last_used.timestamp
    iam = responder(mock_account, "iam")
    assert me.user_name == DEFAULT_RESPONDERS_USER
    identity = responder(mock_account, "sts").get_caller_identity()
    assert (
        identity["Arn"] == me.arn == f"arn:aws:iam::{mock_account.account_id}:user/{me.user_name}"
    )
    assert account_of(me.credential.access_key_id) == mock_account.account_id

    user = iam.get_user(UserName=me.user_name)["User"]
    assert timedelta(days=700) <= t0 - user["CreateDate"] <= timedelta(days=760)
    assert user["UserId"].startswith("AIDA")
    groups = [g["GroupName"] for g in iam.list_groups_for_user(UserName=me.user_name)["Groups"]]
    assert groups == ["platform-admins"]  # the estate's admin group: AdministratorAccess
    assert iam.get_login_profile(UserName=me.user_name)["LoginProfile"]["UserName"] == me.user_name
    (device,) = iam.list_mfa_devices(UserName=me.user_name)["MFADevices"]
    assert device["EnableDate"] < t0 - timedelta(days=600)

    (key,) = iam.list_access_keys(UserName=me.user_name)["AccessKeyMetadata"]
    assert (
        key["AccessKeyId"]
        == me.credential.access_key_id
        == estate.responders.credential.access_key_id
    )
    assert timedelta(days=84) <= t0 - key["CreateDate"] <= timedelta(days=97)
    # the calls above used the key just now, as AWS would record; before them, days ago
    assert timedelta(days=2) <= t0 - before.replace(tzinfo=t0.tzinfo) <= timedelta(days=5)
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["LastUsedDate"] == t0
    assert mock_account.gateway.registry.actor_of(key["AccessKeyId"]) == "responder"


def test_the_responders_default_user_has_administrator_access_without_an_admin_group(
    mock_account: MockAccount, seed_scenario: Scenario
) -> None:
    estate = seed_scenario.account.estate
    plain = estate.model_copy(
        update={"groups": [g for g in estate.groups if g.name == "developers"]}
    )
    users = [u.model_copy(update={"groups": []}) for u in estate.users]
    account = seed_scenario.account.model_copy(
        update={"estate": plain.model_copy(update={"users": users})}
    )
    seed_estate(mock_account, seed_scenario.model_copy(update={"account": account}), seed=7)
    iam = responder(mock_account, "iam")
    attached = iam.list_attached_user_policies(UserName=DEFAULT_RESPONDERS_USER)
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [ADMINISTRATOR_ACCESS]
    assert iam.list_groups_for_user(UserName=DEFAULT_RESPONDERS_USER)["Groups"] == []


def test_a_scenario_may_name_the_responders_user(
    mock_account: MockAccount, seed_scenario: Scenario, journal: Journal
) -> None:
    named = seed_scenario.model_copy(
        update={"responders": seed_scenario.responders.model_copy(update={"user": "m.okafor"})}
    )
    estate = seed_estate(mock_account, named, seed=7)
    okafor = estate_credentials(named, 7)["okafor-cli"]
    assert mock_account.responder.user_name == "m.okafor"
    assert mock_account.responder.credential == okafor == estate.responders.credential
    assert responder(mock_account, "sts").get_caller_identity()["Arn"].endswith(":user/m.okafor")
    names = {u["UserName"] for u in responder(mock_account, "iam").list_users()["Users"]}
    assert names == {u.name for u in named.account.estate.users}  # nobody added
    assert seeded_event(named, estate, mock_account)["principals"]["responder"] == [
        okafor.access_key_id
    ]


@pytest.mark.parametrize("scenario_id", library_params(p.stem for p in LIBRARY))
def test_the_responders_profile_lists_only_the_estate(
    mock_account: MockAccount,
    journal: Journal,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario_id: str,
) -> None:
    scenario = load_scenario(SCENARIOS / f"{scenario_id}.yaml")
    # A person's tools sign with the machine's time: a run whose clock is real time.
    now = FixedClock(datetime.now(UTC).replace(microsecond=0))
    mock_account.reset(
        clock=now,
        journal=journal,
        account_id=scenario.account.id,
        regions=scenario.account.regions,
        support_plan=scenario.account.support_plan,
        seed=7,
    )
    estate = seed_estate(mock_account, scenario, seed=7)
    for name, value in mock_account.write_profiles(tmp_path).items():
        monkeypatch.setenv(name, value)
    profile = boto3.Session()  # the generated profile, as the team's own tools read it
    users = profile.client("iam").list_users()["Users"]

    expected = {u.name for u in scenario.account.estate.users}
    if scenario.responders.user is None:
        expected.add(DEFAULT_RESPONDERS_USER)
    assert {u["UserName"] for u in users} == expected == {u.name for u in estate.users}
    assert profile.client("sts").get_caller_identity()["Arn"] == mock_account.responder.arn
    assert not any(u["Path"].startswith("/gameday") for u in users)


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
    mock_account: MockAccount, estate: SeededEstate, journal: Any, run_clock: FixedClock
) -> None:
    other = backend("iam", "111122223333")
    other.create_user(region_name="us-east-1", user_name="someone-elses")
    responder(mock_account, "iam").create_user(UserName="left-over")

    mock_account.reset(clock=run_clock, journal=journal)

    assert mock_account.iam().users == {}
    with pytest.raises(RuntimeError, match="seed it first"):
        mock_account.responder  # noqa: B018 — the responders' user came with the old estate
    assert "someone-elses" in backend("iam", "111122223333").users


def test_write_profiles_writes_a_config_the_cli_and_sdks_read(
    mock_account: MockAccount, estate: SeededEstate, tmp_path: Path
) -> None:
    environment = mock_account.write_profiles(tmp_path)

    config = (tmp_path / "aws" / "config").read_text(encoding="utf-8")
    credentials = tmp_path / "aws" / "credentials"
    assert "[profile gameday]" in config
    assert f"endpoint_url = {mock_account.endpoint_url}" in config
    assert f"region = {mock_account.region}" in config
    written = credentials.read_text(encoding="utf-8")
    assert mock_account.responder.credential.access_key_id in written
    assert mock_account.framework_credential.secret_access_key not in written
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert environment == {
        "AWS_CONFIG_FILE": str(tmp_path / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_PROFILE": "gameday",
    }


def test_every_kind_of_seeded_resource_can_be_deleted(
    mock_account: MockAccount, estate: SeededEstate
) -> None:
    """The estate rewrites ids moto drew (so they encode the account): moto must still find
    each resource by them, or a responder's delete fails with an HTTP 500."""
    iam = responder(mock_account, "iam")
    for role in ("web-instance", "partner-audit"):
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=role)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="partner-audit")

    user = "j.alvarez"
    for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_login_profile(UserName=user)
    for device in iam.list_mfa_devices(UserName=user)["MFADevices"]:
        iam.deactivate_mfa_device(UserName=user, SerialNumber=device["SerialNumber"])
        iam.delete_virtual_mfa_device(SerialNumber=device["SerialNumber"])
    for group in iam.list_groups_for_user(UserName=user)["Groups"]:
        iam.remove_user_from_group(UserName=user, GroupName=group["GroupName"])
    iam.delete_user(UserName=user)

    for member in iam.get_group(GroupName="developers")["Users"]:
        iam.remove_user_from_group(UserName=member["UserName"], GroupName="developers")
    for attached in iam.list_attached_group_policies(GroupName="developers")["AttachedPolicies"]:
        iam.detach_group_policy(GroupName="developers", PolicyArn=attached["PolicyArn"])
    iam.delete_group(GroupName="developers")

    policy = f"arn:aws:iam::{mock_account.account_id}:policy/billing-api-runtime"
    iam.detach_user_policy(UserName="billing-api", PolicyArn=policy)
    iam.delete_policy(PolicyArn=policy)

    secrets = responder(mock_account, "secretsmanager")
    secrets.delete_secret(SecretId="prod/web/database", ForceDeleteWithoutRecovery=True)
    s3 = responder(mock_account, "s3")
    for listed in s3.list_objects_v2(Bucket="northwind-invoices")["Contents"]:
        s3.delete_object(Bucket="northwind-invoices", Key=listed["Key"])
    s3.delete_bucket(Bucket="northwind-invoices")
    ec2 = responder(mock_account, "ec2", "eu-west-1")
    [instance] = estate.instances["eu-west-1"]
    state = ec2.terminate_instances(InstanceIds=[instance])["TerminatingInstances"][0]
    assert state["CurrentState"]["Name"] in ("shutting-down", "terminated")


_FIRST_REQUESTS_AT_ONCE = r"""
import sys
from concurrent.futures import ThreadPoolExecutor
from gameday.journal import FixedClock
from gameday.world.account import MockAccount

account = MockAccount("123456789012", FixedClock(), regions=("us-east-1",), seed=3)
account.start()
calls = [("sts", "get_caller_identity"), ("iam", "list_users"), ("ec2", "describe_regions"),
         ("s3", "list_buckets"), ("secretsmanager", "list_secrets")] * 4
with ThreadPoolExecutor(max_workers=8) as pool:
    futures = [pool.submit(lambda c: getattr(account.client(c[0]), c[1])(), c) for c in calls]
    for future in futures:
        future.result()
wanted = ("moto.iam.models", "moto.sts.models", "moto.ec2.models")
missing = [m for m in wanted if m not in sys.modules]
account.stop()
print("ok" if not missing else f"not imported before serving: {missing}")
"""


def test_a_fresh_process_serves_its_first_requests_from_many_threads_at_once(
    tmp_path: Path,
) -> None:
    # moto's models import one another; imported lazily by two request threads at once they
    # deadlocked Python's import locks (a 500 on the first STS call of a run). The account
    # imports them before it serves, so a new process's first burst of requests all succeed.
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUESTS_AT_ONCE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "ok"
    assert "Traceback" not in done.stderr
