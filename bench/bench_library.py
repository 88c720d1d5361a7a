"""The whole scenario library in virtual time: what CI pays to run every scenario twice.

Every scenario of `scenarios/` is played by `runbooks/reference.py` and by
`runbooks/careless.py`, the way tests/test_library.py does, on the pool `gameday run-many`
plays a library on (`run_pool`: worker processes forked from a prepared parent, each one warm
mock emptied between runs), with as many workers as `run-many` starts (one per core and one
more), and on one process. The nine scenarios the library held when its goal (≤ 15 s) was
set are measured on their own as well. Measured from process start to the last report. The
baseline is what one `gameday run` per run in a fresh process would cost, one after the
other: measured for one scenario with each runbook and multiplied out to the library's size,
since running it for real takes minutes. Processor time (user + system, the workers', the
runbooks' and git's included) is given too: on a shared machine wall times swing with the
load, processor time does not.

Each measurement runs as `python -m bench.bench_library JOBS OUT SCENARIO:RUNBOOK ...`, which
prints one JSON line per run; the bench checks that every reference run passed and every
careless one failed, so a figure is never that of a broken library.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.common import Figure
from gameday.exercise.pool import default_jobs
from gameday.paths import PROJECT_ROOT, SCENARIOS

RUNBOOKS = {
    "reference": PROJECT_ROOT / "runbooks" / "reference.py",
    "careless": PROJECT_ROOT / "runbooks" / "careless.py",
}
EXPECTED = {"reference": True, "careless": False}  # passes the run, or fails it
BASELINE_SCENARIO = "exported-keys-in-script"
# The library the speed goal (≤ 15 s for the library × both runbooks) was set on: the nine
# scenarios it held then. The library has grown since; its whole is measured too.
GOAL_LIBRARY = (
    "cloudtrail-stopped",
    "credentials-file-basic-support",
    "crypto-mining-unused-regions",
    "exported-keys-in-script",
    "false-alarm-inactive-key",
    "key-removed-next-commit",
    "persistence-four-footholds",
    "production-key-in-compose-file",
    "secrets-and-data-theft",
)
SEED = 7


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _library(scenarios: Sequence[str] | None = None) -> list[str]:
    """Every scenario (or those named) with every runbook; the runbooks' order alternates
    from one scenario to the next."""
    names = sorted(path.stem for path in SCENARIOS.glob("*.yaml"))
    if scenarios is not None:
        missing = sorted(set(scenarios) - set(names))
        if missing:
            raise RuntimeError(f"not in the library: {', '.join(missing)}")
        names = sorted(scenarios)
    runs: list[str] = []
    for index, name in enumerate(names):
        order = list(RUNBOOKS)
        turn = index % len(order)
        runs += [f"{name}:{runbook}" for runbook in order[turn:] + order[:turn]]
    return runs


def _play(runs: Sequence[str], jobs: int, out: Path) -> tuple[float, float]:
    """Play the runs on a pool of `jobs` workers, in a process started for it: wall seconds
    and processor seconds."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_library", str(jobs), str(out), *runs],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        failed = f"a library pool failed ({done.returncode}):\n"
        raise RuntimeError(failed + done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        outcome = json.loads(line)
        if outcome["passed"] != EXPECTED[outcome["runbook"]]:
            raise RuntimeError(f"unexpected outcome: {outcome}")
    return wall, _children_cpu() - cpu


def _one_run(runbook: str, out: Path) -> tuple[float, float]:
    """`gameday run` of the baseline scenario in a fresh process: wall and processor seconds."""
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "run", str(SCENARIOS / f"{BASELINE_SCENARIO}.yaml"),
         "--clock", "virtual", "--responder", str(RUNBOOKS[runbook]), "--seed", str(SEED),
         "--out", str(out), "--plain"],
        cwd=PROJECT_ROOT,
        # a process per run: not a worker of a warm-start server (one the exercise bench or
        # this baseline's first run started would otherwise play it, its processor time
        # uncounted here)
        env={**os.environ, "GAMEDAY_WARM_START": "off"},
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if done.returncode != (0 if EXPECTED[runbook] else 1):
        raise RuntimeError(f"the baseline run ended {done.returncode}:\n{done.stdout}{done.stderr}")
    return wall, _children_cpu() - cpu


def figures() -> Iterator[Figure]:
    runs = _library()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-library-") as folder:
        root = Path(folder)
        # the baseline first, on a quiet machine: each runbook once, in a process of its own
        single = {runbook: _one_run(runbook, root / f"single-{runbook}") for runbook in RUNBOOKS}
        per_pair_wall = sum(wall for wall, _ in single.values())
        per_pair_cpu = sum(cpu for _, cpu in single.values())
        pairs = len(runs) / len(RUNBOOKS)
        goal_runs = _library(GOAL_LIBRARY)
        jobs = default_jobs()  # as `gameday run-many` has
        goal_wall, _ = _play(goal_runs, jobs, root / "goal")
        pool_wall, pool_cpu = _play(runs, jobs, root / "pool")
        one_wall, one_cpu = _play(runs, 1, root / "one")
    baseline = "one `gameday run` process per run, one after another"
    goal_pairs = len(goal_runs) / len(RUNBOOKS)
    yield Figure(
        f"library (the {len(GOAL_LIBRARY)} of the goal) × 2 runbooks, {jobs} processes (s)",
        goal_wall,
        "s",
        per_pair_wall * goal_pairs,
        baseline + f" (est. {goal_pairs:.0f} × a pair)",
    )
    yield Figure(
        f"library: {len(runs)} virtual runs, {jobs} processes × one warm mock (s)",
        pool_wall,
        "s",
        per_pair_wall * pairs,
        baseline + f" (est. {pairs:.0f} × a pair)",
    )
    yield Figure(
        f"library: {len(runs)} virtual runs, 1 process, one warm mock (s)",
        one_wall,
        "s",
        per_pair_wall * pairs,
        baseline + f" (est. {pairs:.0f} × a pair)",
    )
    yield Figure(
        f"library, {jobs} processes: processor time, user + system (s)",
        pool_cpu,
        "s",
        per_pair_cpu * pairs,
        "processor time of one process per run (est.)",
    )
    yield Figure(
        "library, 1 process: processor time per run (s)",
        one_cpu / len(runs),
        "s",
        per_pair_cpu / len(RUNBOOKS),
        f"one `gameday run` process ({BASELINE_SCENARIO}, mean of both runbooks)",
    )


def pool(jobs: int, out: Path, runs: Sequence[str]) -> None:
    """Play `SCENARIO:RUNBOOK` runs on a pool of `jobs` workers (`run_pool`, as `gameday
    run-many` plays them); a JSON line each."""
    from rich.console import Console

    from gameday.exercise.pool import run_pool
    from gameday.exercise.run import RunOptions

    planned = []
    for index, run in enumerate(runs):
        scenario, runbook = run.split(":", 1)
        options = RunOptions(
            team=runbook,
            out=out / f"{index:02d}-{scenario}-{runbook}",
            clock="virtual",
            responder=str(RUNBOOKS[runbook]),
            seed=SEED,
            live=False,
        )
        planned.append((SCENARIOS / f"{scenario}.yaml", options))
    results = run_pool(planned, jobs, Console(quiet=True))
    for (path, options), result in zip(planned, results, strict=True):
        outcome = {
            "scenario": path.stem,
            "runbook": options.team,
            "passed": result.score.passed,
            "score": result.score.score,
        }
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    pool(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
