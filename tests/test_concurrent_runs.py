"""Many at once: people issuing commands to one run at the same instant, and teams playing
separate exercises side by side on one machine.

Commands: threads and processes send to one run together while its watcher takes them; every
command lands once, in the order it arrived; a command the run can no longer take gets a
clear error instead of hanging or being done late.

Runs: five `gameday run --team …` processes play the seed scenario at the same time on the
wall clock, sped up so that they overlap, each with its own scripted team (a runbook doing
more or less of what a team should). Each has its own mock account, repository, mailbox and
journal: they all finish complete, score independently, and make one training report.
"""

from __future__ import annotations

import json
import mailbox
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import UserError
from gameday.exercise.control import (
    CommandRefused,
    ControlWatcher,
    Reply,
    RunNotLive,
    send,
    wait_reply,
)
from gameday.exercise.facilitator import Authority
from gameday.journal import Event, read_journal
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.report import load_run
from gameday.rundir import RunDir
from gameday.scoring.score import score_journal

SEED_SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
GAMEDAY = Path(sys.executable).with_name("gameday")

# ── commands from many terminals ──────────────────────────────────────────────────────────

THREADS = 6
PROCESSES = 3
EACH = 20

SENDER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from gameday.exercise.control import send
    from gameday.rundir import RunDir

    run, who, each, go = RunDir(Path(sys.argv[1])), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.001)
    names = [send(run, "note", text=f"{who}:{i:03d}").name for i in range(each)]
    print(json.dumps(names))
    """
)


@pytest.fixture
def live_run(tmp_path: Path) -> RunDir:
    """A run directory whose run.json says this process is the live run."""
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_status(pid=os.getpid(), state="running")
    return run


@pytest.fixture
def authority(live_run: RunDir) -> Authority:
    """The live run's facilitator token (its hash written into the run)."""
    return Authority.issue(live_run)


def test_commands_sent_at_the_same_instant_all_land_in_the_order_they_arrived(
    live_run: RunDir, authority: Authority
) -> None:
    handled: list[str] = []
    watcher = ControlWatcher(
        live_run,
        {"note": lambda command: handled.append(command["text"])},
        authority,
        interval=0.005,
    ).start()
    go = live_run.path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, str(live_run.path), f"process-{n}", str(EACH), str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    names: dict[str, str] = {}  # command file name → the note it carried
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS + 1)

    def sender(who: str) -> None:
        barrier.wait()
        for i in range(EACH):
            text = f"{who}:{i:03d}"
            name = send(live_run, "note", text=text).name
            with lock:
                names[name] = text

    threads = [threading.Thread(target=sender, args=(f"thread-{n}",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the sender processes are waiting for the start
    barrier.wait()
    go.touch()
    for thread in threads:
        thread.join()
    for n, process in enumerate(processes):
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        for i, name in enumerate(json.loads(out)):
            names[name] = f"process-{n}:{i:03d}"
    total = (THREADS + PROCESSES) * EACH
    deadline = time.monotonic() + 30
    while len(handled) < total and time.monotonic() < deadline:
        time.sleep(0.05)
    watcher.stop()

    assert len(names) == total  # every command got a file of its own
    assert sorted(handled) == sorted(names.values())  # every one landed, once
    # In the order they arrived: the order `send` numbered them in, whatever the watcher's
    # passes caught in between — so each sender's own commands also keep their order.
    assert handled == [names[name] for name in sorted(names)]
    for who in {text.split(":")[0] for text in handled}:
        mine = [text for text in handled if text.startswith(f"{who}:")]
        assert mine == sorted(mine)
    # Senders from threads and processes interleaved: the test did send at the same time.
    firsts = [handled.index(f"{who}:000") for who in {t.split(":")[0] for t in handled}]
    assert max(firsts) < total - EACH
    assert list(live_run.control.glob("*.json")) == []
    # Each has its answer waiting (these senders did not come back for them).
    assert len(list(live_run.control.glob("*.reply"))) == total


def test_the_sender_reads_the_runs_reply(live_run: RunDir, authority: Authority) -> None:
    def pause(command: dict[str, Any]) -> str:
        return "paused at T+0:05:00"

    def mark(command: dict[str, Any]) -> None:
        raise CommandRefused(f"unknown step '{command['step']}'")

    def boom(command: dict[str, Any]) -> None:
        raise RuntimeError("the handler broke")

    errors: list[str] = []
    watcher = ControlWatcher(
        live_run,
        {"pause": pause, "mark": mark, "end": boom, "note": lambda command: None},
        authority,
        interval=0.01,
        on_error=lambda command, error: errors.append(f"{command['command']}: {error}"),
    ).start()
    try:
        token = authority.token
        assert wait_reply(send(live_run, "pause", token=token), live_run) == Reply(
            True, "paused at T+0:05:00"
        )
        assert wait_reply(send(live_run, "mark", step="x", token=token), live_run) == Reply(
            False, "unknown step 'x'"
        )
        assert wait_reply(send(live_run, "end", token=token), live_run) == Reply(
            False, "end failed: RuntimeError: the handler broke"
        )
        assert errors == ["end: the handler broke"]
        # The watcher went on after the broken handler.
        assert wait_reply(send(live_run, "note", text="still here"), live_run) == Reply(
            True, "note: done"
        )
        assert wait_reply(send(live_run, "resume", token=token), live_run) == Reply(
            False, "this run does not take 'resume'"
        )
    finally:
        watcher.stop()
    assert [p for p in live_run.control.glob("*.reply")] == []


def test_commands_to_a_run_that_ended_get_a_clear_error(
    live_run: RunDir, authority: Authority
) -> None:
    watcher = ControlWatcher(live_run, {"pause": lambda command: None}, authority).start()
    watcher.stop()
    with pytest.raises(RunNotLive, match="the run has ended"):
        send(live_run, "pause")
    live_run.write_status(state="ended", reason="duration")
    with pytest.raises(RunNotLive) as raised:
        send(live_run, "pause")
    message = str(raised.value)
    assert "the run has ended (duration) — cannot pause it" in message
    assert f"gameday score {live_run.path}" in message
    assert list(live_run.control.glob("*.json")) == []


def test_a_run_whose_process_is_gone_gets_a_clear_error(live_run: RunDir) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    live_run.write_status(pid=int(gone.stdout), state="running")
    with pytest.raises(RunNotLive, match=rf"process is gone .*gameday recover {live_run.path}"):
        send(live_run, "end")


def test_commands_still_queued_when_the_run_ends_are_answered_not_left_hanging(
    live_run: RunDir, authority: Authority
) -> None:
    taken: list[str] = []
    watcher = ControlWatcher(
        live_run, {"note": lambda command: taken.append(command["text"])}, authority
    )
    # The watcher is not started: nothing takes the commands before the run ends.
    queued = [send(live_run, "note", text=str(n)) for n in range(3)]
    watcher.stop()
    for path in queued:
        reply = wait_reply(path, live_run)
        assert reply == Reply(False, "the run ended before it took this command")
    assert taken == []
    with pytest.raises(RunNotLive):
        send(live_run, "note", text="too late")


def test_a_command_the_run_never_takes_is_withdrawn_not_done_late(
    live_run: RunDir, authority: Authority
) -> None:
    taken: list[str] = []
    watcher = ControlWatcher(live_run, {"end": lambda command: taken.append("end")}, authority)
    path = send(live_run, "end", token=authority.token)
    with pytest.raises(UserError, match=r"did not take 'end' within 0\.3 s"):
        wait_reply(path, live_run, timeout=0.3)
    assert not path.exists()
    watcher.take()  # the run wakes up: the withdrawn command is not there to do
    assert taken == []
    watcher.start()
    watcher.stop()


def test_a_run_that_dies_while_a_command_waits_gets_a_clear_error(live_run: RunDir) -> None:
    path = send(live_run, "pause")
    live_run.write_status(state="ended", reason="interrupt")
    with pytest.raises(RunNotLive, match=r"the run has ended \(interrupt\)"):
        wait_reply(path, live_run, timeout=10)
    assert not path.exists()


# ── several teams at once ─────────────────────────────────────────────────────────────────

RUNS = 5
SPEED = 90  # the two-hour scenario in 80 s: the five overlap, with slack for a loaded machine

TEAM_RUNBOOK = textwrap.dedent(
    '''
    """A scripted team: does the first LEVEL things of what a team should, then waits."""

    LEVEL = {level}


    def respond(ctx):
        notice = ctx.wait_for("email")
        key, user = notice.data["access_key_id"], notice.data["user_name"]
        ctx.note(f"incident opened for {{key}}")
        iam = ctx.aws.client("iam")
        if LEVEL >= 1:
            iam.update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
        if LEVEL >= 2:
            ctx.make_repo_private()
        if LEVEL >= 3:
            trail = ctx.aws.client("cloudtrail", region_name="us-east-1")
            trail.lookup_events(
                LookupAttributes=[{{"AttributeKey": "AccessKeyId", "AttributeValue": key}}]
            )
            support = ctx.aws.client("support", region_name="us-east-1")
            for case in support.describe_cases()["cases"]:
                support.add_communication_to_case(
                    caseId=case["caseId"], communicationBody="Key disabled, investigating."
                )
        ctx.sleep("10m")
        ctx.note("standing by")
    '''
)
# team → (seed, responder): from a team that does nothing to the reference runbook
TEAMS = {
    "alpha": (11, 0),
    "bravo": (12, 1),
    "charlie": (13, 2),
    "delta": (14, 3),
    "echo": (15, -1),
}


def team_responder(root: Path, team: str, level: int) -> str:
    if level < 0:
        return str(PROJECT_ROOT / "runbooks" / "reference.py")
    path = root / f"{team}.py"
    path.write_text(TEAM_RUNBOOK.format(level=level), encoding="utf-8")
    return str(path)


def message_text(message: mailbox.MaildirMessage) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    payloads = [part.get_payload(decode=True) for part in parts]
    return "".join(p.decode("utf-8", "replace") for p in payloads if isinstance(p, bytes))


def by_kind(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["kind"] == kind]


@pytest.fixture(scope="module")
def five_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunDir]]:
    root = tmp_path_factory.mktemp("teams")
    runs = {team: RunDir(root / team) for team in TEAMS}
    processes: dict[str, subprocess.Popen[str]] = {}
    for team, (seed, level) in TEAMS.items():
        command = [
            str(GAMEDAY), "run", str(SEED_SCENARIO), "--team", team, "--out", str(runs[team].path),
            "--clock", "wall", "--speed", str(SPEED), "--seed", str(seed), "--plain",
            "--responder", team_responder(root, team, level),
        ]  # fmt: skip
        processes[team] = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=root,
        )
    try:
        for team, process in processes.items():
            output, _ = process.communicate(timeout=400)
            assert process.returncode in (0, 1), f"{team}:\n{output}"
        yield runs
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.communicate()


@pytest.mark.slow
@pytest.mark.sweep
def test_five_teams_play_at_once_each_in_a_world_of_its_own(five_runs: dict[str, RunDir]) -> None:
    journals = {team: read_journal(run.journal) for team, run in five_runs.items()}
    for team, events in journals.items():
        assert events[0]["kind"] == "run.started" and events[0]["team"] == team
        assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "duration"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert by_kind(events, "responder.finished")[0]["outcome"] in ("returned", "run-ended")
        assert by_kind(events, "error") == [] and by_kind(events, "responder.error") == []
        assert {e["inject"] for e in by_kind(events, "inject.delivered")} >= {
            "quarantine", "support-case", "case-email", "health-event", "enterprise-call",
        }  # fmt: skip

    # They ran at the same time: every run started before any ended.
    starts = [events[0]["wall"] for events in journals.values()]
    ends = [events[-1]["wall"] for events in journals.values()]
    assert max(starts) < min(ends)

    # Each in its own world: its own mock server, mailbox, repository, and keys no other run has.
    endpoints = {json.loads(run.status_file.read_text())["endpoint"] for run in five_runs.values()}
    assert len(endpoints) == RUNS
    leaked = {team: events[0]["leaked_access_key_id"] for team, events in journals.items()}
    assert len(set(leaked.values())) == RUNS
    for team, run in five_runs.items():
        text = run.journal.read_text(encoding="utf-8")
        assert [other for other, key in leaked.items() if key in text] == [team]
        mail = [message_text(message) for message in mailbox.Maildir(run.mail, create=False)]
        assert mail and all(leaked[team] in text for text in mail)
        calls = by_kind(journals[team], "api.call")
        responder_keys = {c["access_key_id"] for c in calls if c["actor"] == "responder"}
        assert leaked[team] not in responder_keys

    # Independent scores: what one team did changed nothing in another's account.
    runs = five_runs.items()
    scores = {team: json.loads((run.path / "score.json").read_text()) for team, run in runs}
    # Under five runs' load on two cores the sped-up clock outruns the work, so how early a
    # step was done varies; whether it was done does not.
    done = {
        team: {s["id"] for s in score["steps"] if s["status"] in ("success", "partial")}
        for team, score in scores.items()
    }
    assert "disable-leaked-key" not in done["alpha"]
    for team in ("bravo", "charlie", "delta", "echo"):
        assert "disable-leaked-key" in done[team], team
    assert "repository-private" not in done["alpha"] | done["bravo"]
    assert "repository-private" in done["charlie"] & done["delta"] & done["echo"]
    assert "reply-to-case" not in done["charlie"]
    assert "reply-to-case" in done["delta"] & done["echo"]
    # How much each team scores under the load varies; that doing nothing scores lowest and
    # the reference runbook beats a lone deactivation does not.
    assert min(scores, key=lambda team: scores[team]["score"]) == "alpha"
    # (a reference runbook cut short by the end of a loaded, sped-up run may only tie)
    assert scores["echo"]["score"] >= scores["bravo"]["score"] > scores["alpha"]["score"]
    # Each score is its own journal's: re-scored from the journal alone, it comes out the same.
    for team, run in runs:
        loaded = load_run(run.path, score_journal)
        again = score_journal(loaded.scenario, list(loaded.events), loaded.team).to_json()
        assert (again["team"], again["score"]) == (team, scores[team]["score"])
    assert not scores["alpha"]["passed"]


@pytest.mark.slow
@pytest.mark.sweep
def test_each_runs_phone_call_has_its_script_and_audio(five_runs: dict[str, RunDir]) -> None:
    speech = shutil.which("espeak-ng")
    for run in five_runs.values():
        (call,) = [e for e in read_journal(run.journal) if e.get("inject") == "enterprise-call"]
        assert (run.path / call["script"]).is_file()
        if speech is None:
            assert "audio" not in call
            continue
        with wave.open(str(run.path / call["audio"])) as audio:
            assert audio.getnframes() / audio.getframerate() > 30
    if speech is None and os.environ.get("CI"):
        pytest.fail("espeak-ng is not installed; CI must install the Debian package")


@pytest.mark.slow
@pytest.mark.sweep
def test_the_five_runs_make_one_training_report(
    five_runs: dict[str, RunDir], tmp_path: Path
) -> None:
    out = tmp_path / "training"
    done = subprocess.run(
        [str(GAMEDAY), "report", *[str(run.path) for run in five_runs.values()], "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    html = (out / "training.html").read_text(encoding="utf-8")
    for team in TEAMS:
        assert team in html
    summary = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert len(json.dumps(summary)) > 1000
    assert {str(p.name) for p in out.iterdir()} >= {"training.html", "training.md", "training.json"}
