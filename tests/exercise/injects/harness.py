"""The parts inject tests share: a scenario builder, the inject context, the servers' handlers."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from gameday.exercise.injects import InjectContext, InjectOptions, MockAws, Renderer
from gameday.exercise.injects.facts import IncidentFacts
from gameday.journal import FixedClock, Journal
from gameday.scenario.model import Scenario

ACCOUNT_ID = "210987654321"
T0 = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
LEAK_COMMIT = "3f9a1c0d5e7b2a4968c1f0e2d3b4a5968778695a"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def scenario_for(user_name: str, timeline: list[dict[str, Any]], **account: Any) -> Scenario:
    """A small valid scenario whose leaked key belongs to `user_name`."""
    data: dict[str, Any] = yaml.safe_load(
        f"""
id: injects-test
title: Exported keys in a deploy script
summary: A deploy script with exported keys reaches a public repository.
difficulty: introductory
duration: 2h
account:
  id: "{ACCOUNT_ID}"
  alias: acme-prod
  support_plan: enterprise
  regions: [eu-west-1, us-east-1]
  contacts:
    primary: {{name: Dana Ops, email: dana@acme.example}}
    security:
      name: Sam Secure
      email: security@acme.example
      phone: "+44 20 7946 0000"
      title: Head of Security
  estate:
    users:
      - name: {user_name}
        keys: [{{id: deploy, age: 90d}}]
leak:
  user: {user_name}
  vector: shell-export
  path: scripts/deploy.sh
  author: {{name: Alex Dev, email: alex@acme.example}}
  repository: {{owner: acme, name: deploy-tools}}
steps:
  - id: disable-key
    title: Disable the leaked key
    phase: contain
    check: {{type: access-key-disabled}}
    points: 100
    target: 15m
    deadline: 1h
"""
    )
    data["timeline"] = timeline
    data["account"].update(account)
    return Scenario.model_validate(data)


@dataclass(frozen=True)
class LeakedUser:
    user_name: str
    access_key_id: str


@dataclass
class Harness:
    """Builds the context an exercise hands an inject, and keeps what it wrote."""

    run_dir: Path
    aws: MockAws
    clock: FixedClock
    console_lines: list[str] = field(default_factory=list)
    journal: Journal | None = None

    def context(
        self,
        scenario: Scenario,
        access_key_id: str,
        *,
        options: InjectOptions | None = None,
        renderer: Renderer | None = None,
        case_desk: Any = None,
    ) -> InjectContext:
        if self.journal is None:
            self.journal = Journal(self.run_dir / "journal.jsonl", self.clock, durable=False)
        facts = IncidentFacts.from_scenario(
            scenario, access_key_id=access_key_id, leak_commit=LEAK_COMMIT, t0=T0, seed=7
        )
        return InjectContext(
            facts=facts,
            scenario=scenario,
            run_dir=self.run_dir,
            journal=self.journal,
            clock=self.clock,
            aws=self.aws,
            console=self.console_lines.append,
            renderer=renderer or Renderer(),
            options=options or InjectOptions(),
            case_desk=case_desk,
        )

    def events(self) -> list[dict[str, Any]]:
        path = self.run_dir / "journal.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class MailCatcher:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.received.set()
        return "250 Message accepted for delivery"


class EphemeralController(Controller):
    """aiosmtpd's Controller on a port the OS picks (it probes the port it was given)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Hook:
    """A local webhook endpoint: its URL (with a token-like path) and what it received."""

    url: str
    requests: list[dict[str, Any]]
    status: list[int]
