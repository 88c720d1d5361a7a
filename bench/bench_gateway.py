"""The mock account: how long until responders can work, and what the gateway costs per call.

- time to ready: a fresh process, from its start until the generated profile answers a
  call, with the seed scenario seeded and every backend warmed; beside it, a bare moto
  server in a fresh process until its first IAM and EC2 answers (moto loads lazily, so that
  is when a bare server is really ready). The median of 5 of each, run alternately.
- call latency: the median of a round of IAM, STS, EC2 and S3 calls through the gateway
  and through bare moto, on the same backends, run alternately; once with the journal
  written but not fsync'd (the gateway's own cost) and once fsync'd as a real run does.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.common import Figure, interleaved

ROUNDS = 60
READY_ROUNDS = 5

READY = textwrap.dedent(
    """
    import os, sys, tempfile
    from pathlib import Path
    from gameday.journal import Journal
    from gameday.journal import FixedClock
    from gameday.paths import SCENARIOS
    from gameday.scenario import load_scenario
    from gameday.world.account import MockAccount
    from gameday.world.estate import seed_estate

    run_dir = Path(tempfile.mkdtemp())
    scenario = load_scenario(SCENARIOS / "exported-keys-in-script.yaml")
    from datetime import UTC, datetime
    clock = FixedClock(datetime.now(UTC))  # the profile signs with the machine's time
    journal = Journal(run_dir / "journal.jsonl", clock)
    account = MockAccount(scenario.account.id, clock, journal=journal,
                          regions=scenario.account.regions,
                          support_plan=scenario.account.support_plan).start()
    seed_estate(account, scenario)
    os.environ.update(account.write_profiles(run_dir))
    import boto3
    boto3.Session().client("iam").list_users()
    print("ready", flush=True)
    """
)

BARE = textwrap.dedent(
    """
    import boto3
    from moto.server import ThreadedMotoServer
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    session = boto3.Session(aws_access_key_id="AKIAXFAZCUMLBENCHKEY",
                            aws_secret_access_key="x" * 40, region_name="us-east-1")
    url = f"http://{host}:{port}"
    session.client("iam", endpoint_url=url).list_users()
    session.client("ec2", endpoint_url=url).describe_instances()
    print("ready", flush=True)
    """
)


def _seconds_until_ready(program: str) -> float:
    """Wall time from spawning a fresh interpreter until it prints `ready`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", program],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    process.kill()
    process.wait()
    if line.strip() != "ready":
        raise RuntimeError("the benchmark's subprocess failed before it was ready")
    return elapsed


def _bare_server(app: Any) -> tuple[Any, str]:
    from werkzeug.serving import make_server

    from gameday.world.account import _request_handler

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_request_handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}"


def _round(clients: dict[str, Any]) -> Callable[[], None]:
    def run() -> None:
        clients["iam"].list_users()
        clients["iam"].get_user(UserName="billing-api")
        clients["sts"].get_caller_identity()
        clients["ec2"].describe_instances()
        clients["s3"].list_buckets()
        clients["s3"].get_object(Bucket="northwind-invoices", Key="2026/02/invoice-10231.pdf")

    return run


def figures() -> Iterable[Figure]:
    ours: list[float] = []
    bare: list[float] = []
    for _ in range(READY_ROUNDS):  # alternately, so load on the machine hits both alike
        ours.append(_seconds_until_ready(READY))
        bare.append(_seconds_until_ready(BARE))
    yield Figure(
        f"mock account ready: fresh process → profile answers (s, {READY_ROUNDS} runs)",
        statistics.median(ours),
        "s",
        statistics.median(bare),
        "bare moto, first IAM+EC2 answer",
    )

    for durable in (False, True):
        gateway, moto = _call_latency(durable=durable)
        journal = "fsync'd journal" if durable else "journal, no fsync"
        yield Figure(
            f"6-call IAM/STS/EC2/S3 round, gateway + {journal} (ms)",
            gateway * 1000,
            "ms",
            moto * 1000,
            "bare moto",
        )


def _call_latency(*, durable: bool) -> tuple[float, float]:
    """Median seconds of one round of calls through the gateway and through bare moto."""
    from gameday.journal import FixedClock, Journal
    from gameday.paths import SCENARIOS
    from gameday.scenario import load_scenario
    from gameday.world.account import MockAccount
    from gameday.world.clients import MockSession
    from gameday.world.estate import seed_estate

    scenario = load_scenario(SCENARIOS / "exported-keys-in-script.yaml")
    clock = FixedClock()
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal(Path(folder) / "journal.jsonl", clock, durable=durable)
        account = MockAccount(scenario.account.id, clock, journal=journal, regions=["us-east-1"])
        with account:
            seed_estate(account, scenario)
            server, bare_url = _bare_server(account.moto_app)
            key = account.responder.credential

            def clients(url: str) -> dict[str, Any]:
                session = MockSession(
                    url,
                    {},
                    now=account.now,
                    aws_access_key_id=key.access_key_id,
                    aws_secret_access_key=key.secret_access_key,
                    region_name="us-east-1",
                )
                return {name: session.client(name) for name in ("iam", "sts", "ec2", "s3")}

            through_gateway = _round(clients(account.endpoint_url))
            bare = _round(clients(bare_url))
            through_gateway()
            bare()  # both paths warm before timing
            try:
                return interleaved(through_gateway, bare, ROUNDS)
            finally:
                server.shutdown()
                server.server_close()
                journal.close()
