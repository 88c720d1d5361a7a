"""The production workload against the real mock: careful rotation keeps it up, a careless one
takes it down until its secret holds a working key — and scoring measures the difference.

The billing service of the seed scenario reads its key from `prod/billing-api/aws` on every
probe. Responders rotate with a plain boto3 client on their own key, as at a terminal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gameday.exercise.workload import STS_API_VERSION, Probe, WorkloadProbe
from gameday.journal import FixedClock, Journal, read_journal
from gameday.scenario import Scenario
from gameday.scoring.model import Score
from gameday.scoring.score import score_journal
from gameday.world.account import MockAccount
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate, seeded_event

PROBE_EVERY = 60.0
END = 600.0


def responder(account: MockAccount, service: str) -> Any:
    session = account.session(account.responder.credential, framework_client=False)
    return session.client(service)


@pytest.fixture
def probe(
    mock_account: MockAccount, estate: SeededEstate, seed_scenario: Scenario, journal: Journal
) -> WorkloadProbe:
    """The billing service's probe, in a journal that starts as a run's does."""
    journal.append(
        "run.started",
        t=0,
        team="blue",
        scenario=seed_scenario.id,
        account_id=mock_account.account_id,
        leaked_access_key_id=estate.leaked.credential.access_key_id,
        leaked_user=estate.leaked.user_name,
    )
    journal.append("world.seeded", t=0, **seeded_event(seed_scenario, estate, mock_account))
    assert seed_scenario.workload is not None
    workload = seed_scenario.workload
    secret = next(s for s in seed_scenario.account.estate.secrets if s.name == workload.secret)
    return WorkloadProbe(workload, mock_account, journal, secret.region)


def rotate_key(account: MockAccount, user: str, secret: str) -> str:
    """Mint the service a new key and store it in its secret; the new key's id."""
    minted = responder(account, "iam").create_access_key(UserName=user)["AccessKey"]
    responder(account, "secretsmanager").put_secret_value(
        SecretId=secret,
        SecretString=json.dumps(
            {
                "aws_access_key_id": minted["AccessKeyId"],
                "aws_secret_access_key": minted["SecretAccessKey"],
            }
        ),
    )
    return str(minted["AccessKeyId"])


def deactivate(account: MockAccount, user: str, access_key_id: str) -> None:
    responder(account, "iam").update_access_key(
        UserName=user, AccessKeyId=access_key_id, Status="Inactive"
    )


def play(
    probe: WorkloadProbe,
    clock: FixedClock,
    journal: Journal,
    actions: dict[float, Callable[[], object]],
) -> dict[float, Probe]:
    """Probe every minute up to END, doing each action at its time; the probes by time."""
    probes: dict[float, Probe] = {}
    moments = sorted({*actions, *(PROBE_EVERY * n for n in range(1, int(END / PROBE_EVERY) + 1))})
    for moment in moments:
        clock.t = moment
        if moment in actions:
            actions[moment]()
        if moment % PROBE_EVERY == 0:
            probes[moment] = probe.probe()
    journal.append("run.ended", reason="duration")
    return probes


def score(scenario: Scenario, journal: Journal) -> Score:
    return score_journal(scenario, read_journal(journal.path))


def test_rotating_before_disabling_keeps_every_probe_green(
    probe: WorkloadProbe,
    mock_account: MockAccount,
    estate: SeededEstate,
    seed_scenario: Scenario,
    run_clock: FixedClock,
    journal: Journal,
) -> None:
    assert estate.workload is not None
    user, old = estate.workload.user_name, estate.workload.credential.access_key_id
    secret = probe.spec.secret
    rotated: list[str] = []

    probes = play(
        probe,
        run_clock,
        journal,
        {
            150.0: lambda: rotated.append(rotate_key(mock_account, user, secret)),
            170.0: lambda: deactivate(mock_account, user, old),
        },
    )

    assert all(p.ok for p in probes.values())
    assert {t: p.access_key_id for t, p in probes.items() if t < 150} == {60.0: old, 120.0: old}
    assert {p.access_key_id for t, p in probes.items() if t > 150} == set(rotated)
    events = read_journal(journal.path)
    journaled = [e for e in events if e["kind"] == "workload.probe"]
    assert [(e["t"], e["ok"], e["error_code"]) for e in journaled] == [
        (t, True, None) for t in sorted(probes)
    ]
    calls = [e for e in events if e["kind"] == "api.call" and e["action"] == "GetCallerIdentity"]
    assert {(c["actor"], c["key_actor"]) for c in calls} == {("workload", "workload")}

    result = score(seed_scenario, journal)
    assert result.metrics.outage_s == 0
    assert {p.id: p.points for p in result.penalties}["billing-outage"] == 0
    assert {s.id: s.status for s in result.steps}["rotate-workload-key"] == "success"


def test_disabling_first_takes_the_service_down_until_its_secret_holds_a_working_key(
    probe: WorkloadProbe,
    mock_account: MockAccount,
    estate: SeededEstate,
    seed_scenario: Scenario,
    run_clock: FixedClock,
    journal: Journal,
) -> None:
    assert estate.workload is not None
    user, old = estate.workload.user_name, estate.workload.credential.access_key_id
    secret = probe.spec.secret

    probes = play(
        probe,
        run_clock,
        journal,
        {
            150.0: lambda: deactivate(mock_account, user, old),
            270.0: lambda: rotate_key(mock_account, user, secret),
        },
    )

    down = {t: (p.access_key_id, p.error_code) for t, p in probes.items() if not p.ok}
    assert down == {
        180.0: (old, "InvalidClientTokenId"),
        240.0: (old, "InvalidClientTokenId"),
    }
    assert all(p.ok and p.access_key_id != old for t, p in probes.items() if t > 270)

    result = score(seed_scenario, journal)
    assert result.metrics.outage_s == 300.0 - 180.0
    assert {p.id: p.points for p in result.penalties}["billing-outage"] == 2


def test_a_deleted_or_unreadable_secret_is_an_outage_too(
    probe: WorkloadProbe, mock_account: MockAccount, run_clock: FixedClock, journal: Journal
) -> None:
    secrets = responder(mock_account, "secretsmanager")
    run_clock.t = 60.0
    secrets.put_secret_value(SecretId=probe.spec.secret, SecretString="not json")
    assert probe.probe() == Probe(False, None, "MalformedSecret")
    run_clock.t = 120.0
    secrets.delete_secret(SecretId=probe.spec.secret, ForceDeleteWithoutRecovery=True)
    assert probe.probe() == Probe(False, None, "ResourceNotFoundException")
    journaled = [e for e in read_journal(journal.path) if e["kind"] == "workload.probe"]
    assert [(e["ok"], e["error_code"]) for e in journaled] == [
        (False, "MalformedSecret"),
        (False, "ResourceNotFoundException"),
    ]


def test_a_probe_is_a_signed_call_of_the_service_that_leaves_the_keys_last_use(
    probe: WorkloadProbe,
    mock_account: MockAccount,
    estate: SeededEstate,
    run_clock: FixedClock,
    journal: Journal,
) -> None:
    """The probe's lean caller reaches the account as the service would: signed at the run
    clock's time (a virtual hour away from the machine's), in the journal and CloudTrail as
    the workload's, with the service's user agent, and the key's last use is the probe's."""
    assert estate.workload is not None
    user, key = estate.workload.user_name, estate.workload.credential.access_key_id
    run_clock.t = 3600.0

    assert probe.probe() == Probe(True, key, None)

    call = [e for e in read_journal(journal.path) if e["kind"] == "api.call"][-1]
    assert (call["actor"], call["service"], call["action"], call["status"]) == (
        "workload", "sts", "GetCallerIdentity", 200,
    )  # fmt: skip
    assert call["principal"]["user_name"] == user
    assert call["user_agent"] == f"{probe.spec.name}/2.4.1"
    last = responder(mock_account, "iam").get_access_key_last_used(AccessKeyId=key)
    assert last["AccessKeyLastUsed"]["ServiceName"] == "sts"
    assert last["AccessKeyLastUsed"]["LastUsedDate"] == mock_account.now().replace(microsecond=0)
    events = responder(mock_account, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key}]
    )["Events"]
    assert [e["EventName"] for e in events] == ["GetCallerIdentity"]


def test_a_probe_signed_with_a_wrong_secret_is_refused_as_aws_refuses_it(
    probe: WorkloadProbe, mock_account: MockAccount, estate: SeededEstate, journal: Journal
) -> None:
    """The gateway checks the probe's signature as any other: its caller really signs."""
    assert estate.workload is not None
    key = estate.workload.credential.access_key_id
    forged = Credential(key, "x" * 40)
    caller = mock_account.query_caller(
        "sts", STS_API_VERSION, forged, user_agent="billing-api/2.4.1", actor="workload"
    )
    try:
        assert caller.call("GetCallerIdentity") == (403, "SignatureDoesNotMatch")
    finally:
        caller.close()
    refused = [e for e in read_journal(journal.path) if e["kind"] == "api.call"][-1]
    assert (refused["action"], refused["error_code"]) == (
        "GetCallerIdentity", "SignatureDoesNotMatch",
    )  # fmt: skip
