"""Control of a live run from other terminals, through the real command line.

A wall-clock run with a human team goes in the background; the facilitator's terminal is
`gameday status|pause|resume|note|mark|repo|end`: `python -m gameday` in processes of its own
for the first status, the first refusal, two notes at the same instant where people would
collide, and the end; the command line's own `main` in the test's process for the others
(`gameday_here`: the same command files reach the run, without a Python start-up each).
The facilitator's commands carry the token the run printed at its start; the same commands
without it, or with a wrong one, are refused (exit 2, a message saying how to give it) and
journaled as refused. After the run, `mark` still journals (flagged `after_run`) with the
token, and `score` counts it.

A team cannot mark its own manual steps: a runbook that runs `gameday mark` in its shell,
calls `gameday.exercise.control.send` itself, or forges a command file, is refused and
journaled as refused (a virtual-time run through click's CliRunner).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gameday.cli import cli
from gameday.errors import UserError
from gameday.exercise.control import ControlWatcher, Reply, send, wait_reply
from gameday.exercise.facilitator import Authority, check_token, proof
from gameday.journal import Event, read_journal
from gameday.rundir import RunDir

from .test_run_e2e import LiveRun, environment, gameday, gameday_here, write_scenario

STATUS_TIME = re.compile(r" at T([+-])(\d+):(\d\d):(\d\d)")
TOGETHER = ["from the first terminal", "from the second terminal"]
TOKEN_HELP = "export GAMEDAY_FACILITATOR_TOKEN="


def run_time(status_output: str) -> int:
    """The run time `gameday status` shows, in whole seconds."""
    found = STATUS_TIME.search(status_output)
    assert found, status_output
    sign, hours, minutes, seconds = found.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return -total if sign == "-" else total


def ok(*args: str | Path, cwd: Path, token: str | None = None, own_process: bool = False) -> str:
    """A `gameday` command that must succeed (in a process of its own, or here); its output."""
    result = (gameday if own_process else gameday_here)(*args, cwd=cwd, token=token)
    assert result.returncode == 0, f"gameday {args}: {result.stdout}{result.stderr}"
    return result.stdout


def refused(
    *args: str | Path, cwd: Path, token: str | None = None, own_process: bool = False
) -> str:
    """A `gameday` command that must be refused as a user error (exit 2); its message."""
    result = (gameday if own_process else gameday_here)(*args, cwd=cwd, token=token)
    assert result.returncode == 2, f"gameday {args}: {result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    return result.stderr


def refusals(events: list[Event]) -> list[tuple[object, ...]]:
    return [
        (e["command"], e.get("step"), e["by"], e["reason"], e["via"])
        for e in events
        if e["kind"] == "control.refused"
    ]


@pytest.mark.slow
def test_a_live_run_obeys_commands_from_other_terminals(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    with LiveRun(scenario, tmp_path / "run", "--responder", "human", "--speed", "60") as live:
        events = control_the_live_run(live, tmp_path)
        token = live.token
    path = live.run.path

    by_kind = {e["kind"]: e for e in events}
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "end"
    paused, resumed = by_kind["run.paused"], by_kind["run.resumed"]
    assert paused["seq"] < resumed["seq"]
    assert (paused["by"], paused["name"], paused["via"]) == ("facilitator", "test-lead", "cli")
    # half a second of real time (30 run seconds) passed between them: the clock stood still
    assert float(resumed["t"]) - float(paused["t"]) < 5.0
    notes = [e for e in events if e["kind"] == "note"]
    team = [e for e in notes if e["by"] == "team"]
    assert sorted(e["text"] for e in team) == sorted(["x", *TOGETHER])
    assert all(e["actor"] == "responder" and e["name"] == "test-lead" for e in team)
    [mine] = [e for e in notes if e["by"] == "facilitator"]
    assert (mine["actor"], mine["text"]) == ("facilitator", "the room took a break")
    [mark] = [e for e in events if e["kind"] == "mark"]
    assert (mark["step"], mark["by"], mark["name"]) == (
        "acknowledge-case",
        "facilitator",
        "test-lead",
    )
    assert by_kind["repo.private"]["actor"] == "responder"
    # every attempt without the token is in the journal, none did anything
    assert refusals(events) == [
        ("pause", None, "team", "no facilitator token", "cli"),
        ("mark", "acknowledge", "team", "no facilitator token", "cli"),
        ("mark", "acknowledge-case", "team", "a wrong facilitator token", "cli"),
        ("note", None, "team", "no facilitator token", "cli"),
        ("fire-next", None, "team", "no facilitator token", "cli"),
        ("end", None, "team", "no facilitator token", "cli"),
    ]

    # after the run: status says so, commands are refused, a mark needs the token still
    assert f"{path}: ended (end) at T+" in ok("status", path, cwd=tmp_path)
    late_pause = gameday_here("pause", path, cwd=tmp_path, token=token)
    assert late_pause.returncode == 2 and "Traceback" not in late_pause.stderr
    assert "the run has ended (end)" in late_pause.stderr
    assert TOKEN_HELP in refused("mark", path, "root-password", cwd=tmp_path)
    ok("mark", path, "root-password", cwd=tmp_path, token=token)
    after = read_journal(live.run.journal)
    assert len(after) == len(events) + 2
    late_refusal, late = after[-2:]
    assert late_refusal["kind"] == "control.refused" and late_refusal["after_run"]
    assert (late_refusal["step"], late_refusal["by"]) == ("root-password", "team")
    assert late["kind"] == "mark" and late["step"] == "root-password" and late["after_run"]
    assert late["by"] == "facilitator"
    assert late["seq"] == events[-1]["seq"] + 2 and late["t"] == events[-1]["t"]

    rescored = gameday_here("score", path, "--json", cwd=tmp_path)
    assert rescored.returncode == 1, rescored.stderr  # still without its critical step
    steps = {s["id"]: s for s in json.loads(rescored.stdout)["steps"]}
    assert steps["root-password"]["status"] == "success" and steps["root-password"]["awarded"]
    assert steps["acknowledge-case"]["status"] == "success"
    assert steps["repository-private"]["status"] == "success"
    assert steps["disable-leaked-key"]["status"] == "failed"


def control_the_live_run(live: LiveRun, cwd: Path) -> list[Event]:
    """status, pause, resume, notes, mark, repo private, end; the journal once it ended."""
    live.wait_running()
    path = live.run.path
    token = live.token
    assert f"{path}: running (live) at T+" in ok("status", path, cwd=cwd, own_process=True)

    # without the token the facilitator's commands are refused, and say how to give it
    message = refused("pause", path, cwd=cwd, own_process=True)
    assert "pause is the facilitator's: it needs the facilitator token" in message
    assert TOKEN_HELP in message and "--token TOKEN" in message
    # a misspelt step gets no "did you mean" without the token: step ids are spoilers
    assert "did you mean" not in refused("mark", path, "acknowledge", cwd=cwd)
    wrong = refused("mark", path, "acknowledge-case", "--token", "not-the-token", cwd=cwd)
    assert "the facilitator token given is not this run's" in wrong
    refused("note", path, "--as", "facilitator", "it was me", cwd=cwd)
    refused("fire-next", path, cwd=cwd)
    # with the token: the next inject now, or (all of them sent already) a clear refusal
    fired = gameday_here("fire-next", path, cwd=cwd, token=token)
    if fired.returncode == 0:
        assert " fires now" in fired.stdout
    else:
        assert fired.returncode == 2 and "no inject is left to fire now" in fired.stderr

    # pause: the run clock stops, for status and for the run itself
    ok("pause", path, cwd=cwd, token=token)
    first = ok("status", path, cwd=cwd)
    time.sleep(0.5)  # 30 s of run time, were the clock going
    second = ok("status", path, cwd=cwd)
    assert "paused (live)" in second
    assert run_time(first) == run_time(second)
    ok("resume", path, "--token", token, cwd=cwd)
    time.sleep(0.5)
    assert run_time(ok("status", path, cwd=cwd)) >= run_time(second) + 20

    # notes: the team's (even with the token in the environment), one, then two at the same
    # instant from two terminals; the facilitator's with the token
    assert "note journaled as the team's" in ok("note", path, "x", cwd=cwd, token=token)
    with ThreadPoolExecutor(2) as pool:
        outputs = list(
            pool.map(lambda text: ok("note", path, text, cwd=cwd, own_process=True), TOGETHER)
        )
    assert all("note" in output for output in outputs)
    said = ok("note", path, "--as", "facilitator", "the room took a break", cwd=cwd, token=token)
    assert "note journaled as the facilitator's" in said

    # the facilitator validates a manual step; the step holds from then on
    ok("mark", path, "acknowledge-case", cwd=cwd, token=token)
    unknown = gameday_here("mark", path, "acknowledge", cwd=cwd, token=token)
    assert unknown.returncode == 2 and "did you mean 'acknowledge-case'" in unknown.stderr
    live.wait_event(
        lambda e: e["kind"] == "check.changed" and e["check"] == "step:acknowledge-case",
        "the marked step to hold",
    )

    # the code host's button is the team's own: no token
    ok("repo", "private", path, cwd=cwd)
    live.wait_event(lambda e: e["kind"] == "repo.private", "repo.private")

    refused("end", path, cwd=cwd)
    assert live.alive()
    ok("end", path, cwd=cwd, token=token, own_process=True)
    assert live.finish() == 1  # the critical step (disable the key) was never done
    return read_journal(live.run.journal)


# ── a team that marks its own manual steps ────────────────────────────────────────────────

SELF_MARKING_RUNBOOK = textwrap.dedent(
    '''
    """A team that marks its own manual steps: from its shell, through gameday's own API,
    and by writing a command file with a made-up proof."""

    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    from gameday.exercise.control import send, wait_reply
    from gameday.rundir import RunDir


    def gameday(*args):
        done = subprocess.run(
            [sys.executable, "-m", "gameday", *args],
            capture_output=True, text=True, timeout=120,
        )
        return f"exit {done.returncode}: {done.stderr.strip()}"


    def respond(ctx):
        ctx.wait_for("email")
        run = RunDir(Path(ctx.repo).parent)
        ctx.note("shell mark: " + gameday("mark", str(run.path), "root-password"))
        reply = wait_reply(send(run, "mark", step="acknowledge-case", by="facilitator"), run)
        ctx.note(f"api mark: {reply.ok}: {reply.message}")
        forged = run.control / "999999999999-forged.json"
        forged.write_text(json.dumps({
            "command": "mark", "step": "acknowledge-case", "by": "facilitator",
            "issued": time.time(), "nonce": "n", "proof": "0" * 64,
        }))
        reply = wait_reply(forged, run)
        ctx.note(f"forged mark: {reply.ok}: {reply.message}")
        ctx.note("shell end: " + gameday("end", str(run.path)))
        iam = ctx.aws.client("iam")
        notice = ctx.inbox()[0].data
        iam.update_access_key(
            UserName=notice["user_name"], AccessKeyId=notice["access_key_id"], Status="Inactive"
        )
    '''
)


def invoke(*args: str | Path, token: str | None = None) -> Result:
    """`gameday ARGS` through click's CliRunner, in this process."""
    env = {**environment(), "GAMEDAY_FACILITATOR_TOKEN": token or ""}
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def refused_in_process(result: Result) -> str:
    """The message of a command refused as a user error (the CLI exits 2 with it)."""
    assert isinstance(result.exception, UserError), (result.output, result.exception)
    return str(result.exception)


@pytest.mark.slow
def test_a_runbook_cannot_mark_its_own_manual_steps(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    runbook = tmp_path / "self_marking.py"
    runbook.write_text(SELF_MARKING_RUNBOOK, encoding="utf-8")
    out = tmp_path / "run"
    played = invoke(
        "run", scenario, "--clock", "virtual", "--responder", runbook, "--out", out, "--plain"
    )
    assert played.exit_code == 1, played.output  # below the pass mark: no manual step counts
    token = re.search(r"^facilitator token: (\S+)$", played.output, re.MULTILINE)
    assert token, played.output
    run = RunDir(out)

    events = read_journal(run.journal)
    assert [e for e in events if e["kind"] == "mark"] == []
    assert refusals(events) == [
        ("mark", "root-password", "team", "no facilitator token", "cli"),
        ("mark", "acknowledge-case", "team", "no facilitator token", "cli"),
        ("mark", "acknowledge-case", "team", "a wrong facilitator token", None),
        ("end", None, "team", "no facilitator token", "cli"),
    ]
    notes = {e["text"].split(":")[0]: e["text"] for e in events if e["kind"] == "note"}
    assert notes["shell mark"].startswith("shell mark: exit 2: ")
    assert TOKEN_HELP in notes["shell mark"]  # the message says how to give the token
    assert notes["api mark"].startswith("api mark: False: mark is the facilitator's")
    assert notes["forged mark"].startswith("forged mark: False: mark refused")
    assert notes["shell end"].startswith("shell end: exit 2: ")
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "duration"
    steps = {s["id"]: s for s in json.loads((out / "score.json").read_text())["steps"]}
    for manual in ("root-password", "acknowledge-case"):
        assert (steps[manual]["status"], steps[manual]["satisfied_at_s"]) == ("failed", None)
    assert steps["disable-leaked-key"]["status"] == "success"

    # The steps are spoilers: listing them needs the token too.
    assert "needs the facilitator token" in refused_in_process(invoke("mark", out, "--list"))
    listed = invoke("mark", out, "--list", token=token.group(1))
    assert listed.exit_code == 0, listed.output
    assert "root-password" in listed.output and "acknowledge-case" in listed.output
    assert "disable-leaked-key" not in listed.output  # not a manual step

    # After the run the facilitator marks with the token; without it, refused and journaled.
    message = refused_in_process(invoke("mark", out, "root-password"))
    assert "needs the facilitator token" in message and TOKEN_HELP in message
    wrong = refused_in_process(invoke("mark", out, "root-password", token="guess"))
    assert "not this run's" in wrong
    marked = invoke("mark", out, "root-password", token=token.group(1))
    assert marked.exit_code == 0, marked.output
    after = read_journal(run.journal)[len(events) :]
    assert [(e["kind"], e["by"], e["after_run"]) for e in after] == [
        ("control.refused", "team", True),
        ("control.refused", "team", True),
        ("mark", "facilitator", True),
    ]
    rescored = invoke("score", out, "--json")
    steps = {s["id"]: s for s in json.loads(rescored.output)["steps"]}
    # it counts, at the run's last moment: past this step's deadline, so for no points
    root = steps["root-password"]
    assert root["satisfied_at_s"] is not None and root["satisfied_at_s"] >= root["deadline_s"]
    assert "satisfied only at or after the deadline" in root["reason"]
    assert steps["acknowledge-case"]["satisfied_at_s"] is None


# ── the door itself: proofs, not tokens, in files ────────────────────────────────────────


@pytest.fixture
def live_run(tmp_path: Path) -> RunDir:
    """A run directory whose run.json says this process is the live run."""
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_status(pid=os.getpid(), state="running")
    return run


def test_the_run_decides_who_a_command_is_by_never_the_sender(live_run: RunDir) -> None:
    authority = Authority.issue(live_run)
    taken: list[dict[str, object]] = []
    refused_ones: list[dict[str, object]] = []
    watcher = ControlWatcher(
        live_run,
        {"mark": taken.append, "note": taken.append},
        authority,
        on_refused=refused_ones.append,
    )
    token = authority.token
    claimed = send(live_run, "mark", step="s", by="facilitator")
    signed = send(live_run, "mark", step="s", token=token)
    note = send(live_run, "note", text="hello", by="facilitator")
    # the command files carry a proof of the token, never the token
    for path in (claimed, signed, note):
        assert token not in path.read_text(encoding="utf-8")
        assert path.stat().st_mode & 0o777 == 0o600
    # a proof made for one command does not fit another (the step changed)
    tampered = json.loads(signed.read_text(encoding="utf-8"))
    forged = live_run.control / "999999999998-tampered.json"
    forged.write_text(json.dumps({**tampered, "step": "other"}), encoding="utf-8")
    # nor is it good twice
    replayed = live_run.control / "999999999999-replayed.json"
    replayed.write_text(signed.read_text(encoding="utf-8"), encoding="utf-8")
    # and a proof from long ago is refused, however well made
    old = {"command": "mark", "step": "s", "issued": time.time() - 3600, "nonce": "n"}
    stale = live_run.control / "999999999999-stale.json"
    stale.write_text(json.dumps({**old, "proof": proof(token, old)}), encoding="utf-8")
    watcher.take()

    assert [(c["command"], c["by"]) for c in taken] == [("mark", "facilitator"), ("note", "team")]
    assert "proof" not in taken[0]
    assert [(r["command"], r["by"], r["reason"]) for r in refused_ones] == [
        ("mark", "team", "no facilitator token"),
        ("mark", "team", "a wrong facilitator token"),
        ("mark", "team", "a facilitator proof already used"),
        ("mark", "team", "a facilitator proof too old or from the future"),
    ]
    assert wait_reply(claimed, live_run).message.startswith("mark is the facilitator's")
    assert wait_reply(signed, live_run) == Reply(True, "mark: done")
    watcher.stop()


def test_only_the_hash_of_the_token_is_kept(live_run: RunDir) -> None:
    authority = Authority.issue(live_run)
    stored = (live_run.facilitator / "token.sha256").read_text(encoding="utf-8")
    assert authority.token not in stored and stored.startswith("sha256:")
    assert (live_run.facilitator / "token.sha256").stat().st_mode & 0o777 == 0o600
    assert live_run.facilitator.stat().st_mode & 0o777 == 0o700
    assert check_token(live_run, authority.token) == "facilitator"
    assert check_token(live_run, authority.token[:-1]) == "wrong"
    assert check_token(live_run, None) == "missing"
    assert len(authority.token) >= 43  # 32 random bytes
    # a recovered run given its token keeps it; given another, it refuses to start
    assert not Authority.resume(live_run, authority.token).issued
    with pytest.raises(UserError, match="not this run's"):
        Authority.resume(live_run, "someone-elses")
    renewed = Authority.resume(live_run, None)
    assert renewed.issued and check_token(live_run, authority.token) == "wrong"


# ── the run clock other terminals read from run.json ───────────────────────────────────────


def live_run_dir(tmp_path: Path) -> RunDir:
    """A run directory whose run.json names a live process (this one)."""
    tmp_path.mkdir(exist_ok=True)
    run = RunDir(tmp_path)
    run.write_status(pid=os.getpid(), state="running", clock="wall")
    return run


def test_run_time_goes_on_at_the_run_speed(tmp_path: Path) -> None:
    run = live_run_dir(tmp_path)
    run.write_clock(600.0, speed=60.0, paused=False)
    first = run.run_time()
    time.sleep(0.05)
    second = run.run_time()
    assert first is not None and second is not None
    assert 600.0 <= first < second
    assert second - first == pytest.approx(0.05 * 60.0, abs=1.5)
    assert run.status()["state"] == "running"


def test_run_time_stands_still_while_paused(tmp_path: Path) -> None:
    run = live_run_dir(tmp_path)
    run.write_clock(754.5, speed=60.0, paused=True)
    time.sleep(0.05)
    assert run.run_time() == 754.5
    assert run.status()["state"] == "paused"


def test_no_run_time_without_a_live_wall_clock(tmp_path: Path) -> None:
    virtual = live_run_dir(tmp_path / "virtual")
    assert virtual.run_time() is None  # a virtual run publishes no clock: time jumps

    ended = live_run_dir(tmp_path / "ended")
    ended.write_clock(60.0, speed=1.0, paused=False)
    ended.write_status(state="ended", reason="end")
    assert ended.run_time() is None

    broken = live_run_dir(tmp_path / "broken")
    broken.write_status(run_clock={"t": "soon"})
    assert broken.run_time() is None


def test_status_writes_from_two_threads_both_land(tmp_path: Path) -> None:
    run = live_run_dir(tmp_path)

    def write(index: int) -> None:
        run.write_status(**{f"field_{index}": index})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(64)))
    status = run.status()
    assert all(status[f"field_{index}"] == index for index in range(64))
