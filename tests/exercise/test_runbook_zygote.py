"""The runbook zygote: each runbook's process forked ready, and the same process Popen made.

These tests start real processes: the zygote, the runbooks' processes it forks, the
sleepers a runbook starts, and a requester killed with SIGKILL. Each test has a zygote of
its own (`zygotes`), stopped at its end.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gameday.exercise import runbook_zygote
from gameday.exercise.responders import HostProcess, _host_runbook, _stop_host
from gameday.exercise.run import RunOptions, run_exercise
from gameday.exercise.runbook_host import TOKEN_VARIABLE, receive, send
from gameday.exercise.runbook_zygote import running as alive
from gameday.journal import read_journal, without_wall_clock
from gameday.paths import PROJECT_ROOT
from gameday.world.account import MockAccount

# The zygote is Linux's (and these tests read /proc).
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

SEED_SCENARIO = PROJECT_ROOT / "scenarios" / "exported-keys-in-script.yaml"
REFERENCE_RUNBOOK = PROJECT_ROOT / "runbooks" / "reference.py"
TOKEN = "facilitator-token-that-no-runbook-may-see"

# A runbook that notes what its process is: its environment, session, streams, descriptors.
INTROSPECTING = """
import json
import os
import sys

print("runbook imported", flush=True)


def respond(ctx):
    with open("/proc/self/environ", "rb") as environ:
        initial = environ.read()
    facts = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "pgid": os.getpgid(0),
        "token_in_environ": "GAMEDAY_FACILITATOR_TOKEN" in os.environ,
        "token_in_initial": b"GAMEDAY_FACILITATOR_TOKEN" in initial,
        "marker": os.environ.get("ZYGOTE_TEST_MARKER"),
        "cwd": os.getcwd(),
        "stdin": sys.stdin.read(),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "sigint": str(__import__("signal").getsignal(__import__("signal").SIGINT)),
        "sigchld": str(__import__("signal").getsignal(__import__("signal").SIGCHLD)),
    }
    ctx.note(json.dumps(facts))
"""

# A runbook that starts a sleeper, says so, and waits for the run.
STARTS_A_SLEEPER = """
import subprocess


def respond(ctx):
    sleeper = subprocess.Popen(["sleep", "300"])
    ctx.note(str(sleeper.pid))
    ctx.sleep("1h")
"""


@pytest.fixture
def zygotes(monkeypatch: pytest.MonkeyPatch) -> Iterator[runbook_zygote.Zygotes]:
    """A zygote of the test's own (the process's one is left alone)."""
    monkeypatch.delenv(runbook_zygote.SWITCH_VARIABLE, raising=False)
    own = runbook_zygote.Zygotes()
    own.expect_many_runs()
    monkeypatch.setattr(runbook_zygote, "zygotes", own)
    yield own
    own.stop()


def hosted_sleeper(tmp_path: Path) -> tuple[runbook_zygote.HostProcess, Connection, int]:
    """A forked runbook's process, started, and the pid of the `sleep` it started."""
    process, connection = _host_runbook(write(tmp_path / "sleeper.py", STARTS_A_SLEEPER))
    assert isinstance(process, runbook_zygote.HostProcess)
    start(connection, tmp_path)
    return process, connection, int(next_note(connection))


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def start(connection: Connection, repo: Path) -> None:
    send(
        connection,
        {"op": "start", "t0": datetime(2026, 1, 1, tzinfo=UTC).isoformat(), "repo": str(repo)},
    )


def notes_until_finished(connection: Connection) -> tuple[list[str], str]:
    """Answer the runbook's calls as the run would (`note` only) until it finishes."""
    notes: list[str] = []
    while True:
        message = receive(connection)
        if message["op"] == "finished":
            return notes, str(message["outcome"])
        assert message["op"] == "note", message
        notes.append(str(message["text"]))
        send(connection, {"ok": None})


def next_note(connection: Connection) -> str:
    message = receive(connection)
    assert message["op"] == "note", message
    send(connection, {"ok": None})
    return str(message["text"])


def facts_of(path: Path, tmp_path: Path) -> tuple[HostProcess, dict[str, Any]]:
    process, connection = _host_runbook(path)
    try:
        start(connection, tmp_path)
        notes, outcome = notes_until_finished(connection)
        assert process.wait(10) == 0  # it ends on its own once the runbook returned
    finally:
        _stop_host(process, connection)
    assert outcome == "returned"
    [note] = notes
    return process, json.loads(note)


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def zygote_pid(zygotes: runbook_zygote.Zygotes) -> int:
    zygote = zygotes.current
    assert zygote is not None and zygote.process is not None
    return zygote.process.pid


def environ_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


# ── the process a runbook gets ────────────────────────────────────────────────────────────


def test_a_forked_runbook_process_is_the_one_popen_would_start(
    zygotes: runbook_zygote.Zygotes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv("ZYGOTE_TEST_MARKER", "first")
    monkeypatch.chdir(tmp_path)
    runbook = write(tmp_path / "introspecting.py", INTROSPECTING)

    forked, facts = facts_of(runbook, tmp_path)
    assert isinstance(forked, runbook_zygote.HostProcess)
    zygote = zygote_pid(zygotes)
    assert facts["ppid"] == zygote and facts["pid"] == forked.pid
    # no facilitator token: not in its environment, nor in the zygote's
    assert not facts["token_in_environ"] and not facts["token_in_initial"]
    assert TOKEN.encode() not in environ_of(zygote)
    assert TOKEN_VARIABLE.encode() not in environ_of(zygote)
    # a session of its own, which it leads (the run ends it with killpg)
    assert facts["sid"] == facts["pid"] == facts["pgid"]
    assert os.getsid(zygote) == zygote != os.getsid(0)
    # the requester's environment, folder and streams; nothing to read; only its socket
    assert facts["marker"] == "first" and facts["cwd"] == str(tmp_path)
    assert facts["stdin"] == ""
    # 0, 1, 2, its socket, and the folder listing them
    assert len(facts["fds"]) == 5 and facts["fds"][:3] == [0, 1, 2]
    assert facts["sigchld"] == str(signal.SIG_DFL)  # the zygote's own handler is not theirs
    assert "runbook imported" in capfd.readouterr().out
    assert forked.returncode == 0

    # what the requester's environment says now is what the next child gets
    monkeypatch.setenv("ZYGOTE_TEST_MARKER", "second")
    again, facts = facts_of(runbook, tmp_path)
    assert isinstance(again, runbook_zygote.HostProcess) and again.pid != forked.pid
    assert facts["marker"] == "second" and zygote_pid(zygotes) == zygote
    assert not facts["token_in_environ"] and not facts["token_in_initial"]

    # the same facts from Popen's process
    monkeypatch.setenv(runbook_zygote.SWITCH_VARIABLE, "off")
    started, popen_facts = facts_of(runbook, tmp_path)
    assert isinstance(started, subprocess.Popen)
    assert popen_facts["sid"] == popen_facts["pid"] and len(popen_facts["fds"]) == 5
    assert {k: popen_facts[k] for k in ("token_in_environ", "token_in_initial", "stdin")} == {
        k: facts[k] for k in ("token_in_environ", "token_in_initial", "stdin")
    }
    # the signal dispositions of a fresh interpreter, as Popen's process has them
    assert (popen_facts["sigint"], popen_facts["sigchld"]) == (facts["sigint"], facts["sigchld"])


def test_the_end_of_a_runbook_s_session_ends_what_it_started(
    zygotes: runbook_zygote.Zygotes, tmp_path: Path
) -> None:
    process, connection, sleeper = hosted_sleeper(tmp_path)
    assert receive(connection)["op"] == "sleep"  # the runbook waits for the run
    assert os.getsid(sleeper) == process.pid

    _stop_host(process, connection)
    # killed, or ended on its own first: the closed connection is its run's end (as with Popen)
    assert process.returncode in (0, -signal.SIGKILL)
    assert gone_within(sleeper, 5), "the sleeper outlived its runbook's session"


def test_two_runbooks_at_once_each_get_a_process_of_their_own(
    zygotes: runbook_zygote.Zygotes, tmp_path: Path
) -> None:
    runbook = write(tmp_path / "introspecting.py", INTROSPECTING)
    barrier = threading.Barrier(2)
    found: list[tuple[HostProcess, dict[str, Any]]] = []

    def play() -> None:
        barrier.wait()
        found.append(facts_of(runbook, tmp_path))

    threads = [threading.Thread(target=play) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(found) == 2
    (first, one), (second, other) = found
    assert isinstance(first, runbook_zygote.HostProcess)
    assert isinstance(second, runbook_zygote.HostProcess)
    assert first.pid != second.pid
    assert {one["pid"], other["pid"]} == {first.pid, second.pid}
    assert one["sid"] == one["pid"] and other["sid"] == other["pid"]
    assert one["ppid"] == other["ppid"] == zygote_pid(zygotes)


# ── when there is no zygote ───────────────────────────────────────────────────────────────


def test_a_zygote_killed_leaves_its_runbooks_running_and_popen_starts_the_next(
    zygotes: runbook_zygote.Zygotes, tmp_path: Path
) -> None:
    process, connection, sleeper = hosted_sleeper(tmp_path)
    zygote = zygote_pid(zygotes)
    os.kill(zygote, signal.SIGKILL)
    assert gone_within(zygote, 5)
    current = zygotes.current
    assert current is not None
    deadline = time.monotonic() + 5
    while current.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not current.alive

    # the runbook it forked goes on, and still ends with its session
    assert receive(connection)["op"] == "sleep"
    assert process.poll() is None
    _stop_host(process, connection)
    assert process.returncode is not None
    assert gone_within(sleeper, 5)

    # the next runbook's process is Popen's, and it plays to the end
    runbook = write(tmp_path / "introspecting.py", INTROSPECTING)
    started, facts = facts_of(runbook, tmp_path)
    assert isinstance(started, subprocess.Popen)
    assert facts["sid"] == started.pid and not facts["token_in_environ"]


PARRICIDE = """
import os
import signal
import time


def respond(ctx):
    zygote = os.getppid()
    os.kill(zygote, signal.SIGKILL)
    time.sleep(0.5)
    ctx.note(f"{zygote} killed, still here")
"""


def test_a_runbook_that_kills_the_zygote_only_plays_on_without_it(
    zygotes: runbook_zygote.Zygotes, tmp_path: Path
) -> None:
    process, connection = _host_runbook(write(tmp_path / "parricide.py", PARRICIDE))
    assert isinstance(process, runbook_zygote.HostProcess)
    try:
        start(connection, tmp_path)
        notes, outcome = notes_until_finished(connection)
    finally:
        _stop_host(process, connection)
    assert outcome == "returned" and notes == [f"{zygote_pid(zygotes)} killed, still here"]
    assert process.returncode is not None

    started, facts = facts_of(write(tmp_path / "introspecting.py", INTROSPECTING), tmp_path)
    assert isinstance(started, subprocess.Popen)
    assert facts["sid"] == started.pid and facts["ppid"] == os.getpid()


def test_without_fork_or_with_another_interpreter_environment_popen_starts_it(
    zygotes: runbook_zygote.Zygotes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runbook = write(tmp_path / "introspecting.py", INTROSPECTING)
    with monkeypatch.context() as patched:
        patched.delattr(os, "fork")
        started, _ = facts_of(runbook, tmp_path)
    assert isinstance(started, subprocess.Popen)
    assert zygotes.current is None

    forked, _ = facts_of(runbook, tmp_path)
    assert isinstance(forked, runbook_zygote.HostProcess)
    # an interpreter reads PYTHON* as it starts: a zygote started otherwise cannot serve
    monkeypatch.setenv("PYTHONHASHSEED", "12345")
    started, _ = facts_of(runbook, tmp_path)
    assert isinstance(started, subprocess.Popen)


# A requester: hosts a runbook (starting its zygote), says the zygote's pid, and waits.
REQUESTER = """
import sys
import time
from pathlib import Path

from gameday.exercise import runbook_zygote
from gameday.exercise.responders import _host_runbook

runbook_zygote.expect_many_runs()
process, connection = _host_runbook(Path(sys.argv[1]))
print(runbook_zygote.zygotes.current.process.pid, process.pid, flush=True)
time.sleep(300)
"""


def test_the_zygote_ends_when_its_requester_is_killed(tmp_path: Path) -> None:
    runbook = write(tmp_path / "sleeper.py", STARTS_A_SLEEPER)
    env = {k: v for k, v in os.environ.items() if k != runbook_zygote.SWITCH_VARIABLE}
    requester = subprocess.Popen(
        [sys.executable, "-c", REQUESTER, str(runbook)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert requester.stdout is not None
        zygote, child = (int(pid) for pid in requester.stdout.readline().split())
        assert alive(zygote) and alive(child)
        requester.kill()
        requester.wait(10)
        assert gone_within(zygote, 10), "the zygote outlived the process it served"
        # the runbook's process sees its run gone (end of file) and ends too
        assert gone_within(child, 10)
    finally:
        if requester.poll() is None:
            requester.kill()
            requester.wait(10)


# ── runs ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.slow
def test_virtual_runs_through_the_zygote_or_popen_give_the_same_journal(
    zygotes: runbook_zygote.Zygotes,
    tmp_path: Path,
    mock_server: MockAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journals = []
    for index, zygote in enumerate(("on", "on", "off")):
        monkeypatch.setenv(runbook_zygote.SWITCH_VARIABLE, zygote)
        out = tmp_path / f"run-{index}"
        options = RunOptions(
            team="reference", out=out, clock="virtual", responder=str(REFERENCE_RUNBOOK),
            seed=7, live=False, account=mock_server,
        )  # fmt: skip
        played = run_exercise(SEED_SCENARIO, options, Console(file=io.StringIO()))
        assert played.score.passed
        journals.append([without_wall_clock(e) for e in read_journal(out / "journal.jsonl")])
    assert zygotes.current is not None and zygotes.current.alive
    assert journals[0] == journals[1] == journals[2]
