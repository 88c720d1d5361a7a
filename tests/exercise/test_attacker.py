"""The attacker's techniques played against the real mock account, over HTTP through the gateway.

Each technique is detonated with the leaked key through the exercise's own client factory
(`attacker_clients`), then judged three ways: what the journal says (the calls are the
attacker's, from foreign addresses with tool user agents, and an `attacker.technique` event
says what was left behind), what a responder finds in the account with boto3, and what
happens once a responder has deactivated the leaked key — the technique fails the way AWS
fails it, unless the attacker minted itself a key earlier.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import TypeAdapter

from gameday.exercise.attacker import Attacker, AttackerContext, Outcome, Planned
from gameday.exercise.attacker.base import (
    ATTACKER_SOURCE_IPS,
    ATTACKER_USER_AGENTS,
    attacker_clients,
)
from gameday.journal import Event, FixedClock, Journal, read_journal
from gameday.scenario import Scenario
from gameday.scenario.model import Technique as TechniqueSpec
from gameday.world.account import MockAccount
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate, seed_estate
from gameday.world.quarantine import QUARANTINE_POLICY_ARNS

SEED = 7
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
TRAIL = "northwind-management-events"
MINING_REGIONS = ["eu-west-1", "sa-east-1"]  # one the company uses, one it never does
OUTSIDE_ACCOUNT = "193672423079"

# Every technique once, at offsets that are deliberately out of order; whoami is planned
# before the attacker's first use of the key.
TECHNIQUES: list[dict[str, Any]] = [
    {"technique": "aws.discovery.whoami", "at": 30},
    {"technique": "aws.discovery.enumerate", "at": 120, "regions": ["us-east-1", "eu-west-1"]},
    {"technique": "aws.persistence.iam-create-backdoor-user", "at": 240},
    {"technique": "aws.persistence.iam-backdoor-existing-user", "at": 250, "user_name": "m.okafor"},
    {
        "technique": "aws.persistence.iam-create-login-profile",
        "at": 260,
        "user_name": "ci-deployer",
    },
    {
        "technique": "aws.persistence.iam-create-backdoor-role",
        "at": 270,
        "trusted_account": OUTSIDE_ACCOUNT,
    },
    {
        "technique": "aws.impact.ec2-mining",
        "at": 360,
        "regions": MINING_REGIONS,
        "count": 2,
        "relaunch_every": 600,
    },
    {"technique": "aws.credential-access.secretsmanager-retrieve", "at": 300},
    {"technique": "aws.exfiltration.s3-download", "at": 310},
    {"technique": "aws.execution.lambda-create-function", "at": 420},
    {"technique": "aws.defense-evasion.cloudtrail-stop-logging", "at": 200},
]


@pytest.fixture(scope="module")
def scenario(seed_scenario: Scenario) -> Scenario:
    """The seed scenario with a CloudTrail trail in its estate and every technique planned."""
    raw = seed_scenario.model_dump()
    raw["account"]["estate"]["trails"] = [
        {"name": TRAIL, "bucket": "northwind-invoices", "region": "us-east-1"}
    ]
    raw["attacker"] = {"first_use": 80, "techniques": TECHNIQUES}
    return Scenario.model_validate(raw)


@pytest.fixture
def seeded(mock_account: MockAccount, scenario: Scenario) -> SeededEstate:
    return seed_estate(mock_account, scenario, seed=SEED)


def make_attacker(
    account: MockAccount, scenario: Scenario, seeded: SeededEstate, journal: Journal
) -> Attacker:
    """An attacker wired as the exercise wires it: the leaked key, the attacker's clients."""
    context = AttackerContext(
        account_id=account.account_id,
        leaked=seeded.leaked.credential,
        client_factory=attacker_clients(account, random.Random(SEED)),
        regions_in_use=list(scenario.account.regions),
        rng=random.Random(SEED),
    )
    return Attacker(scenario, context, journal)


@pytest.fixture
def attacker(
    mock_account: MockAccount, scenario: Scenario, seeded: SeededEstate, journal: Journal
) -> Attacker:
    return make_attacker(mock_account, scenario, seeded, journal)


def spec_of(scenario: Scenario, technique_id: str) -> TechniqueSpec:
    return next(s for s in scenario.attacker.techniques if s.technique == technique_id)


@dataclass(frozen=True)
class Detonation:
    outcome: Outcome | None
    calls: list[Event]  # the api.call events it caused
    events: list[Event]  # everything it journaled


def detonate(
    attacker: Attacker, journal: Journal, technique_id: str, *, repeat: bool = False
) -> Detonation:
    before = len(read_journal(journal.path))
    outcome = attacker.detonate(spec_of(attacker.scenario, technique_id), repeat=repeat)
    events = read_journal(journal.path)[before:]
    return Detonation(outcome, [e for e in events if e["kind"] == "api.call"], events)


def technique_event(detonation: Detonation) -> Event:
    (event,) = [e for e in detonation.events if e["kind"] == "attacker.technique"]
    return event


def responder(account: MockAccount, service: str, region: str | None = None) -> Any:
    """A plain boto3 client with the responders' key, as a person at a terminal uses."""
    session = account.session(account.responder.credential, region=region, framework_client=False)
    return session.client(service)


def deactivate_leaked_key(account: MockAccount, seeded: SeededEstate) -> None:
    responder(account, "iam").update_access_key(
        UserName=seeded.leaked.user_name,
        AccessKeyId=seeded.leaked.credential.access_key_id,
        Status="Inactive",
    )


def error_code(call: Callable[[], object]) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return str(raised.value.response["Error"]["Code"])


def mining_instances(account: MockAccount, region: str) -> set[str]:
    """The p3 instances pending or running in `region`, as a responder's sweep finds them."""
    found = responder(account, "ec2", region).describe_instances(
        Filters=[
            {"Name": "instance-type", "Values": ["p3.16xlarge"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    return {i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]}


def created_ids(outcome: Outcome | None, kind: str, region: str | None = None) -> set[str]:
    assert outcome is not None
    return {
        r.id for r in outcome.created if r.kind == kind and (region is None or r.region == region)
    }


# ── what each technique does to the account, and the account without it ────────────────


@dataclass(frozen=True)
class World:
    account: MockAccount
    seeded: SeededEstate
    scenario: Scenario


def whoami_effect(world: World, outcome: Outcome) -> None:
    assert outcome.loot["arn"] == world.seeded.user_arns[world.seeded.leaked.user_name]


def enumerate_effect(world: World, outcome: Outcome) -> None:
    estate = world.scenario.account.estate
    loot = outcome.loot
    # the estate and nobody else: the exercise's machinery is no user of the account
    assert set(loot["users"]) == {u.name for u in world.seeded.users}
    assert world.account.responder.user_name in loot["users"]
    assert set(loot["roles"]) >= {r.name for r in estate.roles}
    assert loot["own_policies"] == ["arn:aws:iam::aws:policy/AdministratorAccess"]  # "temporarily"
    assert sorted(loot["buckets"]) == sorted(b.name for b in estate.buckets)
    assert sorted(loot["instances"]) == sorted(
        f"{region}/{i}" for region, ids in world.seeded.instances.items() for i in ids
    )
    assert sorted(loot["secrets"]) == sorted(f"{s.region}/{s.name}" for s in estate.secrets)
    assert loot["functions"] == []


def backdoor_user_effect(world: World, outcome: Outcome) -> None:
    iam = responder(world.account, "iam")
    attached = iam.list_attached_user_policies(UserName="svc-backup-admin")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]
    keys = iam.list_access_keys(UserName="svc-backup-admin")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [
        (key, "Active") for key in created_ids(outcome, "access-key")
    ]
    assert created_ids(outcome, "user") == {"svc-backup-admin"}


def backdoor_user_absent(world: World) -> None:
    iam = responder(world.account, "iam")
    assert error_code(lambda: iam.get_user(UserName="svc-backup-admin")) == "NoSuchEntity"


def existing_user_effect(world: World, outcome: Outcome) -> None:
    keys = responder(world.account, "iam").list_access_keys(UserName="m.okafor")
    active = {k["AccessKeyId"] for k in keys["AccessKeyMetadata"] if k["Status"] == "Active"}
    assert active == {world.seeded.credential("okafor-cli").access_key_id} | created_ids(
        outcome, "access-key"
    )
    assert len(active) == 2


def existing_user_absent(world: World) -> None:
    keys = responder(world.account, "iam").list_access_keys(UserName="m.okafor")
    assert [k["AccessKeyId"] for k in keys["AccessKeyMetadata"]] == [
        world.seeded.credential("okafor-cli").access_key_id
    ]


def login_profile_effect(world: World, outcome: Outcome) -> None:
    profile = responder(world.account, "iam").get_login_profile(UserName="ci-deployer")
    assert profile["LoginProfile"]["UserName"] == "ci-deployer"
    assert created_ids(outcome, "login-profile") == {"ci-deployer"}


def login_profile_absent(world: World) -> None:
    iam = responder(world.account, "iam")
    assert error_code(lambda: iam.get_login_profile(UserName="ci-deployer")) == "NoSuchEntity"


ROLE = "OrganizationAccountAccessRole-bkp"


def backdoor_role_effect(world: World, outcome: Outcome) -> None:
    iam = responder(world.account, "iam")
    trust = iam.get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    document = trust if isinstance(trust, dict) else json.loads(trust)
    principals = [s["Principal"]["AWS"] for s in document["Statement"]]
    assert principals == [f"arn:aws:iam::{OUTSIDE_ACCOUNT}:root"]
    attached = iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]


def backdoor_role_absent(world: World) -> None:
    iam = responder(world.account, "iam")
    assert error_code(lambda: iam.get_role(RoleName=ROLE)) == "NoSuchEntity"


def mining_effect(world: World, outcome: Outcome) -> None:
    for region in MINING_REGIONS:
        running = mining_instances(world.account, region)
        assert len(running) == 2
        assert running == created_ids(outcome, "instance", region)


def mining_absent(world: World) -> None:
    for region in MINING_REGIONS:
        assert mining_instances(world.account, region) == set()


def secrets_effect(world: World, outcome: Outcome) -> None:
    assert sorted(outcome.loot["secrets"]) == sorted(world.seeded.secrets)


def download_effect(world: World, outcome: Outcome) -> None:
    assert sorted(outcome.loot["objects"]) == sorted(
        f"s3://{bucket.name}/{item.key}"
        for bucket in world.scenario.account.estate.buckets
        for item in bucket.objects
    )


FUNCTION = "system-metrics-agent"


def lambda_effect(world: World, outcome: Outcome) -> None:
    function = responder(world.account, "lambda", "us-east-1").get_function(FunctionName=FUNCTION)
    role = responder(world.account, "iam").get_role(RoleName=f"{FUNCTION}-role")["Role"]
    assert function["Configuration"]["Role"] == role["Arn"]
    assert created_ids(outcome, "function", "us-east-1") == {FUNCTION}


def lambda_absent(world: World) -> None:
    functions = responder(world.account, "lambda", "us-east-1").list_functions()["Functions"]
    assert functions == []


def trail_logging(world: World) -> bool:
    status = responder(world.account, "cloudtrail", "us-east-1").get_trail_status(Name=TRAIL)
    return bool(status["IsLogging"])


def stop_logging_effect(world: World, outcome: Outcome) -> None:
    assert not trail_logging(world)
    assert outcome.loot["stopped_trails"] == [TRAIL]


def stop_logging_absent(world: World) -> None:
    assert trail_logging(world)


@dataclass(frozen=True)
class Case:
    technique: str
    actions: frozenset[str]  # the API actions its calls make, in the journal
    created: tuple[str, ...]  # the kinds of resources it reports leaving behind
    effect: Callable[[World, Outcome], None]
    absent: Callable[[World], None] | None  # the account without its effect, if it has one
    dead_key_code: str  # what AWS answers a disabled key, in that protocol


CASES = [
    Case(
        "aws.discovery.whoami",
        frozenset({"GetCallerIdentity"}),
        (),
        whoami_effect,
        None,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.discovery.enumerate",
        frozenset(
            {
                "GetCallerIdentity",
                "ListUsers",
                "ListRoles",
                "ListAttachedUserPolicies",
                "ListBuckets",
                "DescribeInstances",
                "ListSecrets",
                "ListFunctions",
            }
        ),
        (),
        enumerate_effect,
        None,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.persistence.iam-create-backdoor-user",
        frozenset({"CreateUser", "AttachUserPolicy", "CreateAccessKey"}),
        ("user", "access-key"),
        backdoor_user_effect,
        backdoor_user_absent,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.persistence.iam-backdoor-existing-user",
        frozenset({"CreateAccessKey"}),
        ("access-key",),
        existing_user_effect,
        existing_user_absent,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.persistence.iam-create-login-profile",
        frozenset({"CreateLoginProfile"}),
        ("login-profile",),
        login_profile_effect,
        login_profile_absent,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.persistence.iam-create-backdoor-role",
        frozenset({"CreateRole", "AttachRolePolicy"}),
        ("role",),
        backdoor_role_effect,
        backdoor_role_absent,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.impact.ec2-mining",
        frozenset({"DescribeRegions", "RunInstances"}),
        ("instance", "instance", "instance", "instance"),
        mining_effect,
        mining_absent,
        "AuthFailure",
    ),
    Case(
        "aws.credential-access.secretsmanager-retrieve",
        frozenset({"ListSecrets", "GetSecretValue"}),
        (),
        secrets_effect,
        None,
        "UnrecognizedClientException",
    ),
    Case(
        "aws.exfiltration.s3-download",
        frozenset({"ListBuckets", "ListObjectsV2", "GetObject"}),
        (),
        download_effect,
        None,
        "InvalidAccessKeyId",
    ),
    Case(
        "aws.execution.lambda-create-function",
        frozenset({"CreateRole", "CreateFunction"}),
        ("role", "function"),
        lambda_effect,
        lambda_absent,
        "InvalidClientTokenId",
    ),
    Case(
        "aws.defense-evasion.cloudtrail-stop-logging",
        frozenset({"DescribeTrails", "StopLogging"}),
        (),
        stop_logging_effect,
        stop_logging_absent,
        "UnrecognizedClientException",
    ),
]


def test_the_cases_cover_every_technique_of_the_scenario(scenario: Scenario) -> None:
    assert sorted(c.technique for c in CASES) == sorted(
        s.technique for s in scenario.attacker.techniques
    )


@pytest.mark.parametrize("case", CASES, ids=[c.technique for c in CASES])
def test_a_technique_acts_as_the_attacker_and_leaves_its_mark_on_the_account(
    case: Case,
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
) -> None:
    world = World(mock_account, seeded, scenario)
    if case.absent is not None:
        case.absent(world)

    done = detonate(attacker, journal, case.technique)

    assert done.outcome is not None
    assert done.outcome.status == "succeeded", done.outcome.error_codes
    assert {c["action"] for c in done.calls} == case.actions
    assert all(c["status"] < 300 for c in done.calls)
    assert {c["actor"] for c in done.calls} == {"attacker"}
    assert {c["access_key_id"] for c in done.calls} == {seeded.leaked.credential.access_key_id}
    assert {c["source_ip"] for c in done.calls} <= set(ATTACKER_SOURCE_IPS)
    assert {c["user_agent"] for c in done.calls} <= set(ATTACKER_USER_AGENTS)
    addresses = [c["source_ip"] for c in done.calls]
    assert all(a != b for a, b in itertools.pairwise(addresses))
    event = technique_event(done)
    assert event["technique"] == case.technique
    assert event["status"] == "succeeded"
    assert event["repeat"] is False
    assert event["error_code"] is None
    assert event["created"] == [asdict(r) for r in done.outcome.created]
    assert sorted(r["kind"] for r in event["created"]) == sorted(case.created)
    case.effect(world, done.outcome)


@pytest.mark.parametrize("case", CASES, ids=[c.technique for c in CASES])
def test_a_technique_fails_once_the_responder_has_deactivated_the_leaked_key(
    case: Case,
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
) -> None:
    deactivate_leaked_key(mock_account, seeded)

    done = detonate(attacker, journal, case.technique)

    assert done.outcome is not None
    assert done.outcome.status == "failed"
    assert done.outcome.succeeded == 0
    assert done.outcome.error_codes == [case.dead_key_code]
    # The first refusal tells the attacker the key is dead: it makes no further request.
    (call,) = done.calls
    assert (call["actor"], call["error_code"]) == ("attacker", case.dead_key_code)
    assert call["status"] in (400, 401, 403)
    event = technique_event(done)
    assert (event["status"], event["created"]) == ("failed", [])
    assert event["error_code"] == case.dead_key_code
    assert all(not found for found in done.outcome.loot.values())
    if case.absent is not None:
        case.absent(World(mock_account, seeded, scenario))
    assert not attacker.context.has_working_credentials()


# ── the quarantine policy ──────────────────────────────────────────────────────────────────


def test_under_the_quarantine_policy_the_key_still_says_who_it_is_but_cannot_build(
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
) -> None:
    mock_account.client("iam").attach_user_policy(
        UserName=seeded.leaked.user_name, PolicyArn=QUARANTINE_POLICY_ARNS["V3"]
    )
    world = World(mock_account, seeded, scenario)

    whoami = detonate(attacker, journal, "aws.discovery.whoami")
    assert whoami.outcome is not None and whoami.outcome.status == "succeeded"
    whoami_effect(world, whoami.outcome)

    backdoor = detonate(attacker, journal, "aws.persistence.iam-create-backdoor-user")
    assert backdoor.outcome is not None
    assert (backdoor.outcome.status, backdoor.outcome.error_codes) == ("failed", ["AccessDenied"])
    assert [(c["action"], c["status"]) for c in backdoor.calls] == [("CreateUser", 403)]
    backdoor_user_absent(world)

    mining = detonate(attacker, journal, "aws.impact.ec2-mining")
    assert mining.outcome is not None
    # DescribeRegions is not in the policy; each RunInstances is.
    assert mining.outcome.status == "partial"
    assert mining.outcome.error_codes == ["UnauthorizedOperation"] * len(MINING_REGIONS)
    assert {c["region"] for c in mining.calls if c["action"] == "RunInstances"} == set(
        MINING_REGIONS
    )
    mining_absent(world)
    # Denied is not dead: the key is still worth trying.
    assert attacker.context.has_working_credentials()


# ── persistence outliving the leaked key ──────────────────────────────────────────────────


def test_a_backdoor_key_keeps_the_mining_going_until_it_is_deleted_too(
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
) -> None:
    world = World(mock_account, seeded, scenario)
    backdoor = detonate(attacker, journal, "aws.persistence.iam-create-backdoor-user")
    (backdoor_key,) = created_ids(backdoor.outcome, "access-key")
    deactivate_leaked_key(mock_account, seeded)

    mining = detonate(attacker, journal, "aws.impact.ec2-mining")

    assert mining.outcome is not None and mining.outcome.status == "succeeded"
    assert {c["access_key_id"] for c in mining.calls} == {backdoor_key}
    assert {c["actor"] for c in mining.calls} == {"attacker"}
    mining_effect(world, mining.outcome)

    # The responders clean up: the backdoor's key goes, the instances are terminated.
    iam = responder(mock_account, "iam")
    iam.delete_access_key(UserName="svc-backup-admin", AccessKeyId=backdoor_key)
    for region in MINING_REGIONS:
        responder(mock_account, "ec2", region).terminate_instances(
            InstanceIds=sorted(created_ids(mining.outcome, "instance", region))
        )

    relaunch = detonate(attacker, journal, "aws.impact.ec2-mining", repeat=True)

    assert relaunch.outcome is not None and relaunch.outcome.status == "failed"
    # The backdoor key first (now deleted), then the leaked key (deactivated).
    assert [(c["access_key_id"], c["error_code"]) for c in relaunch.calls] == [
        (backdoor_key, "AuthFailure"),
        (seeded.leaked.credential.access_key_id, "AuthFailure"),
    ]
    assert technique_event(relaunch)["repeat"] is True
    mining_absent(world)
    assert not attacker.context.has_working_credentials()


def test_a_second_key_on_a_real_admin_outlives_the_leaked_key_and_hides_behind_its_name(
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
) -> None:
    extra = detonate(attacker, journal, "aws.persistence.iam-backdoor-existing-user")
    (okafor_key,) = created_ids(extra.outcome, "access-key")
    deactivate_leaked_key(mock_account, seeded)

    blind = detonate(attacker, journal, "aws.defense-evasion.cloudtrail-stop-logging")

    assert blind.outcome is not None and blind.outcome.status == "succeeded"
    assert {c["access_key_id"] for c in blind.calls} == {okafor_key}
    # CloudTrail names a trusted administrator; only the key and the address give it away.
    assert {c["principal"]["user_name"] for c in blind.calls} == {"m.okafor"}
    assert {c["actor"] for c in blind.calls} == {"attacker"}
    assert not trail_logging(World(mock_account, seeded, scenario))


def test_mining_relaunches_what_was_terminated_while_it_holds_a_working_key(
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
) -> None:
    first = detonate(attacker, journal, "aws.impact.ec2-mining")
    # Nothing was terminated: a relaunch finds its instances running and journals nothing.
    idle = detonate(attacker, journal, "aws.impact.ec2-mining", repeat=True)
    assert idle.outcome is not None and idle.outcome.created == []
    assert [e["kind"] for e in idle.events] == ["api.call"] * len(idle.events)
    assert {c["action"] for c in idle.calls} == {"DescribeRegions", "DescribeInstances"}

    for region in MINING_REGIONS:
        responder(mock_account, "ec2", region).terminate_instances(
            InstanceIds=sorted(created_ids(first.outcome, "instance", region))
        )
        assert mining_instances(mock_account, region) == set()

    back = detonate(attacker, journal, "aws.impact.ec2-mining", repeat=True)

    assert back.outcome is not None and back.outcome.status == "succeeded"
    event = technique_event(back)
    assert (event["repeat"], len(event["created"])) == (True, 2 * len(MINING_REGIONS))
    for region in MINING_REGIONS:
        relaunched = mining_instances(mock_account, region)
        assert relaunched == created_ids(back.outcome, "instance", region)
        assert len(relaunched) == 2
        assert not relaunched & created_ids(first.outcome, "instance", region)

    # Once the key is deactivated, the next relaunch is refused and the attacker learns it.
    deactivate_leaked_key(mock_account, seeded)
    refused = detonate(attacker, journal, "aws.impact.ec2-mining", repeat=True)
    assert refused.outcome is not None and refused.outcome.status == "failed"
    assert technique_event(refused)["error_codes"] == ["AuthFailure"]

    # With no working credential left, later relaunches do nothing at all.
    given_up = detonate(attacker, journal, "aws.impact.ec2-mining", repeat=True)
    assert given_up.outcome is None
    assert given_up.events == []


# ── the plan and the client factory ───────────────────────────────────────────────────────


def test_the_plan_is_in_time_order_never_before_first_use_and_mining_comes_back(
    scenario: Scenario, journal: Journal
) -> None:
    def no_calls(credential: Credential, service: str, region: str) -> Any:
        raise AssertionError("planning makes no API call")

    context = AttackerContext(
        account_id=scenario.account.id,
        leaked=Credential("AKIA" + "A" * 16, "s" * 40),
        client_factory=no_calls,
        regions_in_use=list(scenario.account.regions),
        rng=random.Random(SEED),
    )
    planned = Attacker(scenario, context, journal).plan()

    assert [p.at for p in planned] == sorted(p.at for p in planned)
    assert len(planned) == len(TECHNIQUES)
    assert min(p.at for p in planned) == scenario.attacker.first_use == 80
    assert planned[0] == Planned(80, spec_of(scenario, "aws.discovery.whoami"))
    every = {p.spec.technique: p.every for p in planned}
    assert every.pop("aws.impact.ec2-mining") == 600
    assert set(every.values()) == {None}
    assert [p.spec.technique for p in planned][-1] == "aws.execution.lambda-create-function"


def test_the_attacker_clients_are_reused_and_come_from_a_new_address_each_call(
    mock_account: MockAccount, seeded: SeededEstate, journal: Journal
) -> None:
    made: list[tuple[str, str | None, str | None]] = []

    class CountingAccount:
        def client(self, service: str, credential: Credential | None = None, **options: Any) -> Any:
            made.append((service, options.get("source_ip"), options.get("user_agent")))
            return mock_account.client(service, credential, **options)

    factory = attacker_clients(CountingAccount(), random.Random(3))
    leaked = seeded.leaked.credential
    for _ in range(30):
        factory(leaked, "sts", "us-east-1").get_caller_identity()

    calls = [e for e in read_journal(journal.path) if e["kind"] == "api.call"]
    addresses = [c["source_ip"] for c in calls]
    assert len(calls) == 30
    assert all(a != b for a, b in itertools.pairwise(addresses))
    assert len(set(addresses)) > 1
    assert all(not a.startswith(("10.", "192.168.", "172.", "127.")) for a in addresses)
    # One client for the key, service and region, its address drawn per request; one tool
    # per key.
    assert len(made) == 1
    assert set(addresses) <= set(ATTACKER_SOURCE_IPS)
    assert len({agent for _, _, agent in made}) == 1
    assert {c["user_agent"] for c in calls} == {made[0][2]}
    assert {(c["actor"], c["key_actor"]) for c in calls} == {("attacker", "attacker")}


def test_a_scenario_may_name_the_attackers_addresses_and_tools(
    mock_account: MockAccount, seeded: SeededEstate, journal: Journal
) -> None:
    factory = attacker_clients(
        mock_account,
        random.Random(1),
        source_ips=["198.51.100.5", "198.51.100.6"],
        user_agents=["Pacu/1.5.3"],
    )
    for _ in range(4):
        factory(seeded.leaked.credential, "sts", "us-east-1").get_caller_identity()

    calls = [e for e in read_journal(journal.path) if e["kind"] == "api.call"]
    addresses = [c["source_ip"] for c in calls]
    # Two addresses, never the same twice in a row: they alternate.
    assert {addresses[0], addresses[1]} == {"198.51.100.5", "198.51.100.6"}
    assert addresses == addresses[:2] * 2
    assert {c["user_agent"] for c in calls} == {"Pacu/1.5.3"}


# ── temporary credentials ──────────────────────────────────────────────────────────────────


def test_a_role_session_keeps_working_after_the_key_is_disabled_until_it_is_revoked(
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
    run_clock: FixedClock,
) -> None:
    spec = TypeAdapter(TechniqueSpec).validate_python(
        {
            "technique": "aws.persistence.sts-role-session",
            "at": 110,
            "role_name": "partner-audit",
            "session_name": "release-7f3a",
        }
    )

    def detonated(*, repeat: bool) -> tuple[Outcome | None, list[Event]]:
        before = len(read_journal(journal.path))
        outcome = attacker.detonate(spec, repeat=repeat)
        calls = [e for e in read_journal(journal.path)[before:] if e["kind"] == "api.call"]
        return outcome, calls

    run_clock.t = 110.0
    first, calls = detonated(repeat=False)
    assert first is not None and first.status == "succeeded"
    session_key = first.loot["session"]["access_key_id"]
    assert session_key.startswith("ASIA")
    assert [c["action"] for c in calls] == [
        "ListRoles",
        "AssumeRole",
        "GetCallerIdentity",
        "ListBuckets",
        "ListSecrets",
    ]
    assert {c["access_key_id"] for c in calls[2:]} == {session_key}
    assert {c["actor"] for c in calls} == {"attacker"}

    run_clock.t = 300.0
    deactivate_leaked_key(mock_account, seeded)
    run_clock.t = 710.0
    again, calls = detonated(repeat=True)
    assert again is not None and again.failed == 0  # the disabled key changes nothing
    assert {c["access_key_id"] for c in calls} == {session_key}
    assert all(c["status"] < 300 for c in calls)

    run_clock.t = 800.0
    responder(mock_account, "iam").put_role_policy(
        RoleName="partner-audit",
        PolicyName="AWSRevokeOlderSessions",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": ["*"],
                        "Resource": ["*"],
                        "Condition": {
                            "DateLessThan": {"aws:TokenIssueTime": "2026-01-01T12:13:20Z"}
                        },
                    }
                ],
            }
        ),
    )
    run_clock.t = 1310.0
    revoked, calls = detonated(repeat=True)
    assert revoked is not None and revoked.status == "partial"  # only whoami answers
    refused = [c for c in calls if c["access_key_id"] == session_key and c["status"] >= 400]
    assert {c["error_code"] for c in refused} == {"AccessDenied", "AccessDeniedException"}


def test_a_users_own_session_is_minted_before_the_quarantine_and_outlives_the_key(
    mock_account: MockAccount,
    seeded: SeededEstate,
    scenario: Scenario,
    attacker: Attacker,
    journal: Journal,
    run_clock: FixedClock,
) -> None:
    spec = TypeAdapter(TechniqueSpec).validate_python(
        {"technique": "aws.persistence.sts-get-session-token", "at": 62, "duration": 43200}
    )
    run_clock.t = 62.0
    first = attacker.detonate(spec)
    assert first is not None and first.status == "succeeded"
    session_key = first.loot["session"]["access_key_id"]
    assert session_key.startswith("ASIA")

    mock_account.client("iam").attach_user_policy(
        UserName=seeded.leaked.user_name, PolicyArn=QUARANTINE_POLICY_ARNS["V3"]
    )
    run_clock.t = 300.0
    deactivate_leaked_key(mock_account, seeded)
    before = len(read_journal(journal.path))
    again = attacker.detonate(spec, repeat=True)
    calls = [e for e in read_journal(journal.path)[before:] if e["kind"] == "api.call"]
    # The session answers as the user, under the user's quarantine: whoami and the secrets
    # list work, the bucket list is one of the quarantine's denies.
    assert again is not None and again.status == "partial"
    assert {c["access_key_id"] for c in calls} >= {session_key}
    assert [(c["action"], c["status"]) for c in calls if c["access_key_id"] == session_key] == [
        ("GetCallerIdentity", 200),
        ("ListBuckets", 403),
        ("ListSecrets", 200),
    ]
