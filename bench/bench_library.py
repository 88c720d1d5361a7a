"""The whole scenario library in virtual time: what CI pays to run every scenario twice.

Every scenario of `scenarios/` is played by `runbooks/reference.py` and by
`runbooks/careless.py`, the way tests/test_library.py does: each worker process starts one
mock, warms it once and empties it between runs (`run_exercises`). The nine scenarios the
library held when its goal (≤ 15 s) was set are measured on their own as well.
Measured from process start to the last report, with as many worker processes as
`gameday run-many` starts (one per core and one more) and with one. The baseline is what
one `gameday run` per run in a fresh process would cost, one after the other: measured for
one scenario with each runbook and multiplied out to the library's size, since running it
for real takes minutes. Processor time (user + system, git's included) is given too: on a
shared machine wall times swing with the load, processor time does not.

Each batch runs as `python -m bench.bench_library BATCH_DIR SCENARIO:RUNBOOK ...`, which
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
    from one scenario to the next, so dealing the list round-robin gives each worker a fair
    share of both."""
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


def _batches(runs: Sequence[str], workers: int) -> list[list[str]]:
    """Runs dealt round-robin, so each worker gets long and short scenarios alike."""
    return [list(runs[index::workers]) for index in range(workers)]


def _play(batches: Sequence[Sequence[str]], root: Path) -> tuple[float, float]:
    """Run the batches in parallel processes: wall seconds and processor seconds."""
    cpu = _children_cpu()
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.bench_library", str(root / f"batch-{index}"), *batch],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index, batch in enumerate(batches)
    ]
    outputs = [process.communicate() for process in processes]
    wall = time.perf_counter() - start
    for process, (out, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise RuntimeError(f"a library batch failed ({process.returncode}):\n{out}{err}")
        for line in out.splitlines():
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
        goal_wall, _ = _play(_batches(goal_runs, jobs), root / "goal")
        pool_wall, pool_cpu = _play(_batches(runs, jobs), root / "pool")
        one_wall, one_cpu = _play(_batches(runs, 1), root / "one")
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


def batch(out: Path, runs: Sequence[str]) -> None:
    """Play `SCENARIO:RUNBOOK` runs one after another on one warm mock; a JSON line each."""
    from rich.console import Console

    from gameday.exercise.run import RunOptions, run_exercises

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
    results = run_exercises(planned, Console(quiet=True))  # as a pool's worker has it
    for (path, options), result in zip(planned, results, strict=True):
        outcome = {
            "scenario": path.stem,
            "runbook": options.team,
            "passed": result.score.passed,
            "score": result.score.score,
        }
        print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    batch(Path(sys.argv[1]), sys.argv[2:])
