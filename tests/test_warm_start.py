"""The warm start (`gameday.warm_start`): a virtual run played by a worker forked from a warm
server is the run a fresh process plays, and the `gameday` the user started stays the run's
process in every way that shows — its output, exit code, signals, and its death.

Real processes throughout: `gameday warm start` starts a real server in a cache folder of
the test's own, `gameday run` is a real `python -m gameday`, and the journals are compared
with those of the same command with the warm start off.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gameday import warm_start
from gameday.exercise.run import KILL_AFTER_SEQ_VARIABLE
from gameday.journal import read_journal, without_wall_clock
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.rundir import RunDir, process_alive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not warm_start.enabled({}), reason="the warm start needs Linux"),
]

SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
REFERENCE = PROJECT_ROOT / "runbooks" / "reference.py"
RUN = ("run", str(SCENARIO), "--clock", "virtual", "--seed", "7", "--plain")


def _environment(cache: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "GAMEDAY_CACHE_DIR": str(cache), "COLUMNS": "240", "NO_COLOR": "1"}
    env.pop(warm_start.SWITCH_VARIABLE, None)  # the suite turns it off; these tests, on
    env.pop(warm_start.IDLE_VARIABLE, None)
    env.update(extra)
    return env


def _gameday(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def cache() -> Iterator[Path]:
    """A cache folder of the module's own (short: a socket's path has 108 bytes at most),
    with a server started in it; stopped and removed after the module."""
    folder = Path(tempfile.mkdtemp(prefix="gdws-", dir="/tmp"))
    env = _environment(folder)
    started = _gameday("warm", "start", cwd=PROJECT_ROOT, env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield folder
        status = _gameday("warm", "status", cwd=PROJECT_ROOT, env=env)
        assert status.stdout.startswith("* pid"), status.stdout  # this installation's
        stopped = _gameday("warm", "stop", cwd=PROJECT_ROOT, env=env)
        assert "stopped warm-start server" in stopped.stdout, stopped.stdout + stopped.stderr
        assert (
            "no warm-start server" in _gameday("warm", "status", cwd=PROJECT_ROOT, env=env).stdout
        )
        assert list((folder / "warm").glob("*.sock")) == []
    finally:
        _gameday("warm", "stop", cwd=PROJECT_ROOT, env=env)
        shutil.rmtree(folder, ignore_errors=True)


def _served(cache: Path) -> int:
    (_, about), *_ = warm_start.servers(_environment(cache))
    return int(about["served"])


def _journal(out: Path) -> list[dict[str, object]]:
    return [without_wall_clock(event) for event in read_journal(out / "journal.jsonl")]


def test_a_run_served_warm_is_the_run_a_fresh_process_plays(cache: Path, tmp_path: Path) -> None:
    """Same seed, same command, same relative run folder: one with the warm start off, two
    served at once by workers of the server, side by side."""
    folders = {name: tmp_path / name for name in ("off", "both-1", "both-2")}
    for folder in folders.values():
        folder.mkdir()
    args = (*RUN, "--responder", str(REFERENCE), "--out", "run")
    before = _served(cache)
    off = _gameday(*args, cwd=folders["off"], env=_environment(cache, GAMEDAY_WARM_START="off"))
    with ThreadPoolExecutor(2) as pool:
        both = list(
            pool.map(
                lambda name: _gameday(*args, cwd=folders[name], env=_environment(cache)),
                ("both-1", "both-2"),
            )
        )
    assert _served(cache) == before + 2  # the off one ran in its own process
    for done in (off, *both):
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert "PASSED" in done.stdout
    expected = _journal(folders["off"] / "run")
    assert expected[-1]["kind"] == "run.ended" and expected[-1]["reason"] == "duration"
    for name in ("both-1", "both-2"):
        assert _journal(folders[name] / "run") == expected, name
        assert (folders[name] / "run" / "score.json").read_text() == (
            folders["off"] / "run" / "score.json"
        ).read_text()

    # the output a user reads is the same, but for the run's own token
    def lines(done: subprocess.CompletedProcess[str]) -> list[str]:
        token = next(line for line in done.stdout.splitlines() if "facilitator token" in line)
        secret = token.rsplit(" ", 1)[-1]
        return done.stdout.replace(secret, "TOKEN").splitlines()

    assert lines(both[0]) == lines(off)


def test_a_mistake_reads_as_it_does_from_a_process_of_its_own(cache: Path, tmp_path: Path) -> None:
    """Click's usage lines name the program as the command was typed (`python -m gameday`),
    and a user error is exit 2 with the same message."""
    for args, said in (
        ((*RUN, "--responder", str(REFERENCE), "--bogus"), "Usage: python -m gameday run"),
        ((*RUN, "--responder", str(tmp_path / "missing.py")), "missing.py"),
    ):
        off = _gameday(*args, cwd=tmp_path, env=_environment(cache, GAMEDAY_WARM_START="off"))
        before = _served(cache)
        warm = _gameday(*args, cwd=tmp_path, env=_environment(cache))
        assert _served(cache) == before + 1
        assert (warm.returncode, warm.stdout, warm.stderr) == (2, off.stdout, off.stderr)
        assert said in warm.stderr


def test_the_worker_is_a_run_of_its_own_and_keeps_no_token(cache: Path, tmp_path: Path) -> None:
    """The run's process is the worker, not the server; the runbook's process has no
    facilitator token, though the command had one in its environment."""
    probe = tmp_path / "probe.json"
    runbook = tmp_path / "probe_runbook.py"
    runbook.write_text(
        "import json, os\n"
        "def respond(ctx):\n"
        "    ctx.aws.client('sts').get_caller_identity()\n"
        f"    open({str(probe)!r}, 'w').write(json.dumps({{\n"
        "        'token': os.environ.get('GAMEDAY_FACILITATOR_TOKEN'),\n"
        "        'pid': os.getpid()}))\n",
        encoding="utf-8",
    )
    env = _environment(cache, GAMEDAY_FACILITATOR_TOKEN="a-token-the-command-had")
    done = _gameday(*RUN, "--responder", str(runbook), "--out", "run", cwd=tmp_path, env=env)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    seen = json.loads(probe.read_text())
    assert seen["token"] is None
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    server = warm_start.servers(_environment(cache))[0][1]["pid"]
    assert status["pid"] not in (server, seen["pid"])


def test_the_command_ends_as_its_worker_ended(cache: Path, tmp_path: Path) -> None:
    """A worker killed mid-run (the run's own kill hook): the command dies of the same
    signal, and the journal is whole up to the kill, as a killed fresh process leaves it."""
    env = _environment(cache, **{KILL_AFTER_SEQ_VARIABLE: "30"})
    done = _gameday(*RUN, "--responder", str(REFERENCE), "--out", "run", cwd=tmp_path, env=env)
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    events = read_journal(tmp_path / "run" / "journal.jsonl")
    assert len(events) >= 30 and not any(e["kind"] == "run.ended" for e in events)
    status = json.loads((tmp_path / "run" / "run.json").read_text())
    assert not process_alive(int(status["pid"]))


def _started(process: subprocess.Popen[str], out: Path, timeout: float = 60.0) -> int:
    """The pid of the run's process, once the run's clock is running."""
    deadline = time.monotonic() + timeout
    status = out / "run.json"
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            written = json.loads(status.read_text())
        except (OSError, ValueError):
            written = {}
        if written.get("state") == "running":
            return int(written["pid"])
        time.sleep(0.01)
    raise AssertionError("the run did not start")


# A runbook that takes its time: a virtual second at a time, each after a real pause (the
# run's clock stands still while the runbook works), until the run ends under it.
SLOW_RUNBOOK = (
    "import time\n"
    "def respond(ctx):\n"
    "    while True:\n"
    "        time.sleep(0.05)\n"
    "        ctx.sleep(1)\n"
)


def _slow_run(
    cache: Path, folder: Path, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    """`gameday run` of the slow runbook, in `folder`, its run in `folder/run`."""
    runbook = folder / "slow.py"
    runbook.write_text(SLOW_RUNBOOK, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "gameday", *RUN, "--responder", str(runbook), "--out", "run"],
        cwd=folder,
        env=_environment(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def test_a_killed_command_takes_its_run_along(cache: Path, tmp_path: Path) -> None:
    process = _slow_run(cache, tmp_path)
    worker = _started(process, tmp_path / "run")
    assert worker != process.pid
    process.kill()
    process.wait(10)
    deadline = time.monotonic() + 5
    while process_alive(worker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not process_alive(worker)
    assert RunDir(tmp_path / "run").status()["crashed"]  # `gameday recover` takes it from here


def test_the_run_keeps_the_commands_limits_and_priority(cache: Path, tmp_path: Path) -> None:
    """`ulimit` and `nice` apply to the run as they would to a process of its own."""
    import resource

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (777, 800))
        resource.setrlimit(resource.RLIMIT_CPU, (300, 301))
        os.nice(3)

    process = _slow_run(cache, tmp_path, limited)
    try:
        worker = _started(process, tmp_path / "run")
        assert worker != process.pid
        limits = Path(f"/proc/{worker}/limits").read_text()
        assert "Max open files            777                  800" in limits, limits
        assert "Max cpu time              300                  301" in limits, limits
        nice = int(Path(f"/proc/{worker}/stat").read_text().rpartition(")")[2].split()[16])
        assert nice == os.getpriority(os.PRIO_PROCESS, 0) + 3
    finally:
        process.kill()
        process.wait(10)


def test_limits_above_the_servers_are_not_served() -> None:
    """A worker can only lower what the server has: such a command runs in its own process."""
    import resource

    limits = {
        name: list(resource.getrlimit(getattr(resource, name)))
        for name in dir(resource)
        if name.startswith("RLIMIT_")
    }
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    assert warm_start._limits_problem(limits, nice) is None
    soft, hard = limits["RLIMIT_NOFILE"]
    if hard >= 0:
        above = {**limits, "RLIMIT_NOFILE": [soft, hard + 1]}
        assert "RLIMIT_NOFILE" in str(warm_start._limits_problem(above, nice))
    assert "RLIMIT_CORE" in str(
        warm_start._limits_problem({k: v for k, v in limits.items() if k != "RLIMIT_CORE"}, nice)
    )


def test_ctrl_c_reaches_the_run(cache: Path, tmp_path: Path) -> None:
    process = _slow_run(cache, tmp_path)
    _started(process, tmp_path / "run")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    events = read_journal(tmp_path / "run" / "journal.jsonl")
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "interrupt", out + err
    assert process.returncode in (0, 1), out + err
    assert "reports:" in out


def test_an_idle_server_stops_and_leaves_nothing(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="gdws-", dir="/tmp"))
    try:
        env = _environment(folder, GAMEDAY_WARM_START_IDLE="1")
        started = _gameday("warm", "start", cwd=tmp_path, env=env)
        assert started.returncode == 0, started.stdout + started.stderr
        here = folder / "warm"
        assert stat.S_IMODE(here.stat().st_mode) == 0o700
        (sock,) = here.glob("*.sock")
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        deadline = time.monotonic() + 30
        while sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sock.exists(), "an idle server did not stop"
        assert list(here.iterdir()) == []  # a clean stop leaves nothing
        assert "no warm-start server" in _gameday("warm", "stop", cwd=tmp_path, env=env).stdout

        off = _gameday("warm", "start", cwd=tmp_path, env={**env, "GAMEDAY_WARM_START": "off"})
        assert off.returncode == 2 and "the warm start is off" in off.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_fingerprint_follows_the_code_and_what_is_read_at_import(tmp_path: Path) -> None:
    package = tmp_path / "gameday"
    package.mkdir()
    module = package / "a.py"
    module.write_text("x = 1\n")
    env = {"HOME": "/home/someone", "PATH": "/usr/bin"}
    first = warm_start.fingerprint(env, package)
    assert warm_start.fingerprint(env, package) == first
    assert warm_start.fingerprint({**env, "PATH": "/bin", "TERM": "xterm"}, package) == first
    assert warm_start.fingerprint({**env, "MOTO_ALLOW_NONEXISTENT_REGION": "1"}, package) != first
    assert warm_start.fingerprint({**env, "PYTHONHASHSEED": "3"}, package) != first
    module.write_text("x = 22\n")
    assert warm_start.fingerprint(env, package) != first
    changed = warm_start.fingerprint(env, package)
    (package / "b.py").write_text("")
    assert warm_start.fingerprint(env, package) != changed


@pytest.mark.parametrize(
    ("args", "served"),
    [
        (("run", "s.yaml", "--clock", "virtual"), True),
        (("run", "s.yaml", "--clock=virtual", "--responder", "r.py"), True),
        (("run", "s.yaml"), False),  # the wall clock: a team at the keyboard
        (("run", "s.yaml", "--clock", "wall"), False),
        (("run", "s.yaml", "--clock", "virtual", "--help"), False),
        (("run-many", "s.yaml", "--clock", "virtual"), False),
        (("validate", "s.yaml"), False),
        ((), False),
    ],
)
def test_only_virtual_runs_are_served(args: tuple[str, ...], served: bool) -> None:
    assert warm_start.eligible(args) is served


def test_off_switches() -> None:
    assert not warm_start.enabled({"GAMEDAY_WARM_START": "off"})
    assert not warm_start.enabled({"GAMEDAY_CACHE_DIR": "off"})
    assert warm_start.place({"GAMEDAY_WARM_START": "off"}) is None
