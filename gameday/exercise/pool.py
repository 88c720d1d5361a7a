"""Many virtual-time runs at once: a scenario library over every core, or over many machines.

`run_pool` plays a batch of runs in worker processes, one warm mock account each (moto's
backends are process-wide, so one mock is all a process can hold): a worker empties its mock
for each run (`WarmMock`). On Linux the workers are forks of this process, prepared first
(`warm_copies.prepare`: the imports, the first scenario validated, a mock started, warmed and
parked), so each worker's first run serves that mock again and its runbooks' zygote is a fork
of the worker: start-up and warm-up are paid once per pool, not once per worker or run.
The results come back in the order the runs were given, each as soon as it and those before
it are done. Every run is played as a run alone is — its own run directory, its runbook in a
process of its own, everything it writes its owner's only (`private_files`), no facilitator
token in the environment its runbook inherits — so a run's journal is the same whichever
worker played it, and whatever ran before it there (`tests/test_run_many.py` checks it
against a run played alone).

`Shard` splits a library between machines (a CI matrix): shard K of N takes every Nth run
of the list, from the Kth. The split depends only on the list, so every machine given the
same arguments agrees on it, and the shards differ in size by one run at most.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TypeVar

from rich.console import Console

from gameday.errors import UserError
from gameday.exercise import warm_copies
from gameday.exercise.facilitator import TOKEN_VARIABLE
from gameday.exercise.run import RunOptions, RunResult, WarmMock, run_exercises
from gameday.rundir import private_files

T = TypeVar("T")

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def default_jobs() -> int:
    """One worker per core this process may run on, and one more.

    A run's process waits part of its time on its runbook's process and on the mock's
    threads (each virtual-clock hand-off); with a worker per core those cores idle meanwhile.
    The spare worker fills them: the library × the reference runbook on 2 cores took 25-26 s
    with 3 workers against 26-29 s with 2, for the same processor time.
    """
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    return max(1, cores) + 1


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (1-based), as `--shard K/N` gives it."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.match(text)
        if match is None:
            raise UserError(f"--shard {text!r}: give K/N, like 2/4 (the second of four shards)")
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise UserError(f"--shard {text}: K must be between 1 and N, like 1/{max(count, 2)}")
        return cls(index, count)

    def select(self, items: Sequence[T]) -> list[T]:
        """This shard's items: the Kth, the (K+N)th, … of the list, in their order."""
        return list(items[self.index - 1 :: self.count])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def run_pool(
    runs: Sequence[tuple[Path, RunOptions]], jobs: int, console: Console
) -> Iterator[RunResult]:
    """Play `runs` on up to `jobs` worker processes; the results in the order of `runs`.

    With one job (or one run) they are played in this process, on one warm mock
    (`run_exercises`, with `console`); workers report to no console, their runs being
    interleaved. An error a run raises (a `UserError`, a bug) is raised here at that run's
    place in the order, and the runs not yet started are cancelled.
    """
    workers = min(jobs, len(runs))
    if workers <= 1:
        with private_files():
            yield from run_exercises(runs, console)
        return
    context = _start_method()
    forked = context.get_start_method() == "fork"
    if forked:
        # imported, validated, started and warmed once here rather than once in each worker
        warm_copies.prepare(runs[0][0])
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(forked,)
    )
    try:
        futures: list[Future[RunResult]] = [
            executor.submit(_play, path, options) for path, options in runs
        ]
        for future in futures:
            yield future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


# ── in a worker process ───────────────────────────────────────────────────────────────────

_worker_mock: WarmMock | None = None
# Ctrl-C reaches the workers too (one process group): the run under way ends as a run alone
# does ("interrupt", scored and reported), and a worker starts no other run after it.
_interrupted = False
_playing = False


def _start_method() -> multiprocessing.context.BaseContext:
    # A forked worker starts with the command line's modules already imported (moto, boto3:
    # a second and more per process otherwise); elsewhere fork is unsafe, spawn it is.
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def _start_worker(forked: bool) -> None:
    global _worker_mock
    # a run's runbook must not inherit a facilitator token, whoever started the pool
    os.environ.pop(TOKEN_VARIABLE, None)
    if forked:  # a copy of the prepared parent, with one thread yet
        warm_copies.fork_zygote(os.environ)
    _worker_mock = WarmMock()
    # stopped as the worker leaves (multiprocessing runs its finalizers, not atexit's)
    multiprocessing.util.Finalize(_worker_mock, _worker_mock.stop, exitpriority=10)
    signal.signal(signal.SIGINT, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    if _playing:
        signal.default_int_handler(signum, frame)  # KeyboardInterrupt, where the run is


def _play(scenario_path: Path, options: RunOptions) -> RunResult:
    global _playing
    assert _worker_mock is not None, "a pool worker starts its mock holder first"
    if _interrupted:
        raise KeyboardInterrupt
    _playing = True
    try:
        return _worker_mock.play(scenario_path, options, Console(quiet=True))
    except UserError as error:
        # what the command line prints of it, in a form that survives the trip back (a
        # ScenarioError would be rebuilt from its text as if that were its problems)
        raise UserError(str(error)) from None
    finally:
        _playing = False
