"""A whole game day in virtual time: the seed scenario, played by the reference runbook.

End to end: `gameday run scenarios/exported-keys-in-script.yaml --clock virtual --responder
runbooks/reference.py` in a fresh process, from its start to the reports written (median of
3). The run alone: from `run.started` to `run.ended`, by the wall times the journal keeps —
the same runs, without the start-up (imports, the repository, the mock account) and the
reports. Both beside the scenario's own duration, what the exercise takes on the wall clock:
the ratio is the fraction of it a CI job waits, its inverse the speed-up. On a shared
machine wall times swing with the load; the processor time of the same runs (user + system,
git's included) does not, so it is given too.

The code host's poll: a 2-hour run polls `remote.git` every 15 s of run time (480 polls),
for pushes. `CodeHost.poll` on a remote nobody pushed to, against asking git for the refs
each time.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from bench.common import Figure, interleaved
from gameday.journal import Event, read_journal
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.scenario import load_scenario
from gameday.world.repo import CodeHost, build_repository, run_git

SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
RUNBOOK = PROJECT_ROOT / "runbooks" / "reference.py"
ROUNDS = 3
POLLS = 200


def _wall(event: Event) -> datetime:
    return datetime.fromisoformat(str(event["wall"]).replace("Z", "+00:00"))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _demo(out: Path) -> tuple[float, float, float]:
    """One virtual run in a fresh process: seconds end to end, of the run alone, of CPU."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "run", str(SCENARIO), "--clock", "virtual",
         "--responder", str(RUNBOOK), "--seed", "7", "--out", str(out), "--plain"],
        cwd=PROJECT_ROOT,
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


def figures() -> Iterator[Figure]:
    duration = load_scenario(SCENARIO).duration
    with tempfile.TemporaryDirectory(prefix="gameday-bench-exercise-") as folder:
        root = Path(folder)
        runs = [_demo(root / f"run-{index}") for index in range(ROUNDS)]
        yield Figure(
            f"2 h seed scenario, virtual time: process start → reports ({ROUNDS} runs)",
            statistics.median(total for total, _, _ in runs),
            "s",
            duration,
            "the same 2 h on the wall clock",
        )
        yield Figure(
            "the same, run.started → run.ended (journal wall times)",
            statistics.median(alone for _, alone, _ in runs),
            "s",
            duration,
            "the same 2 h on the wall clock",
        )
        yield Figure(
            "the same runs: processor time, user + system (s)",
            statistics.median(cpu for _, _, cpu in runs),
            "s",
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
