"""What an inject is made of, what it is handed, and what it hands back.

An inject channel (one module each: email, phone call, …) is a `Channel` record: metadata
for the catalogue, a pure `render` (the message, for previews and for delivery alike) and a
`send` that acts on the world (attach a policy, write the Maildir, put the event on the
bus). The exercise hands `send` an `InjectContext`; a runbook gets the `Delivered` back from
`ctx.wait_for(kind)`.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from gameday.errors import UserError
from gameday.exercise.injects.facts import IncidentFacts
from gameday.exercise.injects.rendering import Renderer, Scene
from gameday.journal import RunClock
from gameday.scenario.model import InjectBase, Scenario

InjectT = TypeVar("InjectT", bound=InjectBase)
PayloadT = TypeVar("PayloadT")

SMTP_USER_ENV = "GAMEDAY_SMTP_USER"
SMTP_PASSWORD_ENV = "GAMEDAY_SMTP_PASSWORD"


@dataclass(frozen=True)
class Delivered:
    """One inject as the responders received it.

    `kind` is the inject type (`email`, `health-event`, …); `data` holds the facts that
    message reveals in reality — the support case, the emails and the call carry
    `account_id`, `access_key_id`, `user_name`, `case_id` and `public_url`; the Health event
    carries `access_key_id` and its full `event`.
    """

    kind: str
    id: str
    t: float
    subject: str
    body: str
    data: Mapping[str, Any]

    def to_event_fields(self) -> dict[str, Any]:
        """The fields of its `inject.delivered` journal event (beside the channel's own)."""
        return {
            "inject": self.id,
            "type": self.kind,
            "subject": self.subject,
            "body": self.body,
            "data": dict(self.data),
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Delivered:
        """The delivery an `inject.delivered` journal event records (for replay and recovery)."""
        return cls(
            kind=event["type"],
            id=event["inject"],
            t=float(event["t"]),
            subject=event["subject"],
            body=event["body"],
            data=dict(event["data"]),
        )


@dataclass(frozen=True)
class Draft(Generic[PayloadT]):
    """A rendered inject: what responders will receive, and what the channel must send."""

    delivered: Delivered
    payload: PayloadT


@dataclass(frozen=True)
class Outcome:
    """What sending did: fields for the journal, and facts learnt only by sending."""

    fields: Mapping[str, Any]
    data: Mapping[str, Any] = field(default_factory=dict)


class JournalWriter(Protocol):
    def append(self, kind: str, *, t: float | None = None, **fields: Any) -> dict[str, Any]: ...


class AwsAccess(Protocol):
    """Clients of the mock account with the framework's own credentials (AWS's side).

    `gameday.world.account.MockAccount` is one (its calls go through the gateway with a
    credential that is no IAM user or key of the account, journaled as the framework's);
    `MockAws` is another, for a bare mock.
    """

    def client(self, service: str, *, region: str = ...) -> Any: ...


@dataclass(frozen=True)
class MockAws:
    """The framework's credentials for the mock, and where the mock listens (loopback only)."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    # Creating a client loads the service model (a large part of a second), so each client is
    # made once; boto3 clients are thread-safe, sessions are not — hence the lock.
    _clients: dict[tuple[str, str], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        host = urlsplit(self.endpoint_url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"{self.endpoint_url}: the mock AWS endpoint must be on loopback")

    def session(self, region: str = "us-east-1") -> Any:
        import boto3  # type: ignore[import-untyped, unused-ignore]

        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=region,
        )

    def client(self, service: str, *, region: str = "us-east-1") -> Any:
        with self._lock:
            if (service, region) not in self._clients:
                self._clients[service, region] = self.session(region).client(
                    service, endpoint_url=self.endpoint_url
                )
            return self._clients[service, region]


class CaseDesk(Protocol):
    """The mock's Support service, seen from AWS's side: it opens cases for customers."""

    def open_case(
        self,
        subject: str,
        body: str,
        severity: str,
        *,
        submitted_by: str,
        case_id: str,
        display_id: str,
    ) -> str:
        """Open a case now (on the run clock) under the numbers given; returns its caseId."""
        ...


@dataclass(frozen=True)
class SmtpOptions:
    """Where emails go besides the run's Maildir."""

    host: str
    port: int = 25
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None  # a private CA that signed the server's STARTTLS certificate
    timeout: float = 10.0

    @classmethod
    def parse(
        cls,
        address: str,
        *,
        starttls: bool = False,
        cafile: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> SmtpOptions:
        """`host:port` (as `--smtp` takes it); login from GAMEDAY_SMTP_USER/_PASSWORD if set."""
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UserError(f"'{address}' is not an SMTP server — write it as host:port")
        return cls(
            host=host.strip("[]"),
            port=int(port),
            starttls=starttls,
            cafile=cafile,
            user=environ.get(SMTP_USER_ENV) or None,
            password=environ.get(SMTP_PASSWORD_ENV) or None,
        )


@dataclass(frozen=True)
class InjectOptions:
    smtp: SmtpOptions | None = None
    mail_from: str | None = None  # replaces AWS's sender, e.g. for a relay that checks it
    webhook_url: str | None = None
    webhook_timeout: float = 5.0
    # a recording of each phone call (espeak-ng) beside its script, for a facilitator to
    # play; a virtual-time run is played by a runbook in seconds, and nobody listens
    record_calls: bool = True


ConsoleSink = Callable[[str], None]


@dataclass(frozen=True)
class InjectContext:
    """What the exercise hands an inject when it fires."""

    facts: IncidentFacts
    scenario: Scenario
    run_dir: Path
    journal: JournalWriter
    clock: RunClock
    aws: AwsAccess
    console: ConsoleSink  # messages for the facilitator only
    renderer: Renderer = field(default_factory=Renderer)
    options: InjectOptions = field(default_factory=InjectOptions)
    case_desk: CaseDesk | None = None

    def __post_init__(self) -> None:
        if self.facts.t0 != self.clock.t0:
            raise ValueError("the incident's T0 and the run clock's T0 differ")

    def scene(self, t: float) -> Scene:
        return Scene(self.scenario, self.facts, self.renderer, t)


@dataclass(frozen=True)
class Channel(Generic[InjectT, PayloadT]):
    """One inject type: its catalogue entry and its behaviour."""

    type: str
    model: builtins.type[InjectT]  # `type` is the field above
    title: str
    summary: str  # what AWS (or the exercise) does through this channel
    reveals: tuple[str, ...]  # the keys of `Delivered.data`
    template: str | None  # the default template, or None when the channel renders none
    render: Callable[[InjectT, Scene], Draft[PayloadT]]
    send: Callable[[InjectT, Draft[PayloadT], InjectContext], Outcome]


def nominal_times(scenario: Scenario) -> dict[str, float]:
    """When each inject fires if nothing holds it back: `at`, or its `after` chain."""
    by_id = {inject.id: inject for inject in scenario.timeline}
    times: dict[str, float] = {}

    def time_of(inject_id: str, seen: frozenset[str]) -> float:
        if inject_id in times:
            return times[inject_id]
        inject = by_id[inject_id]
        if inject.at is not None:
            t = inject.at
        elif inject.after is not None and inject.after.inject in by_id and inject_id not in seen:
            t = time_of(inject.after.inject, seen | {inject_id}) + inject.after.delay
        else:
            t = 0.0  # the loader rejects such injects; a preview still shows them at T0
        times[inject_id] = t
        return t

    for inject_id in by_id:
        time_of(inject_id, frozenset())
    return times
