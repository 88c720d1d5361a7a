"""The journal says what the mock did: every change it records is in the mock's final state.

A library scenario is played in virtual time with the reference runbook (which rotates,
deletes and terminates with care) and with the careless one (which deletes what it finds),
on the test process's own mock, so moto's backends can be read once the run is over. The
journal's account is then built from the journal — the estate `world.seeded` describes
(and, for what that event does not list, the users' and roles' managed policies, IAM as the
seeding left it), then every state-changing `api.call` that succeeded, by whoever made it
(AWS's quarantine, the attacker's backdoors and miners, the team's fixes), applied in order
as the journal describes it (`EFFECTS`) — and compared with the mock's: its users and
nothing else, each user's keys and their status, login profiles and managed policies, its
roles and theirs, every instance in every region and its state, each secret's current key,
the customer's replies on AWS's support cases. Any difference is a call the journal
misreports (a request served as something else than it was journaled as, a change journaled
but not made, or made but not journaled). A state-changing action the journal records that
`EFFECTS` cannot check fails the test rather than being passed over.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from gameday.exercise.run import RunOptions, run_exercise
from gameday.journal import Event, read_journal
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.scenario.model import Scenario
from gameday.world.account import MockAccount, iam_backend
from gameday.world.cloudtrail import is_read_only
from gameday.world.estate import SeededEstate, seed_estate
from gameday.world.support import AWS_SUBMITTER

RUNBOOKS = PROJECT_ROOT / "runbooks"
SEED = 7
# The seed scenario (a backdoor user, miners in two regions, a workload's key rotated
# through its secret) and the one with every kind of foothold (a login profile, a role, a key
# on an existing user).
PLAYED = ("exported-keys-in-script", "persistence-four-footholds")
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")


# ── the account the journal describes ────────────────────────────────────────────────────


@dataclass
class User:
    keys: dict[str, str] = field(default_factory=dict)  # access key id → Active / Inactive
    console: bool = False


@dataclass
class Described:
    """The account as the journal tells it: what was seeded, and every change since."""

    users: dict[str, User] = field(default_factory=dict)
    # ("user" or "role", name) → the managed policies attached; a role is here while it exists
    attached: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    instances: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → region, state
    secrets: dict[tuple[str, str], str | None] = field(default_factory=dict)  # → key id
    replies: list[tuple[str, str]] = field(default_factory=list)  # case id, body
    regions: set[str] = field(default_factory=set)


def user_of(event: Event) -> str:
    """The user a call acts on: its UserName, else the caller's own (as IAM does)."""
    return str(event["params"].get("UserName") or event["principal"].get("user_name"))


def create_user(account: Described, event: Event) -> None:
    account.users[user_of(event)] = User()
    account.attached["user", user_of(event)] = set()


def delete_user(account: Described, event: Event) -> None:
    del account.users[user_of(event)]
    del account.attached["user", user_of(event)]


def create_key(account: Described, event: Event) -> None:
    account.users[user_of(event)].keys[str(event["result"]["AccessKeyId"])] = "Active"


def update_key(account: Described, event: Event) -> None:
    keys = account.users[user_of(event)].keys
    key = str(event["params"]["AccessKeyId"])
    assert key in keys, f"seq {event['seq']}: {key} is no key of {user_of(event)}"
    keys[key] = str(event["params"]["Status"])


def delete_key(account: Described, event: Event) -> None:
    del account.users[user_of(event)].keys[str(event["params"]["AccessKeyId"])]


def login_profile(present: bool) -> Callable[[Described, Event], None]:
    def apply(account: Described, event: Event) -> None:
        account.users[user_of(event)].console = present

    return apply


def policy(kind: str, attached: bool) -> Callable[[Described, Event], None]:
    def apply(account: Described, event: Event) -> None:
        name = user_of(event) if kind == "user" else str(event["params"]["RoleName"])
        policies = account.attached[kind, name]
        arn = str(event["params"]["PolicyArn"])
        if attached:
            policies.add(arn)
        else:
            policies.remove(arn)

    return apply


def role(exists: bool) -> Callable[[Described, Event], None]:
    def apply(account: Described, event: Event) -> None:
        name = str(event["params"]["RoleName"])
        if exists:
            account.attached["role", name] = set()
        else:
            del account.attached["role", name]

    return apply


def run_instances(account: Described, event: Event) -> None:
    created = event["result"]["InstanceIds"]
    assert created, f"seq {event['seq']}: RunInstances journaled no instance"
    for instance in created:
        account.instances[instance] = (str(event["region"]), "running")


def instance_state(state: str) -> Callable[[Described, Event], None]:
    def apply(account: Described, event: Event) -> None:
        named = [v for k, v in event["params"].items() if k.startswith("InstanceId")]
        assert named, f"seq {event['seq']}: no instance named"
        for instance in named:
            region, _ = account.instances[str(instance)]
            assert region == event["region"], f"seq {event['seq']}: {instance} is in {region}"
            account.instances[str(instance)] = (region, state)

    return apply


def put_secret_value(account: Described, event: Event) -> None:
    key = (str(event["region"]), str(event["params"]["SecretId"]))
    assert key in account.secrets, f"seq {event['seq']}: no secret {key}"
    account.secrets[key] = event["result"].get("SecretAccessKeyId")


def reply_to_case(account: Described, event: Event) -> None:
    params = event["params"]
    account.replies.append((str(params.get("caseId")), str(params["communicationBody"])))


def nothing_to_keep(account: Described, event: Event) -> None:
    """An event put on a bus with no rule nor archive: EventBridge keeps nothing of it."""


EFFECTS: dict[tuple[str, str], Callable[[Described, Event], None]] = {
    ("iam", "CreateUser"): create_user,
    ("iam", "DeleteUser"): delete_user,
    ("iam", "CreateAccessKey"): create_key,
    ("iam", "UpdateAccessKey"): update_key,
    ("iam", "DeleteAccessKey"): delete_key,
    ("iam", "CreateLoginProfile"): login_profile(True),
    ("iam", "DeleteLoginProfile"): login_profile(False),
    ("iam", "AttachUserPolicy"): policy("user", True),
    ("iam", "DetachUserPolicy"): policy("user", False),
    ("iam", "AttachRolePolicy"): policy("role", True),
    ("iam", "DetachRolePolicy"): policy("role", False),
    ("iam", "CreateRole"): role(True),
    ("iam", "DeleteRole"): role(False),
    ("ec2", "RunInstances"): run_instances,
    ("ec2", "TerminateInstances"): instance_state("terminated"),
    ("ec2", "StopInstances"): instance_state("stopped"),
    ("ec2", "StartInstances"): instance_state("running"),
    ("secretsmanager", "PutSecretValue"): put_secret_value,
    ("support", "AddCommunicationToCase"): reply_to_case,
    ("events", "PutEvents"): nothing_to_keep,
}


def described(events: list[Event], seeded_policies: dict[tuple[str, str], set[str]]) -> Described:
    """The account the journal describes: `world.seeded` (and the managed policies seeded),
    then every change that succeeded."""
    account = Described(attached={k: set(v) for k, v in seeded_policies.items()})
    seeded = next(e for e in events if e["kind"] == "world.seeded")
    for user in seeded["users"]:
        account.users[user["name"]] = User(
            {key["access_key_id"]: key["status"] for key in user["keys"]}, bool(user["console"])
        )
    for instance in seeded["instances"]:
        account.instances[instance["instance_id"]] = (instance["region"], "running")
    for secret in seeded["secrets"]:
        account.secrets[secret["region"], secret["name"]] = secret["access_key_id"]
    account.regions = {str(i["region"]) for i in seeded["instances"]}
    for event in events:
        if event["kind"] != "api.call":
            continue
        account.regions.add(str(event["region"]))
        action = (str(event["service"]), str(event["action"]))
        if int(event["status"]) >= 300 or is_read_only(*action):
            continue
        effect = EFFECTS.get(action)
        assert effect is not None, (
            f"seq {event['seq']}: the journal records {action[0]}:{action[1]}, whose effect "
            "this test cannot check yet — add it to EFFECTS"
        )
        effect(account, event)
    return account


# ── the mock's account ────────────────────────────────────────────────────────────────────


def managed_policies(mock: MockAccount) -> dict[tuple[str, str], set[str]]:
    """Every user's and role's managed policies in the mock, by ("user" or "role", name)."""
    iam = iam_backend(mock.account_id)
    users = {("user", name): set(user.managed_policies) for name, user in iam.users.items()}
    roles = {("role", role.name): set(role.managed_policies) for role in iam.roles.values()}
    return users | roles


def disagreements(account: Described, mock: MockAccount) -> list[str]:
    """Where the mock's final state differs from what the journal describes."""
    from moto.ec2.models import ec2_backends
    from moto.secretsmanager.models import secretsmanager_backends

    found: list[str] = []

    def differ(what: str, journal: object, actual: object) -> None:
        if journal != actual:
            found.append(f"{what}: the journal says {journal!r}, the mock has {actual!r}")

    iam = iam_backend(mock.account_id)
    differ("users", sorted(account.users), sorted(iam.users))
    for name, user in account.users.items():
        if name not in iam.users:
            continue
        real = iam.users[name]
        differ(f"{name}'s keys", user.keys, {k.access_key_id: k.status for k in real.access_keys})
        differ(f"{name}'s login profile", user.console, real.password is not None)
    policies = managed_policies(mock)
    roles = sorted(name for kind, name in account.attached if kind == "role")
    differ("roles", roles, sorted(name for kind, name in policies if kind == "role"))
    for holder, attached in account.attached.items():
        if holder in policies:
            differ(f"the managed policies of {' '.join(holder)}", attached, policies[holder])

    instances = {
        instance.id: (region, instance.state)
        for region in sorted(account.regions)
        for instance in ec2_backends[mock.account_id][region].all_instances()
    }
    differ("instances", account.instances, instances)

    for (region, name), key in account.secrets.items():
        secret = secretsmanager_backends[mock.account_id][region].secrets.get(name)
        if secret is None:
            differ(f"secret {name}", key, None)
            continue
        value = str(secret.versions[secret.default_version_id].get("secret_string") or "")
        held = _KEY_ID.search(value)
        if key is not None or held is not None:
            differ(f"secret {name}'s key", key, held.group(0) if held else None)

    replies = [
        (case.case_id, communication.body)
        for case in mock.support.cases()
        for communication in case.communications
        if communication.submitted_by != AWS_SUBMITTER
    ]
    differ("the customer's replies on AWS's cases", account.replies, replies)
    return found


# ── the runs ──────────────────────────────────────────────────────────────────────────────


@pytest.mark.slow
@pytest.mark.parametrize("runbook", ["reference", "careless"])
@pytest.mark.parametrize("scenario_id", PLAYED)
def test_every_change_the_journal_records_is_in_the_mock_and_nothing_else(
    scenario_id: str,
    runbook: str,
    tmp_path: Path,
    mock_server: MockAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seeded: dict[tuple[str, str], set[str]] = {}

    def seed_and_look(account: MockAccount, scenario: Scenario, *, seed: int) -> SeededEstate:
        estate = seed_estate(account, scenario, seed=seed)
        seeded.update(managed_policies(account))  # what `world.seeded` does not list
        return estate

    monkeypatch.setattr("gameday.exercise.run.seed_estate", seed_and_look)
    options = RunOptions(
        team=runbook,
        out=tmp_path / "run",
        clock="virtual",
        responder=str(RUNBOOKS / f"{runbook}.py"),
        seed=SEED,
        live=False,
        account=mock_server,  # left running after the run, its backends in this process
    )
    result = run_exercise(SCENARIOS / f"{scenario_id}.yaml", options, Console(file=io.StringIO()))
    events = read_journal(result.run_dir.journal)
    assert seeded, "the estate was not seeded through seed_estate"
    assert disagreements(described(events, seeded), mock_server) == []
    # what it would catch: a request journaled as a CreateUser it was not served as
    call = next(e for e in events if e["kind"] == "api.call")
    forged = {**call, "seq": len(events) + 1, "service": "iam", "action": "CreateUser",
              "status": 200, "params": {"UserName": "journaled-only"}}  # fmt: skip
    users = sorted(described(events, seeded).users)
    assert disagreements(described([*events, forged], seeded), mock_server) == [
        f"users: the journal says {sorted([*users, 'journaled-only'])}, the mock has {users}"
    ]
    # and the runs did change the account, each in its own way
    changed = {
        (e["actor"], e["action"])
        for e in events
        if e["kind"] == "api.call"
        and int(e["status"]) < 300
        and not is_read_only(str(e["service"]), str(e["action"]))
    }
    assert ("framework", "AttachUserPolicy") in changed
    assert ("attacker", "CreateAccessKey") in changed
    assert any(actor == "responder" for actor, _ in changed), json.dumps(sorted(changed))
