"""`gameday recover`: a run killed mid-way goes on, exactly so in virtual time.

The end-to-end tests kill a real `gameday run` with SIGKILL, recover it with the real
`gameday recover` (in a process of its own where the test goes on beside it or needs it gone
after, else the command line's `main` in the test process, on its warm mock), and compare
with a run left alone. In virtual time the run is a pure function of the scenario, the seed
and the responder, and a recovery plays it again from T0 against its journal: the recovered
run must score exactly as the uninterrupted one and journal the same events. The ten-kill
test crashes a runbook's run at ten points (at T0, mid-attack, while AWS's notice is being
delivered, mid-runbook, mid-rotation, after the runbook, just before the end…) — each kill
by the run's own test hook (`GAMEDAY_TEST_KILL_AFTER_SEQ`: SIGKILL once the journal holds
event N), each followed by `gameday recover`, once more while a recovery is still replaying.
On the wall clock at a high speed two runs differ on their own (a call that takes 40 ms of
real time takes ten run seconds at 240×, enough for the attacker to get in before IAM's
propagation delay runs out, or not), so the wall-clock test checks what recovery itself
promises instead: the clock goes on from where it stopped with the same T0, no action of the
responder is lost or done twice, and people using the generated profile keep going.
"""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from rich.console import Console

from gameday.errors import UserError
from gameday.exercise.injects import REGISTRY
from gameday.exercise.recovery import (
    MOCK_CHANNELS,
    PEOPLE_CHANNELS,
    Divergence,
    LeakFacts,
    ReplayJournal,
    ReplayVault,
    ResumedVirtualClock,
    ResumedWallClock,
    _as_framework,
    _replay_progress,
    _send,
    events_from_outside,
    inspect_crash,
    mend_tail,
)
from gameday.exercise.responders import (
    InjectBus,
    ReplayStep,
    RunbookContext,
    RunbookResponder,
    aws_call,
)
from gameday.exercise.run import KILL_AFTER_SEQ_VARIABLE, RunOptions, run_exercise
from gameday.exercise.timeline import Timeline
from gameday.journal import Event, FixedClock, Journal, read_journal, without_wall_clock
from gameday.rundir import RunDir
from gameday.scenario import Scenario
from gameday.scenario.model import DEFAULT_RESPONDERS_USER
from gameday.scoring.state import CUSTOMER_CHANNELS
from gameday.world.account import MockAccount
from gameday.world.cloudtrail import is_read_only
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate, seed_estate
from gameday.world.gateway import VAULT_FILE, Vault, read_vault, vault_body
from gameday.world.repo import CodeHost

from .test_run_e2e import (
    REFERENCE_RUNBOOK,
    SEED_SCENARIO,
    LiveRun,
    environment,
    gameday_here,
    write_scenario,
)

Events = Callable[..., list[Event]]
OpenJournal = Callable[..., Journal]

# The seed scenario's main steps, spread over its two hours; the kill comes at one hour, so
# some happen before it, some after, and some after it use what was learned before it
# (`mining_ap`, `billing`). Times sit off the probe's minute and the code host's 15 s polls:
# two things due at one instant may take turns in another order after a recovery.
REPLAY = """\
- at: 2m10s
  note: Incident declared; incident lead named
- at: 5m7s
  aws: {service: iam, action: UpdateAccessKey,
        params: {UserName: "${notice.user_name}", AccessKeyId: "${notice.access_key_id}",
                 Status: Inactive}}
- at: 8m7s
  aws: {service: cloudtrail, action: LookupEvents, region: us-east-1,
        params: {LookupAttributes: [{AttributeKey: AccessKeyId,
                                     AttributeValue: "${notice.access_key_id}"}]}}
- at: 12m7s
  aws: {service: iam, action: ListAccessKeys, params: {UserName: svc-backup-admin},
        save: backdoor}
- at: 12m8s
  aws: {service: iam, action: DeleteAccessKey,
        params: {UserName: svc-backup-admin,
                 AccessKeyId: "${backdoor.AccessKeyMetadata[0].AccessKeyId}"}}
- at: 12m9s
  aws: {service: iam, action: DetachUserPolicy,
        params: {UserName: svc-backup-admin,
                 PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess"}}
- at: 12m10s
  aws: {service: iam, action: DeleteUser, params: {UserName: svc-backup-admin}}
- at: 20m7s
  aws: {service: ec2, action: DescribeInstances, region: sa-east-1, save: mining_sa,
        params: {Filters: [{Name: instance-state-name, Values: [running]}]}}
- at: 20m8s
  aws: {service: ec2, action: TerminateInstances, region: sa-east-1,
        params: {InstanceIds: "${mining_sa.Reservations[].Instances[].InstanceId}"}}
- at: 21m7s
  aws: {service: ec2, action: DescribeInstances, region: ap-southeast-3, save: mining_ap,
        params: {Filters: [{Name: instance-state-name, Values: [running]}]}}
- at: 25m7s
  aws: {service: iam, action: ListAccessKeys, params: {UserName: billing-api}, save: billing}
- at: 25m8s
  aws: {service: iam, action: CreateAccessKey, params: {UserName: billing-api}, save: fresh}
- at: 26m7s
  aws: {service: secretsmanager, action: PutSecretValue,
        params: {SecretId: prod/billing-api/aws,
                 SecretString: '{"aws_access_key_id": "${fresh.AccessKey.AccessKeyId}",
                   "aws_secret_access_key": "${fresh.AccessKey.SecretAccessKey}"}'}}
- at: 30m7s
  aws: {service: iam, action: UpdateAccessKey,
        params: {UserName: billing-api, Status: Inactive,
                 AccessKeyId: "${billing.AccessKeyMetadata[0].AccessKeyId}"}}
- at: 40m7s
  note: Legal and the privacy office informed
- at: 66m7s
  repo: private
- at: 70m7s
  aws: {service: support, action: AddCommunicationToCase, region: us-east-1,
        params: {caseId: "${notice.case_reference}",
                 communicationBody: "The exposed key is disabled, the backdoor user is gone
                   and the billing key is rotated."}}
- at: 75m7s
  aws: {service: ec2, action: TerminateInstances, region: ap-southeast-3,
        params: {InstanceIds: "${mining_ap.Reservations[].Instances[].InstanceId}"}}
- at: 80m7s
  aws: {service: iam, action: DeleteAccessKey,
        params: {UserName: "${notice.user_name}", AccessKeyId: "${notice.access_key_id}"}}
- at: 85m7s
  aws: {service: iam, action: DeleteAccessKey,
        params: {UserName: billing-api,
                 AccessKeyId: "${billing.AccessKeyMetadata[0].AccessKeyId}"}}
"""
REPLAY_STEPS = 20
HALF_WAY = 3600.0  # the seed scenario lasts two hours
WALL_CLOCK_KILL = 2400.0  # the wall-clock test's kill: the plan's last five actions after it
RESPONDER_ACTS = ("api.call", "note", "responder.error", "repo.private", "repo.deleted")


# ── the end-to-end harness ────────────────────────────────────────────────────────────────


def write_replay(folder: Path) -> Path:
    path = folder / "team-plan.yaml"
    path.write_text(REPLAY, encoding="utf-8")
    return path


def kill_half_way(live: LiveRun, at: float = HALF_WAY) -> float:
    """SIGKILL the run once its journal has passed `at`; the last journaled run time."""
    live.wait_until(
        lambda: any(float(e["t"]) >= at for e in live.events()),
        f"the journal to pass T+{at:g}s",
        timeout=150.0,
    )
    live.process.send_signal(signal.SIGKILL)
    live.process.wait(30)
    events = live.events()
    assert not any(e["kind"] == "run.ended" for e in events), "the run ended before the kill"
    return max(float(e["t"]) for e in events)


def responder_acts(events: list[Event]) -> list[Event]:
    """What the replay did: its calls, notes, repository actions and failures."""
    return [
        e
        for e in events
        if e["kind"] in RESPONDER_ACTS
        and (e["kind"] != "api.call" or e.get("actor") == "responder")
        and (e["kind"] != "note" or e.get("actor") == "responder")
    ]


def comparable(score: dict[str, Any]) -> dict[str, Any]:
    return {k: score[k] for k in ("score", "passed", "steps", "penalties", "metrics")}


# ── 1. virtual time: the recovered run scores exactly as the uninterrupted one ────────────


@pytest.mark.slow
def test_a_run_killed_half_way_and_recovered_scores_as_if_nothing_happened(
    tmp_path: Path, mock_server: MockAccount
) -> None:
    plan = write_replay(tmp_path)
    options = ("--clock", "virtual", "--responder", f"replay:{plan}", "--seed", "3")

    # The run left alone, played in this process on its warm mock (a virtual run journals
    # the same from a fresh process or a warm mock: test_run_e2e's demo); the same run is
    # then killed by its own hook at the first event past half-way — a kill on sight of the
    # journal would land wherever the run had got to by then.
    alone = RunOptions(
        out=tmp_path / "whole", clock="virtual", responder=f"replay:{plan}", seed=3,
        live=False, account=mock_server,
    )  # fmt: skip
    run_exercise(SEED_SCENARIO, alone, Console(file=io.StringIO()))
    expected = json.loads((tmp_path / "whole" / "score.json").read_text())
    whole = read_journal(RunDir(tmp_path / "whole").journal)
    half_way = next(e for e in whole if float(e["t"]) >= HALF_WAY)
    killed = play(
        "run", SEED_SCENARIO, "--out", tmp_path / "crashed", "--plain", *options,
        cwd=tmp_path, kill_after=int(half_way["seq"]),
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    left = read_journal(RunDir(tmp_path / "crashed").journal)
    assert not any(e["kind"] == "run.ended" for e in left), "the run ended before the kill"
    stopped_at = max(float(e["t"]) for e in left)
    assert stopped_at == float(half_way["t"])
    # `gameday recover` in this process, on the warm mock the run left alone is done with
    recovered = gameday_here("recover", tmp_path / "crashed", "--plain", cwd=tmp_path)
    assert recovered.returncode in (0, 1), recovered.stdout + recovered.stderr
    run = RunDir(tmp_path / "crashed")
    score = json.loads((run.path / "score.json").read_text())
    assert comparable(score) == comparable(expected)

    events = read_journal(run.journal)
    marks = [e for e in events if e["kind"] == "run.recovered"]
    assert len(marks) == 1
    mark = marks[0]
    assert mark["from_t"] == stopped_at == mark["t"]
    assert mark["replayed"] > 10 and mark["reopened"] == 1 and mark["failed"] == []
    assert mark["by"] == "test-lead"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "duration"
    # every action of the plan was done once: none lost in the crash, none done again
    acts = responder_acts(events)
    assert len(acts) == REPLAY_STEPS, [(e["t"], e["kind"], e.get("action")) for e in acts]
    assert not [e for e in acts if e["kind"] == "responder.error"]
    # what was learned before the crash served after it: the ap-southeast-3 instances
    # listed at 21m7s were terminated at 75m7s, with the ids the attacker's launch had
    launched = {
        r["id"]
        for e in events
        if e["kind"] == "attacker.technique"
        for r in e["created"]
        if r["kind"] == "instance" and r["region"] == "ap-southeast-3"
    }
    terminate = next(
        e for e in acts if e.get("action") == "TerminateInstances" and e["t"] > stopped_at
    )
    assert terminate["status"] == 200 and launched
    assert {v for k, v in terminate["params"].items() if k.startswith("InstanceId")} == launched
    assert_vault_private(run)


# ── 1b. a runbook's virtual run killed at ten points, recovered each time ─────────────────


def play(
    *args: str | Path, cwd: Path, kill_after: int | None = None
) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS` to its end — or to its SIGKILL after journal event `kill_after`."""
    hook = {KILL_AFTER_SEQ_VARIABLE: str(kill_after)} if kill_after is not None else {}
    return subprocess.run(
        [sys.executable, "-m", "gameday", *(str(a) for a in args)],
        cwd=cwd,
        env={**environment(), **hook},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def kill_points(events: list[Event]) -> list[int]:
    """Ten places of a run to crash it at: the seq of the last event it journals."""
    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(str(event["kind"]), []).append(event)

    def changing(actor: str) -> list[Event]:
        return [
            e
            for e in by_kind["api.call"]
            if e["actor"] == actor
            and int(e["status"]) < 300
            and not is_read_only(str(e["service"]), str(e["action"]))
        ]

    team = [e for e in by_kind["api.call"] if e["actor"] == "responder"]
    notice = next(e for e in by_kind["inject.delivered"] if e["type"] in CUSTOMER_CHANNELS)
    finished = by_kind["responder.finished"][0]["seq"]
    points = {
        by_kind["run.started"][0]["seq"],  # at T0, before the world is journaled
        changing("attacker")[0]["seq"],  # mid-technique: the backdoor user, not yet its key
        notice["seq"] - 1,  # just before the first notice reaches the team
        changing("responder")[0]["seq"],  # the team's first change, not yet scored
        next(e for e in changing("responder") if e["action"] == "CreateAccessKey")["seq"],
        team[len(team) // 2]["seq"],  # mid-runbook
        finished,  # the runbook has returned
        by_kind["inject.delivered"][-1]["seq"],  # the last inject
        (finished + len(events)) // 2,  # the quiet hour that follows
        events[-2]["seq"],  # just before the end
    }
    return sorted(points)


def recovered_marks(run: RunDir) -> list[Event]:
    return [e for e in read_journal(run.journal) if e["kind"] == "run.recovered"]


def the_run(events: list[Event]) -> list[Event]:
    """A journal as an uninterrupted run would have it: no recovery marks, numbered again."""
    return [
        {**without_wall_clock(e), "seq": index}
        for index, e in enumerate((e for e in events if e["kind"] != "run.recovered"), start=1)
    ]


def evidence(score: dict[str, Any], events: list[Event]) -> list[dict[str, Any]]:
    """A score's evidence, each item naming its journal event by content rather than seq."""
    by_seq = {e["seq"]: e for e in events}
    return [
        {**item, "seq": None, "event": without_wall_clock({**by_seq[item["seq"]], "seq": None})}
        for item in score["extra"]["evidence"]
    ]


@pytest.mark.slow
@pytest.mark.sweep  # one kill half-way is in the quick suite (test_a_run_killed_half_way…)
def test_a_runbook_run_killed_at_ten_points_and_recovered_each_time_is_the_run_left_alone(
    tmp_path: Path,
) -> None:
    options = ("--clock", "virtual", "--responder", REFERENCE_RUNBOOK, "--seed", "7",
               "--team", "reference", "--plain")  # fmt: skip
    whole = play("run", SEED_SCENARIO, "--out", tmp_path / "whole", *options, cwd=tmp_path)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    expected = read_journal(tmp_path / "whole" / "journal.jsonl")
    points = kill_points(expected)
    assert len(points) == 10 and points[-1] < len(expected), points

    out = tmp_path / "crashed"
    run = RunDir(out)
    first = play("run", SEED_SCENARIO, "--out", out, *options, cwd=tmp_path, kill_after=points[0])
    assert first.returncode == -signal.SIGKILL, first.stdout + first.stderr
    token = first.stdout.split("facilitator token: ", 1)[1].split()[0]

    def recover_until(kill_after: int | None) -> subprocess.CompletedProcess[str]:
        return play(
            "recover", out, "--plain", "--token", token, cwd=tmp_path, kill_after=kill_after
        )

    for index, point in enumerate(points[1:], start=1):
        journal = read_journal(run.journal)
        # the crash left the run as it was at that point, nothing more
        assert the_run(journal) == the_run(expected)[: points[index - 1]]
        assert run.status()["crashed"]
        if index == 5:
            # killed again while the recovery is still playing the run again: nothing changes
            replaying = recover_until(len(journal) // 2)
            assert replaying.returncode == -signal.SIGKILL, replaying.stdout + replaying.stderr
            assert read_journal(run.journal) == journal
            assert (out / ".before-replay" / "repo").is_dir()  # the crash's clone, kept aside
        # this point of the run is journal event `point` plus the recovery marks before it
        recovered = recover_until(point + len(recovered_marks(run)) + 1)
        assert recovered.returncode == -signal.SIGKILL, recovered.stdout + recovered.stderr
        assert "facilitator token:" not in recovered.stdout  # the run kept its token
    last = recover_until(None)
    assert last.returncode == 0, last.stdout + last.stderr

    events = read_journal(run.journal)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert the_run(events) == the_run(expected)
    marks = recovered_marks(run)
    assert len(marks) == 10
    for earlier, (mark, point) in enumerate(zip(marks, points, strict=True)):
        before = next(e for e in reversed(events) if e["seq"] < mark["seq"])
        assert mark["mode"] == "replay" and mark["from_t"] == before["t"] == mark["t"]
        # every event before it was played again (an earlier recovery's mark aside)
        assert mark["replayed"] == mark["seq"] - 1 - earlier and mark["failed"] == []
        assert the_run(events[: mark["seq"] - 1])[-1] == the_run(expected)[point - 1]
    # the score, step times and evidence included: identical
    score = json.loads((out / "score.json").read_text())
    alone = json.loads((tmp_path / "whole" / "score.json").read_text())
    assert score == alone
    assert evidence(score, the_run(events)) == evidence(alone, the_run(expected))
    assert not (out / ".before-replay").exists()


RUNBOOK = """\
def respond(ctx):
    notice = ctx.wait_for("support-case")
    ctx.note("the case is read")
    ctx.aws.client("iam").update_access_key(
        UserName=notice.data["user_name"], AccessKeyId=notice.data["access_key_id"],
        Status="Inactive",
    )
    ctx.sleep("10m")
    ctx.note("the key is still inactive")
"""


@pytest.mark.slow
def test_a_replay_that_goes_another_way_leaves_the_run_as_the_crash_left_it(
    tmp_path: Path,
) -> None:
    scenario = write_scenario(tmp_path)
    runbook = tmp_path / "runbook.py"
    runbook.write_text(RUNBOOK, encoding="utf-8")
    out = tmp_path / "crashed"
    run = RunDir(out)
    options = ("--clock", "virtual", "--responder", runbook, "--plain")
    # killed once AWS's email is out: after the runbook's first note and call
    crashed = play("run", scenario, "--out", out, *options, cwd=tmp_path, kill_after=13)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    journal = read_journal(run.journal)
    assert [e["kind"] for e in journal][-1] == "inject.delivered"
    assert any(e.get("text") == "the case is read" for e in journal)
    before = {name: (out / name).read_bytes() for name in ("journal.jsonl", VAULT_FILE)}
    (out / "repo" / "left-by-the-crash").write_text("x")

    runbook.write_text(RUNBOOK.replace("is read", "has been read"), encoding="utf-8")
    refused = play("recover", out, "--plain", cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = " ".join(refused.stderr.split())
    assert "went another way at event 10 (run time 40.0s)" in message, message
    assert "differing: text" in message and "Has the runbook" in message
    assert "Traceback" not in refused.stderr
    # nothing changed: journal, vault, the clone and its remote as the crash left them
    assert {name: (out / name).read_bytes() for name in before} == before
    assert (out / "repo" / "left-by-the-crash").exists()
    assert not (out / ".before-replay").exists()
    assert run.status()["crashed"]

    # the recovery that goes through: `gameday recover` in this process, on its warm mock
    runbook.write_text(RUNBOOK, encoding="utf-8")
    recovered = gameday_here("recover", out, "--plain", cwd=tmp_path)
    assert recovered.returncode in (0, 1), recovered.stdout + recovered.stderr  # 1: not passed
    events = read_journal(run.journal)
    assert [e.get("text") for e in events if e["kind"] == "note"] == [
        "the case is read",
        "the key is still inactive",
    ]
    assert [e["kind"] for e in events].count("run.recovered") == 1
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "duration"
    assert not (out / "repo" / "left-by-the-crash").exists()  # built again
    # AWS's email reached the team once: the replay did not send it again
    assert len(list((out / "mail" / "new").iterdir())) == 1


def assert_vault_private(run: RunDir) -> None:
    """The vault is the run's alone, and its secrets reach neither journal nor reports."""
    vault = run.path / VAULT_FILE
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    secrets = [
        text
        for entry in read_vault(vault).values()
        if entry["action"] in ("CreateAccessKey", "PutSecretValue")
        for text in (vault_body(entry["response"]), vault_body(entry["request"]))
    ]
    minted = [s.split(b"<SecretAccessKey>")[1].split(b"<")[0] for s in secrets if b"<Secret" in s]
    assert minted
    # The framework client's token would let a reader pass their calls off as the attacker's.
    assert not any(
        name.startswith("HTTP_X_GAMEDAY_")
        for entry in read_vault(vault).values()
        for name in entry["request"]["headers"]
    )
    for name in ("journal.jsonl", "score.json", "report.html", "report.md", "junit.xml"):
        text = (run.path / name).read_bytes()
        assert not any(secret in text for secret in minted), name


# ── 2. the wall clock: time goes on, nothing is lost or done twice, people keep going ─────


@pytest.mark.slow
def test_a_wall_clock_run_goes_on_from_where_it_stopped_with_the_same_t0(
    tmp_path: Path,
) -> None:
    plan = write_replay(tmp_path)
    out = tmp_path / "crashed"
    # The run clock is waited out in real time (two hours at 960×: 7.5 s); the kill comes at
    # 40 minutes, most of the plan done before it, its actions from 66m7s on due after it.
    with LiveRun(
        SEED_SCENARIO, out, "--clock", "wall", "--speed", "960", "--responder", f"replay:{plan}"
    ) as live:
        stopped_at = kill_half_way(live, at=WALL_CLOCK_KILL)
    run = RunDir(out)
    before = read_journal(run.journal)
    t0 = datetime.fromisoformat(before[0]["t0"].replace("Z", "+00:00"))
    credentials = (out / "aws" / "credentials").read_text()
    old_endpoint = (out / "aws" / "config").read_text()

    log = tmp_path / "recover.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gameday", "recover", str(out), "--plain"],
            cwd=tmp_path,
            env=environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        # a person with the generated profile carries on against the rebuilt mock
        mark = wait_for_event(run, "run.recovered", process, log)
        assert mark["from_t"] == stopped_at
        wait_for(lambda: run.status().get("state") == "running", process, log)
        assert (out / "aws" / "credentials").read_text() == credentials
        config = (out / "aws" / "config").read_text()
        assert config != old_endpoint and f"endpoint_url = {run.status()['endpoint']}" in config
        # (their SDK, not the AWS CLI: the CLI's start-up would take minutes of run time at
        # this speed, and the AWS CLI's use of the profile is test_run_e2e's)
        caller = profile_session(run).client("sts").get_caller_identity()
        assert caller["Arn"].endswith(f":user/{DEFAULT_RESPONDERS_USER}")
        assert process.wait(180) in (0, 1), log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    events = read_journal(run.journal)
    after = events[len(before) :]
    assert after[0]["kind"] == "run.recovered"
    assert all(float(e["t"]) >= stopped_at for e in after)
    # on the original timeline: `time` is T0 + t (to the journal's millisecond)
    assert all(
        abs(
            datetime.fromisoformat(e["time"].replace("Z", "+00:00"))
            - (t0 + timedelta(seconds=float(e["t"])))
        )
        <= timedelta(milliseconds=2)
        for e in after
    )
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "duration"
    assert float(events[-1]["t"]) >= 7200.0
    # the person's call is the responder's too; the plan's actions: each one once, those
    # after the crash at their times
    acts = responder_acts(events)
    assert [e["t"] > stopped_at for e in acts if e.get("action") == "GetCallerIdentity"] == [True]
    acts = [e for e in acts if e.get("action") != "GetCallerIdentity"]
    assert len(acts) == REPLAY_STEPS, [(e["t"], e["kind"], e.get("action")) for e in acts]
    assert acts[-5]["kind"] == "repo.private" and float(acts[-5]["t"]) >= 66 * 60 + 7
    due = (70 * 60 + 7, 75 * 60 + 7, 80 * 60 + 7, 85 * 60 + 7)
    assert all(float(e["t"]) >= at for e, at in zip(acts[-4:], due, strict=True))
    # and a run that ended is not recovered twice
    again = gameday_here("recover", out, "--plain", cwd=tmp_path)
    assert again.returncode == 2 and "nothing to recover" in again.stderr


def profile_session(run: RunDir) -> boto3.Session:
    """A boto3 session on nothing but the run's generated profile, as a person's script has."""
    core = botocore.session.Session()
    core.set_config_variable("config_file", str(run.path / "aws" / "config"))
    core.set_config_variable("credentials_file", str(run.path / "aws" / "credentials"))
    core.set_config_variable("profile", "gameday")
    return boto3.Session(botocore_session=core)


def wait_for(condition: Callable[[], Any], process: subprocess.Popen[bytes], log: Path) -> Any:
    """Poll `condition` while the recovering process lives; what it returned."""
    deadline = datetime.now(UTC) + timedelta(seconds=120)
    while datetime.now(UTC) < deadline:
        found = condition()
        if found:
            return found
        assert process.poll() is None, log.read_text()
        threading.Event().wait(0.1)
    raise AssertionError(f"timed out after 120 s\n{log.read_text()}")


def wait_for_event(run: RunDir, kind: str, process: subprocess.Popen[bytes], log: Path) -> Event:
    found: Event = wait_for(
        lambda: next((e for e in read_journal(run.journal) if e["kind"] == kind), None),
        process,
        log,
    )
    return found


# ── 3. what recovery refuses ──────────────────────────────────────────────────────────────


def crashed_run(
    tmp_path: Path, events: list[dict[str, Any]], *, tail: str = "", name: str = "run"
) -> RunDir:
    run = RunDir(tmp_path / name)
    run.path.mkdir()
    run.scenario.write_text(SEED_SCENARIO.read_text())
    lines = [json.dumps({"seq": i, "time": "x", **e}) for i, e in enumerate(events, start=1)]
    run.journal.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")
    return run


STARTED = {
    "t": 0.0,
    "kind": "run.started",
    "t0": "2026-03-02T12:33:12.000Z",
    "responder": "human",
    "public_url": "https://github.com/acme/tools/blob/0123abc/scripts/deploy%20it.sh",
}


def test_a_run_that_never_started_or_that_ended_is_not_recovered(tmp_path: Path) -> None:
    never = crashed_run(tmp_path, [{"t": 0.0, "kind": "world.seeded"}])
    with pytest.raises(UserError, match="stopped before T0"):
        inspect_crash(never)
    ended = crashed_run(
        tmp_path, [STARTED, {"t": 7200.0, "kind": "run.ended", "reason": "duration"}], name="b"
    )
    with pytest.raises(UserError, match=r"ended \(duration\) — nothing to recover"):
        inspect_crash(ended)


def test_a_live_run_is_not_recovered(tmp_path: Path) -> None:
    run = crashed_run(tmp_path, [STARTED])
    run.write_status(pid=os.getpid(), state="running")
    with pytest.raises(UserError, match=f"still running \\(pid {os.getpid()}\\)"):
        inspect_crash(run)


def test_a_call_the_vault_lacks_makes_the_run_unrecoverable(tmp_path: Path) -> None:
    call = {"t": 90.0, "kind": "api.call", "service": "iam", "action": "CreateUser"}
    run = crashed_run(tmp_path, [STARTED, {**call, "status": 200, "vault": 1}])
    with pytest.raises(UserError, match=r"event 2 \(iam:CreateUser\) has no entry"):
        inspect_crash(run)
    # read-only or refused calls change nothing: they need no entry
    quiet = crashed_run(
        tmp_path,
        [STARTED, {**call, "status": 403}, {**call, "action": "ListUsers", "status": 200}],
        name="quiet",
    )
    crash = inspect_crash(quiet)
    assert crash.from_t == 90.0 and crash.responder_spec == "human"
    assert crash.t0 == datetime(2026, 3, 2, 12, 33, 12, tzinfo=UTC)


def test_a_line_torn_by_the_crash_is_cut_off(tmp_path: Path) -> None:
    run = crashed_run(tmp_path, [STARTED, {"t": 61.5, "kind": "note"}], tail='{"seq": 3, "t": 7')
    crash = inspect_crash(run)
    assert crash.from_t == 61.5
    assert run.journal.read_text().endswith("\n")
    assert [e["seq"] for e in read_journal(run.journal)] == [1, 2]
    assert not mend_tail(run.journal)


def test_the_leak_is_read_back_from_its_public_url() -> None:
    leak = LeakFacts.from_url(str(STARTED["public_url"]))
    assert (leak.leak_commit, leak.leak_path) == ("0123abc", "scripts/deploy it.sh")
    with pytest.raises(UserError, match="no leak commit"):
        LeakFacts.from_url("https://github.com/acme/tools")


# ── 3b. the pieces of a replay ────────────────────────────────────────────────────────────


def journaled(path: Path, *kinds_and_fields: tuple[str, dict[str, Any]]) -> list[Event]:
    """A journal holding these events (at t = 10, 20, …), as a crashed run left it."""
    clock = FixedClock()
    with Journal(path, clock, durable=False) as journal:
        for index, (kind, fields) in enumerate(kinds_and_fields, start=1):
            clock.t = 10.0 * index
            journal.append(kind, **fields)
    return read_journal(path)


def test_a_replayed_journal_checks_what_it_holds_and_writes_from_the_crash_point_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    held = journaled(
        path,
        ("run.started", {"seed": 3}),
        ("note", {"actor": "responder", "text": "acted"}),
        ("run.recovered", {"mode": "replay", "from_t": 20.0}),  # an earlier recovery's mark
        ("api.call", {"actor": "responder", "action": "UpdateAccessKey", "params": ("a", 1)}),
    )
    before = path.read_bytes()
    clock = FixedClock()
    seen: list[Event] = []
    marks: list[int] = []

    def caught_up(replayed: int) -> dict[str, Any]:
        marks.append(replayed)
        return {"t": 40.0, "mode": "replay", "replayed": replayed}

    journal = ReplayJournal(
        path, clock, held, caught_up=caught_up, on_divergence=lambda d: pytest.fail(str(d))
    )
    journal.subscribe(seen.append)
    clock.t = 10.0
    first = journal.append("run.started", seed=3)
    clock.t = 20.0
    journal.append("note", actor="responder", text="acted")
    assert journal.replaying and journal.expected("api.call", actor="responder") == held[3]
    assert path.read_bytes() == before  # played again: checked, numbered as then, not written
    assert first["seq"] == 1 and [e["seq"] for e in seen] == [1, 2]
    clock.t = 40.0
    # a tuple journals as a list: what counts is what the journal holds
    journal.append("api.call", actor="responder", action="UpdateAccessKey", params=["a", 1])
    assert journal.live and marks == [3]
    clock.t = 41.0
    journal.append("note", actor="responder", text="after the crash")
    journal.close()
    events = read_journal(path)
    assert path.read_bytes().startswith(before)
    assert [(e["seq"], e["kind"]) for e in events[4:]] == [(5, "run.recovered"), (6, "note")]
    assert events[4]["t"] == 40.0 and events[4]["replayed"] == 3
    assert [e["seq"] for e in seen] == [1, 2, 4, 5, 6]  # the listeners saw the whole run


def test_a_replay_that_goes_another_way_stops_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    held = journaled(
        path, ("run.started", {"seed": 3}), ("note", {"actor": "responder", "text": "acted"})
    )
    before = path.read_bytes()
    clock = FixedClock()
    diverged: list[Divergence] = []
    journal = ReplayJournal(
        path,
        clock,
        held,
        caught_up=lambda n: pytest.fail("caught up"),
        on_divergence=diverged.append,
    )
    clock.t = 10.0
    journal.append("run.started", seed=3)
    clock.t = 20.0
    journal.append("note", actor="responder", text="acted differently")
    journal.append("note", actor="responder", text="and more")
    journal.append("run.ended", reason="end")
    journal.close()
    assert path.read_bytes() == before and not journal.live and not journal.replaying
    assert len(diverged) == 1 and diverged[0] is journal.divergence
    message = diverged[0].message(RunDir(tmp_path))
    assert "went another way at event 2 (run time 20.0s)" in message
    assert "differing: text" in message and "as the crash left it" in message


def test_a_replay_that_ends_before_the_crash_point_says_so(tmp_path: Path) -> None:
    expected = {"seq": 7, "t": 300.0, "kind": "note", "text": "x"}
    ended = {"seq": 7, "t": 200.0, "kind": "run.ended", "reason": "end"}
    message = Divergence(expected, ended).message(RunDir(tmp_path))
    assert "the replay ended (end) at run time 200.0s, before it reached event 7" in message


def test_a_replayed_vault_numbers_its_entries_again_and_writes_only_new_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / VAULT_FILE
    first = Vault(path)
    for action in ("CreateUser", "CreateAccessKey"):
        first.append({"service": "iam", "action": action})
    before = path.read_bytes()
    live = False
    vault = ReplayVault(path, live=lambda: live)
    assert [vault.append({"action": "again"}) for _ in range(3)] == [1, 2, 3]
    assert path.read_bytes() == before  # the third: a replay gone astray writes nothing
    live = True
    assert vault.append({"service": "iam", "action": "DeleteUser"}) == 4
    assert read_vault(path)[4]["action"] == "DeleteUser" and 3 not in read_vault(path)


def test_what_came_from_outside_a_run_sends_its_recovery_to_the_rebuild() -> None:
    own = [
        {"seq": 1, "kind": "run.started"},
        {"seq": 2, "kind": "note", "actor": "responder", "text": "from the runbook"},
        {"seq": 3, "kind": "error", "source": "inject case-email"},
        {"seq": 4, "kind": "run.recovered", "mode": "replay"},
        # the runbook's own purge (ctx.repo_action): support did it, the runbook asked
        {"seq": 5, "kind": "repo.commit-purged", "actor": "responder", "commit": "1a2b3c4",
         "via": "support", "purged": 1, "deferred": False},
    ]  # fmt: skip
    assert events_from_outside(own) is None
    for outside in (
        {"kind": "mark", "step": "root-password", "by": "facilitator", "via": "cli"},
        {"kind": "note", "actor": "responder", "text": "typed", "by": "team", "via": "cli"},
        {"kind": "control.refused", "command": "end"},
        {"kind": "run.paused", "by": "facilitator", "via": "dashboard"},
        {"kind": "inject.forced", "inject": "case-email"},
        {"kind": "journal.foreign", "bytes": 10},
        {"kind": "error", "source": "control end"},
        {"kind": "repo.private", "actor": "responder", "deferred": True},
        {"kind": "repo.commit-purged", "commit": "1a2b3c4", "via": "support", "deferred": True},
        {"kind": "run.recovered", "mode": "rebuild"},
        {"kind": "run.recovered"},  # recovered before recoveries replayed
    ):
        event = {"seq": 6, **outside}
        assert events_from_outside([*own, event]) == event


def test_every_inject_channel_is_either_sent_again_or_taken_from_the_journal() -> None:
    assert not MOCK_CHANNELS & PEOPLE_CHANNELS
    assert set(REGISTRY.names()) == MOCK_CHANNELS | PEOPLE_CHANNELS


# ── 4. the clocks go on from where they stopped ───────────────────────────────────────────


T0 = datetime(2026, 3, 2, 12, 33, 12, tzinfo=UTC)


def test_resumed_virtual_time_starts_at_the_recovery_time() -> None:
    clock = ResumedVirtualClock(T0, 3600.0)
    woke: list[float] = []

    def sleeper() -> None:
        clock.sleep_until(3700.0)
        woke.append(clock.now())

    assert clock.now() == 3600.0 and clock.t0 == T0
    thread = clock.spawn("sleeper", sleeper)
    clock.start()
    thread.join(5)
    assert woke == [3700.0]
    clock.close()


def test_resumed_wall_time_stands_at_the_recovery_time_until_it_starts() -> None:
    clock = ResumedWallClock(600.0, T0, 3600.0)
    assert clock.now() == 3600.0 and clock.t0 == T0
    threading.Event().wait(0.05)
    assert clock.now() == 3600.0  # not started: time stands
    clock.start()
    threading.Event().wait(0.05)
    assert 3600.0 + 0.04 * 600 <= clock.now() < 3600.0 + 5 * 600
    clock.close()


# ── 5. the timeline restores what fired without firing it again ──────────────────────────


def test_restored_entries_do_not_fire_again_and_release_what_comes_after(
    open_journal: OpenJournal, events: Events
) -> None:
    clock = ResumedVirtualClock(T0, 1000.0)
    journal = open_journal(clock)
    timeline = Timeline(clock, journal, end=1200.0)
    fired: list[tuple[str, float]] = []

    def note(name: str) -> Callable[[], None]:
        return lambda: fired.append((name, clock.now()))

    timeline.schedule(note("case"), at=110.0, id="case", kind="inject")
    timeline.schedule(note("email"), after="case", delay=900.0, id="email", kind="inject")
    timeline.schedule(note("call"), at=300.0, id="call", kind="inject")
    timeline.schedule(note("follow-up"), after="call", delay=60.0, id="follow-up", kind="inject")
    timeline.schedule(note("late"), at=500.0, id="late", kind="inject")
    timeline.schedule_every(note("probe"), 60.0, start=0.0, id="probe", kind="workload")
    timeline.restore("case", 110.0)
    timeline.restore("call", 300.0, "skipped")
    timeline.restore("probe", 960.0)
    clock.start()
    timeline.run()
    # the case fired before the crash: its email is due 900 s after it, at 1010; the call was
    # skipped, and its follow-up with it; `late` was due but never journaled: it fires now
    assert fired == [
        ("late", 1000.0),
        ("email", 1010.0),
        ("probe", 1020.0),
        ("probe", 1080.0),
        ("probe", 1140.0),
        ("probe", 1200.0),
    ]
    assert events(journal) == []  # a restore journals nothing: the journal has it already
    assert timeline.state("follow-up") == "skipped"
    clock.close()


# ── 6. matching a replay's steps with what the journal shows done ─────────────────────────


def step(at: float, line: int, *, action: str | None = None, note: str | None = None) -> ReplayStep:
    call = aws_call("iam", action) if action else None
    return ReplayStep(at, f"plan.yaml:{line}", aws=call, note=note, repo=None)


def act(seq: int, t: float, kind: str = "api.call", **fields: Any) -> Event:
    base = {"seq": seq, "t": t, "kind": kind}
    if kind in ("api.call", "note"):
        base["actor"] = "responder"
    return {**base, **fields}


def test_the_replay_goes_on_after_the_last_action_the_journal_shows_done() -> None:
    steps = [
        step(300, 1, action="UpdateAccessKey"),
        step(300, 2, note="contained"),
        step(600, 3, action="DeleteAccessKey"),
        step(600, 4, action="DeleteAccessKey"),
        step(900, 5, action="CreateAccessKey"),
        step(1200, 6, action="UpdateAccessKey"),
    ]
    journal = [
        act(1, 300.2, action="UpdateAccessKey"),
        act(2, 300.3, "note", text="contained"),
        act(3, 300.3, "note", text="from another terminal"),
        act(4, 600.1, action="DeleteAccessKey"),
        act(5, 600.2, action="ListUsers"),
        act(6, 610.0, action="DeleteAccessKey"),
        act(7, 900.5, "responder.error", message="plan.yaml:5: iam:CreateAccessKey: no key"),
    ]
    assert _replay_progress(steps, journal)[0] == 5
    # the crash came between two actions due at one instant: the second is still to do
    assert _replay_progress(steps, journal[:4])[0] == 3
    # a step that left no trace is done once a later one shows
    assert _replay_progress(steps, [journal[0], journal[3]])[0] == 3
    # an action is never taken for a step not yet due when it happened
    assert _replay_progress(steps, [act(1, 100.0, action="DeleteAccessKey")])[0] == 0


# ── 7. the gateway's vault ────────────────────────────────────────────────────────────────


@pytest.fixture
def vaulted(mock_account: MockAccount, tmp_path: Path) -> Iterator[Vault]:
    vault = Vault(tmp_path / VAULT_FILE)
    mock_account.gateway.vault = vault
    try:
        yield vault
    finally:
        mock_account.gateway.vault = None  # the mock is shared with later tests


def test_the_vault_keeps_what_the_journal_redacts(
    mock_account: MockAccount, estate: SeededEstate, journal: Journal, vaulted: Vault
) -> None:
    iam = mock_account.client("iam", mock_account.responder.credential, framework_client=False)
    secrets = mock_account.client(
        "secretsmanager", mock_account.responder.credential, framework_client=False
    )
    minted = iam.create_access_key(UserName=mock_account.responder.user_name)["AccessKey"]
    secrets.create_secret(Name="prod/x", SecretString="correct-horse-battery-staple")
    iam.list_users()
    calls = [e for e in read_journal(journal.path) if e["kind"] == "api.call"]
    assert [(e["action"], e.get("vault")) for e in calls] == [
        ("CreateAccessKey", 1),
        ("CreateSecret", 2),
        ("ListUsers", None),
    ]
    entries = read_vault(vaulted.path)
    assert minted["SecretAccessKey"].encode() in vault_body(entries[1]["response"])
    assert b"correct-horse-battery-staple" in vault_body(entries[2]["request"])
    assert entries[2]["request"]["method"] == "POST"
    text = journal.path.read_text()
    assert minted["SecretAccessKey"] not in text and "correct-horse" not in text
    assert stat.S_IMODE(vaulted.path.stat().st_mode) == 0o600
    # a second writer (a recovered run) numbers on from the last entry
    assert Vault(vaulted.path).append({"service": "iam", "action": "TagUser"}) == 3


def test_the_frameworks_calls_are_replayed_with_the_credential_of_the_new_process(
    mock_account: MockAccount,
    estate: SeededEstate,
    seed_scenario: Scenario,
    journal: Journal,
    vaulted: Vault,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quarantine = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
    leaked_user = estate.leaked.user_name
    old_key = mock_account.framework_credential.access_key_id
    mock_account.client("iam").attach_user_policy(UserName=leaked_user, PolicyArn=quarantine)
    (call,) = [e for e in read_journal(journal.path) if e["kind"] == "api.call"]
    assert call["actor"] == "framework" and call["access_key_id"] == old_key
    recorded = read_vault(vaulted.path)[call["vault"]]["request"]

    # Another process: its framework credential is its own (here not even the key id is the
    # same), and the account is rebuilt from the scenario.
    fresh = framework_credential_unlike(mock_account.framework_credential)
    monkeypatch.setattr("gameday.world.account.framework_credential", lambda *_: fresh)
    mock_account.reset(clock=mock_account.clock, journal=None, seed=mock_account.seed)
    seed_estate(mock_account, seed_scenario, seed=mock_account.seed)
    assert mock_account.framework_credential == fresh
    iam = mock_account.iam()
    assert quarantine not in iam.users[leaked_user].managed_policies

    status, _ = _send(mock_account, recorded)  # as signed by the process that died
    assert status == 403 and quarantine not in iam.users[leaked_user].managed_policies
    status, _ = _send(mock_account, _as_framework(mock_account, recorded))
    assert status == 200 and quarantine in iam.users[leaked_user].managed_policies


def framework_credential_unlike(old: Credential) -> Credential:
    from gameday.world.account import framework_credential

    drawn = framework_credential("000000000000", 99)
    assert drawn.access_key_id != old.access_key_id
    return drawn


def test_a_torn_vault_entry_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / VAULT_FILE
    Vault(path).append({"service": "iam", "action": "CreateUser"})
    with path.open("a") as handle:
        handle.write('{"entry": 2, "serv')
    assert list(read_vault(path)) == [1]


def test_a_responder_that_had_finished_does_not_start_again(
    tmp_path: Path, open_journal: OpenJournal, events: Events
) -> None:
    runbook = tmp_path / "runbook.py"
    runbook.write_text('def respond(ctx):\n    ctx.note("acted")\n', encoding="utf-8")
    clock = ResumedVirtualClock(T0, 4000.0)
    journal = open_journal(clock)
    context = RunbookContext(
        aws=boto3.Session(region_name="us-east-1"),
        clock=clock,
        journal=journal,
        inbox=InjectBus(clock).inbox(),
        repo=tmp_path,
        code_host=CodeHost(tmp_path / "remote.git"),
    )
    done, going = RunbookResponder(runbook), RunbookResponder(runbook)
    done.finished = True
    done.start(context)
    going.start(context)
    clock.start()
    assert done.join(5) and going.join(5)
    assert [e["kind"] for e in events(journal)] == [
        "responder.started",
        "note",
        "responder.finished",
    ]
    clock.close()
