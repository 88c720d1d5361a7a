"""Several teams at once: how slow the mock gets for responders when five runs share a machine.

Five `gameday run` processes play the seed scenario at the same time on the wall clock (10×,
so the attacker, the workload's probes and the code host's polling all load the machine as
in a game day), each with a scripted responder that makes a steady stream of the read-only
calls a team makes while investigating (STS, IAM, EC2, S3, CloudTrail, Secrets Manager) and
times each one client-side: from boto3 sending the request to the parsed answer, the wait a
person at the AWS CLI feels. Only calls made while all five runs are running count.

Figures: the p50 and p95 of those latencies over the five runs, beside the same responder
in one run alone (the baseline).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from bench.common import Figure
from gameday.exercise.control import send, wait_reply
from gameday.journal import read_journal
from gameday.paths import SCENARIOS
from gameday.rundir import RunDir

SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
GAMEDAY = Path(sys.executable).with_name("gameday")
RUNS = 5
SPEED = 10
MEASURE_S = 25.0  # real seconds of calls once every run is running
START_TIMEOUT_S = 180.0

PROBE = textwrap.dedent(
    '''
    """Calls what an investigating team calls, one every run-second, timing each client-side."""

    import os, time
    from pathlib import Path

    LOG = Path(os.environ["GAMEDAY_BENCH_LATENCY_LOG"])
    STOP = Path(os.environ["GAMEDAY_BENCH_STOP"])


    def respond(ctx):
        calls = [
            ("sts", "us-east-1", "get_caller_identity", {}),
            ("iam", "us-east-1", "list_users", {}),
            ("iam", "us-east-1", "list_access_keys", {"UserName": "ohgodpleasenotme"}),
            ("ec2", "us-east-1", "describe_instances", {}),
            ("s3", "us-east-1", "list_buckets", {}),
            ("cloudtrail", "us-east-1", "lookup_events", {"MaxResults": 50}),
            ("secretsmanager", "us-east-1", "list_secrets", {}),
        ]
        clients = {(s, r): ctx.aws.client(s, region_name=r) for s, r, _, _ in calls}
        with LOG.open("a") as log:
            n = 0
            while not STOP.exists():
                service, region, method, params = calls[n % len(calls)]
                started = time.perf_counter()
                getattr(clients[(service, region)], method)(**params)
                elapsed = time.perf_counter() - started
                log.write(f"{time.time():.6f} {elapsed * 1000:.3f} {service}:{method}\\n")
                log.flush()
                n += 1
                ctx.sleep(1)
    '''
)


def _measure(runs: int, root: Path) -> list[float]:
    """Latencies (ms) of the probe's calls made while all `runs` runs were running."""
    root.mkdir(parents=True)
    probe = root / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    stop = root / "stop"
    run_dirs = [RunDir(root / f"team-{n}") for n in range(runs)]
    processes = []
    for n, run in enumerate(run_dirs):
        environment = {
            **os.environ,
            "GAMEDAY_BENCH_LATENCY_LOG": str(root / f"latency-{n}.log"),
            "GAMEDAY_BENCH_STOP": str(stop),
        }
        command = [
            str(GAMEDAY), "run", str(SCENARIO), "--team", f"team-{n}", "--out", str(run.path),
            "--speed", str(SPEED), "--seed", str(n), "--plain", "--responder", str(probe),
        ]  # fmt: skip
        processes.append(
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=(root / f"team-{n}.log").open("w"),  # the facilitator's console
                stderr=subprocess.STDOUT,
                env=environment,
                cwd=root,
            )
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(run.status().get("state") == "running" for run in run_dirs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the runs under {root} did not all start")
            time.sleep(0.1)
        time.sleep(MEASURE_S)
        stop.touch()
        window_end = time.time()
        for n, run in enumerate(run_dirs):
            token = _facilitator_token(root / f"team-{n}.log")
            wait_reply(send(run, "end", token=token), run, timeout=30)
        for process in processes:
            process.wait(timeout=120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    window_start = max(_started(run) for run in run_dirs)
    latencies: list[float] = []
    for n in range(runs):
        for line in (root / f"latency-{n}.log").read_text(encoding="utf-8").splitlines():
            at, milliseconds, _ = line.split()
            if window_start <= float(at) <= window_end:
                latencies.append(float(milliseconds))
    return latencies


def _facilitator_token(console: Path) -> str:
    """The facilitator token a run printed on its console at the start."""
    for line in console.read_text(encoding="utf-8").splitlines():
        if line.startswith("facilitator token: "):
            return line.removeprefix("facilitator token: ").strip()
    raise RuntimeError(f"{console}: the run printed no facilitator token")


def _started(run: RunDir) -> float:
    """The real time the run's clock started (its run.started event)."""
    first = read_journal(run.journal)[0]
    return datetime.fromisoformat(str(first["wall"]).replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def figures() -> Iterable[Figure]:
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as folder:
        alone = _measure(1, Path(folder) / "one")
        together = _measure(RUNS, Path(folder) / "five")
    for p in (50, 95):
        yield Figure(
            f"responder API call p{p}, {RUNS} runs at once ({len(together)} calls)",
            _percentile(together, p),
            "ms",
            baseline=_percentile(alone, p),
            baseline_name=f"1 run ({len(alone)} calls)",
        )
