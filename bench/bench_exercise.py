"""A whole game day in virtual time: the seed scenario, played by the reference runbook.

End to end: `gameday run scenarios/exported-keys-in-script.yaml --clock virtual --responder
runbooks/reference.py`, from the command's start to the reports written (median of 3), not
the first run on the machine: a warm-start server is running (`gameday.warm_start`, started
by the run before, as any virtual run that finds none does), so the run is played by a
worker forked from it. Side by side with the naive start — the same command with the warm
start turned off (`GAMEDAY_CACHE_DIR=off`: no server, and every service model parsed from
botocore's JSON, as a process without the per-machine cache does) — run alternately so load
on the machine hits both alike. Then the first run on a machine, in a process of its own
(no server yet): with an empty cache folder (what a first run pays where `make install` did
not prepare the cache: it fills it), and after `make install`'s preparation of the cache,
beside what that step takes; the server such a run would start once its reports are written
is left out (`GAMEDAY_WARM_START=off`), so that it does not warm up beside the next
measurement. The run alone: from `run.started` to `run.ended`, by the wall times the
journal keeps, beside the scenario's own duration (the ratio is the fraction of it a CI job
waits). On a shared machine wall times swing with the load; the processor time of the same
runs (user + system, git's and the runbook's included; a served run's worker counted
through its server, which reaps it) does not, so it is given too.

Hand-offs of the virtual clock: how often, per virtual hour, the turn passed from one
participant's thread to another's (each is a thread switch, the only cost of virtual time),
beside the entries the timeline fired per virtual hour — a clock that woke every
participant at every event would hand off at least that often.

The code host's poll: a 2-hour run polls `remote.git` every 15 s of run time (480 polls),
for pushes. `CodeHost.poll` on a remote nobody pushed to, against asking git for the refs
each time.
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

from rich.console import Console

from bench.common import Figure, interleaved
from gameday import warm_start
from gameday.exercise import run as run_module
from gameday.exercise.clock import VirtualClock
from gameday.exercise.run import CODE_HOST_POLL_S, RunOptions, run_exercise
from gameday.journal import Event, read_journal
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.scenario import load_scenario
from gameday.world.git import run_git
from gameday.world.repo import CodeHost, build_repository
from gameday.world.service_models import CACHE_VARIABLE

SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
RUNBOOK = PROJECT_ROOT / "runbooks" / "reference.py"
ROUNDS = 3
POLLS = 200


def _wall(event: Event) -> datetime:
    return datetime.fromisoformat(str(event["wall"]).replace("Z", "+00:00"))


def _children_cpu() -> float:
    """Processor seconds of this process's reaped children, and of the warm-start servers'
    (their workers, reaped by them)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    served = 0.0
    for _, about in warm_start.servers():
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{int(about['pid'])}/stat").read_text()
            fields = stat.rpartition(")")[2].split()
            served += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return usage.ru_utime + usage.ru_stime + served


def _environment(cache: str | None = None, *, server: bool = True) -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop(CACHE_VARIABLE, None)
    environment.pop(warm_start.SWITCH_VARIABLE, None)
    if cache is not None:
        environment[CACHE_VARIABLE] = cache
    if not server:
        environment[warm_start.SWITCH_VARIABLE] = "off"
    return environment


def _warm_server() -> None:
    """The user's warm-start server for this installation, started if need be, answering."""
    subprocess.run(
        [sys.executable, "-m", "gameday", "warm", "start"],
        cwd=PROJECT_ROOT,
        env=_environment(),
        capture_output=True,
        check=True,
    )


def _demo(
    out: Path, cache: str | None = None, *, server: bool = True
) -> tuple[float, float, float]:
    """One virtual run by the command line: seconds end to end, of the run alone, of CPU.

    `cache`: the cache folder (`off`: none, and no warm-start server); by default the
    user's. `server`: whether a warm-start server may play it (and a run start one).
    """
    environment = _environment(cache, server=server)
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "run", str(SCENARIO), "--clock", "virtual",
         "--responder", str(RUNBOOK), "--seed", "7", "--out", str(out), "--plain"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    total = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"the demo run failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    events = read_journal(out / "journal.jsonl")
    return total, (_wall(events[-1]) - _wall(events[0])).total_seconds(), cpu


def _total(runs: list[tuple[float, float, float]]) -> float:
    """The median of the runs' end-to-end seconds."""
    return statistics.median(total for total, _, _ in runs)


def _prepare_cache(folder: Path) -> float:
    """`make install`'s preparation of the cache (`python -m gameday.world.service_models`)
    into an empty `folder`: seconds it took."""
    environment = dict(os.environ)
    environment[CACHE_VARIABLE] = str(folder)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gameday.world.service_models"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        check=True,
    )
    return time.perf_counter() - start


def _hand_offs(out: Path) -> tuple[float, float]:
    """Per virtual hour of one in-process demo run: the clock's hand-offs, the entries fired."""
    clocks: list[VirtualClock] = []

    class CountedClock(VirtualClock):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            clocks.append(self)

    options = RunOptions(
        team="bench", out=out, clock="virtual", responder=str(RUNBOOK), seed=7, live=False
    )
    with mock.patch.object(run_module, "VirtualClock", CountedClock):
        run_exercise(SCENARIO, options, Console(file=io.StringIO()))
    (clock,) = clocks
    hours = clock.now() / 3600
    fired = sum(
        1
        for event in read_journal(out / "journal.jsonl")
        if event["kind"] in ("inject.delivered", "inject.skipped", "attacker.technique")
        or event["kind"] == "workload.probe"
    )
    polls = clock.now() // CODE_HOST_POLL_S  # the code host's polls journal nothing new
    return clock.handoffs / hours, (fired + polls) / hours


def figures() -> Iterator[Figure]:
    duration = load_scenario(SCENARIO).duration
    with tempfile.TemporaryDirectory(prefix="gameday-bench-exercise-") as folder:
        root = Path(folder)
        _demo(root / "run-first")  # the user's cache filled, as after one `make demo`
        _warm_server()  # the server that run started, ready (or one started now)
        warm: list[tuple[float, float, float]] = []
        naive: list[tuple[float, float, float]] = []
        for index in range(ROUNDS):
            warm.append(_demo(root / f"run-{index}"))
            naive.append(_demo(root / f"naive-{index}", cache="off"))
        naive_total = _total(naive)

        def against_naive(label: str, runs: list[tuple[float, float, float]]) -> Figure:
            return Figure(label, _total(runs), "s", naive_total, "naive start: warm start off")

        yield against_naive(
            f"2 h seed scenario, virtual time: command start → reports ({ROUNDS} runs)", warm
        )
        first = [
            _demo(root / f"first-{index}", cache=str(root / f"empty-cache-{index}"), server=False)
            for index in range(ROUNDS)
        ]
        yield against_naive("the same, first run with an empty cache (no make install)", first)
        prepared = [_prepare_cache(root / f"installed-cache-{index}") for index in range(ROUNDS)]
        installed = [
            _demo(
                root / f"installed-{index}",
                cache=str(root / f"installed-cache-{index}"),
                server=False,
            )
            for index in range(ROUNDS)
        ]
        yield against_naive("the same, first run after make install (cache it prepared)", installed)
        yield Figure(
            "make install: preparing the cache for the first run (s)",
            statistics.median(prepared),
            "s",
            _total(first) - _total(installed),
            "what the first run saves by it",
        )
        yield Figure(
            "the same, run.started → run.ended (journal wall times)",
            statistics.median(alone for _, alone, _ in warm),
            "s",
            duration,
            "the same 2 h on the wall clock",
        )
        yield Figure(
            "the same runs: processor time, user + system (s)",
            statistics.median(cpu for _, _, cpu in warm),
            "s",
            statistics.median(cpu for _, _, cpu in naive),
            "naive start: warm start off",
        )
        hand_offs, fired = _hand_offs(root / "hand-offs")
        yield Figure(
            "virtual clock: hand-offs between threads per virtual hour",
            hand_offs,
            "/h",
            fired,
            "timeline entries fired per virtual hour",
        )

        scenario = load_scenario(SCENARIO)
        built = build_repository(scenario, root / "repository", seed=7)
        host = CodeHost(built.remote)
        host.poll()

        def poll() -> None:
            for _ in range(POLLS):
                assert host.poll() == []

        def ask_git() -> None:
            for _ in range(POLLS):
                run_git(["for-each-ref", "--format=%(objectname) %(refname)"], built.remote)

        ours, theirs = interleaved(poll, ask_git, ROUNDS)
        yield Figure(
            f"code host: {POLLS} polls of an unchanged remote (ms each)",
            ours / POLLS * 1000,
            "ms",
            theirs / POLLS * 1000,
            "git for-each-ref per poll",
        )
