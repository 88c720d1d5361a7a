"""Real parts for the inject tests: a moto server, an SMTP server, an HTTP endpoint."""

from __future__ import annotations

import os

# moto loads AWS managed policies (the quarantine policies among them) only when this is set
# before its IAM backend first loads in the process.
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from gameday.exercise.injects import MockAws
from gameday.journal import FixedClock

from .harness import (
    ACCOUNT_ID,
    T0,
    EphemeralController,
    Harness,
    Hook,
    LeakedUser,
    MailCatcher,
    unique,
)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def framework_aws(moto_endpoint: str) -> MockAws:
    """Credentials acting in the scenario's account, as the framework's own (AWS's side)."""
    bootstrap = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="AKIAZZZZBOOTSTRAP234",
        aws_secret_access_key="bootstrap-secret-for-the-mock-only-0000000",
    )
    credentials = bootstrap.assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/aws-side-of-the-incident",
        RoleSessionName="aws-internal",
    )["Credentials"]
    return MockAws(
        endpoint_url=moto_endpoint,
        access_key_id=credentials["AccessKeyId"],
        secret_access_key=credentials["SecretAccessKey"],
        session_token=credentials["SessionToken"],
    )


@pytest.fixture
def leaked_user(framework_aws: MockAws) -> LeakedUser:
    """An IAM user of its own for each test, with the access key that leaks."""
    iam = framework_aws.client("iam")
    name = unique("deploy-bot")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return LeakedUser(name, key["AccessKeyId"])


@pytest.fixture
def harness(tmp_path: Path, framework_aws: MockAws) -> Iterator[Harness]:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    harness = Harness(run_dir, framework_aws, FixedClock(T0, t=120.0))
    yield harness
    if harness.journal is not None:
        harness.journal.close()


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[EphemeralController, MailCatcher]]]:
    """Starts aiosmtpd servers on 127.0.0.1 (with any SMTP parameters); stops them after."""
    started: list[EphemeralController] = []

    def start(**smtp_parameters: Any) -> tuple[EphemeralController, MailCatcher]:
        catcher = MailCatcher()
        controller = EphemeralController(catcher, hostname="127.0.0.1", port=0, **smtp_parameters)
        controller.start()
        started.append(controller)
        return controller, catcher

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def webhook_server() -> Iterator[Hook]:
    requests: list[dict[str, Any]] = []
    status = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            requests.append(
                {"path": self.path, "headers": dict(self.headers.items()),
                 "body": self.rfile.read(length)}
            )  # fmt: skip
            self.send_response(status[0])
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep the test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield Hook(
        f"http://{host!s}:{port}/services/T0GAMEDAY/B0GAMEDAY/secret-token", requests, status
    )
    server.shutdown()
    server.server_close()
