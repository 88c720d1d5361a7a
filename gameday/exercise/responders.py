"""The responders: who acts on the incident — people, a Python runbook, or a replay.

A responder is started once the world is built and acts until the run ends; the run never
waits for it to finish, and nothing it does (or fails to do) stops the run.

- `HumanResponder`: nothing automated. People act with their own tools; the run lasts until
  the scenario's end or the facilitator ends it.
- `RunbookResponder(path)`: a Python file defining `respond(ctx)`, run in a process of its
  own (`gameday.exercise.runbook_host`) whose context calls are served from a participant
  thread of the run clock (in virtual time, time stands still while it works). An exception
  it raises is journaled (`responder.error`, with the traceback) and shown.
- `ReplayResponder(path)`: timed actions from a YAML file, or the responder's actions from a
  previous run's `journal.jsonl`, done again at the same run times. A YAML replay may fill
  parameters in from what it learned during the run (`${…}`, below).

Each gets a `RunbookContext` — the runbook API of DESIGN.md — and receives injects through
the `InjectBus` the exercise publishes every delivered inject to.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

import boto3
import botocore.session
import jmespath
import yaml
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import OperationModel, Shape
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from gameday.errors import UserError, did_you_mean
from gameday.exercise import runbook_zygote
from gameday.exercise.clock import Clock, RunEnded
from gameday.exercise.runbook_host import (
    NotACustomerChannel,
    child_environment,
    notice_message,
    user_traceback,
)
from gameday.exercise.runbook_host import receive as receive_message
from gameday.exercise.runbook_host import send as send_message
from gameday.journal import Journal, iter_journal, time_at
from gameday.scenario.durations import format_duration, parse_duration
from gameday.scenario.model import Duration, Scenario
from gameday.scoring.state import CUSTOMER_CHANNELS
from gameday.world.clients import MockSession as AccountSession
from gameday.world.clients import bare_botocore_session

RepoAction = Literal["private", "delete"]
# How the code host journals its changes, and which replay action each stands for.
REPO_EVENT_ACTIONS: dict[str, RepoAction] = {"repo.private": "private", "repo.deleted": "delete"}


# ── injects as responders receive them ────────────────────────────────────────────────────


class Notice(Protocol):
    """A delivered inject (`gameday.exercise.injects.base.Delivered` is one)."""

    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def t(self) -> float: ...

    @property
    def subject(self) -> str | None: ...

    @property
    def body(self) -> str | None: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


class InjectBus:
    """Every inject delivered in the run, in order, for responders to wait on.

    The exercise publishes each delivery; every responder reads through its own `Inbox`, so
    one responder taking the email does not hide it from another. Waiting is done on the run
    clock, so in virtual time a responder waiting for an inject is idle and time can jump to
    the moment the timeline delivers it.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._delivered: list[Notice] = []

    def publish(self, notice: Notice) -> Notice:
        with self._lock:
            self._delivered.append(notice)
        self.clock.notify()
        return notice

    def delivered(self) -> list[Notice]:
        with self._lock:
            return list(self._delivered)

    def inbox(self) -> Inbox:
        return Inbox(self)

    def _first(self, wanted: tuple[str, ...], taken: set[int]) -> int | None:
        with self._lock:
            for index, notice in enumerate(self._delivered):
                if (
                    index not in taken
                    and received(notice)
                    and (notice.kind in wanted or notice.id in wanted)
                ):
                    return index
        return None

    def _at(self, index: int) -> Notice:
        with self._lock:
            return self._delivered[index]


def received(notice: Notice) -> bool:
    """A notice that reached the customer: a customer channel, and a webhook only if it was
    posted (a delivered webhook reveals the URL it went to; one skipped or refused does not)."""
    if notice.kind not in CUSTOMER_CHANNELS:
        return False
    return notice.kind != "webhook" or bool(notice.data.get("url"))


def refuse_hidden_channels(wanted: Iterable[str]) -> None:
    """Responders learn what a customer learns: the quarantine shows only in IAM, and the
    facilitator's console cues are not for the team."""
    for kind in wanted:
        if kind == "quarantine":
            raise NotACustomerChannel(
                "AWS does not announce its quarantine: it attaches the policy to the user and "
                "tells the customer by email, the support case, the Health event and, with "
                "Enterprise Support, a phone call — wait for one of "
                f"{', '.join(CUSTOMER_CHANNELS)}, or look at the user's attached policies in IAM"
            )
        if kind == "console":
            raise NotACustomerChannel(
                "console cues are the facilitator's, not the team's — wait for one of "
                f"{', '.join(CUSTOMER_CHANNELS)}"
            )


class Inbox:
    """One responder's view of the bus: which deliveries it has already taken.

    Only what a customer receives reaches it (`received`): the quarantine inject, the
    facilitator's console cues and a webhook nobody could post are on the bus, but not in any
    responder's inbox.
    """

    def __init__(self, bus: InjectBus) -> None:
        self.bus = bus
        self._taken: set[int] = set()

    def wait_for(self, kind: str | Iterable[str], timeout: float | None = None) -> Notice:
        """The oldest inject of `kind` (a channel like `email`, or an inject id) not taken yet.

        Blocks on the run clock until one is delivered; raises `TimeoutError` after
        `timeout` run seconds. Several kinds may be given: the first of any is returned.
        Asking for `quarantine` or `console` raises `NotACustomerChannel`.
        """
        wanted = (kind,) if isinstance(kind, str) else tuple(kind)
        refuse_hidden_channels(wanted)
        taken = self._taken
        if not self.bus.clock.wait(lambda: self.bus._first(wanted, taken) is not None, timeout):
            assert timeout is not None
            raise TimeoutError(
                f"no {' or '.join(wanted)} inject arrived within {format_duration(timeout)}"
            )
        index = self.bus._first(wanted, taken)
        assert index is not None  # only this inbox's owner takes from it
        self._taken.add(index)
        return self.bus._at(index)

    def delivered(self) -> list[Notice]:
        """What the team has received so far, in order."""
        return [n for n in self.bus.delivered() if received(n)]


# ── what a responder acts on ──────────────────────────────────────────────────────────────


class CodeHost(Protocol):
    """The code host's actions on the leaky repository (`gameday.world.repo.CodeHost`)."""

    def make_private(self) -> None: ...

    def delete(self) -> None: ...

    def act(self, action: str, target: str | None = None) -> str: ...


class MockSession(AccountSession):
    """A session on the mock from explicit credentials (for runbooks tried outside a run).

    Clients and resources talk to the mock unless told otherwise, and nothing from the
    user's environment (`AWS_PROFILE`, `~/.aws/config`, `AWS_ACCESS_KEY_ID`) leaks in.
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        access_key_id: str,
        secret_access_key: str,
        region_name: str = "us-east-1",
        session_token: str | None = None,
    ) -> None:
        super().__init__(
            endpoint_url,
            {},
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
            region_name=region_name,
        )


def _show(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class RunbookContext:
    """What `respond(ctx)` is given: the responder's hands in the exercise.

    The API (DESIGN.md):
      ctx.aws                  a boto3 Session with the responder's credentials, pointed at
                               the mock (`ctx.aws.client("iam")` needs no endpoint)
      ctx.wait_for(kind, timeout=None)
                               block until a notice of that channel (`email`, `support-case`,
                               `phone-call`, `health-event`, `webhook`, or an inject id) is
                               delivered, and return it: `.kind .id .t .subject .body .data`.
                               Only what a customer receives: `quarantine` (visible only in
                               IAM) and `console` (the facilitator's cues) raise
                               NotACustomerChannel. A notice delivered before the call and not
                               yet taken by this responder is returned at once. `timeout`
                               ("10m" or seconds) raises TimeoutError when it runs out.
      ctx.sleep(duration)      "5m" or seconds, on the run clock (in virtual time it jumps)
      ctx.now()                seconds since T0 on the run clock
      ctx.note(text)           journal what was done out of band (kind `note`)
      ctx.repo                 path of the responder's clone of the leaky repository
      ctx.make_repo_private(), ctx.delete_repo()
                               the code host's actions on the leaky repository
    Extras:
      ctx.time()               the run clock as a UTC datetime — use it, not datetime.now(),
                               for time windows (CloudTrail StartTime) so they hold in
                               virtual time
      ctx.sleep_until(t)       sleep until run time `t` ("1h" or seconds since T0)
      ctx.inbox()              every notice delivered so far, in order (takes nothing)
      ctx.log(text)            show a line on the facilitator's console (not journaled)
      ctx.scenario             the scenario being played (None if not given); a runbook
                               meant for real incidents should learn facts from injects
    """

    def __init__(
        self,
        *,
        aws: boto3.Session,
        clock: Clock,
        journal: Journal,
        inbox: Inbox,
        repo: Path,
        code_host: CodeHost,
        scenario: Scenario | None = None,
        log: Callable[[str], None] = _show,
        token_stream: str | None = None,
    ) -> None:
        self.aws = aws
        self.repo = repo
        self.scenario = scenario
        self.clock = clock
        self.journal = journal
        self._inbox = inbox
        self._code_host = code_host
        self._log = log
        # In virtual time, the seed of the idempotency tokens a runbook's clients fill in.
        self.token_stream = token_stream

    def session_spec(self) -> dict[str, Any]:
        """What a runbook's own process needs to make `ctx.aws`: where, and as whom."""
        credentials = self.aws.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        return {
            "endpoint_url": getattr(self.aws, "endpoint_url", None),
            "region_name": self.aws.region_name,
            "access_key_id": frozen.access_key if frozen else None,
            "secret_access_key": frozen.secret_key if frozen else None,
            "session_token": frozen.token if frozen else None,
            "token_stream": self.token_stream,
        }

    def wait_for(self, kind: str | Iterable[str], timeout: float | str | None = None) -> Notice:
        seconds = None if timeout is None else parse_duration(timeout)
        wanted = (kind,) if isinstance(kind, str) else tuple(kind)
        if self.scenario is not None:
            # An inject id stands for its channel: the quarantine's id is no way round.
            channels = {inject.id: inject.type for inject in self.scenario.timeline}
            refuse_hidden_channels(channels.get(name, name) for name in wanted)
        return self._inbox.wait_for(wanted, seconds)

    def sleep(self, duration: float | str) -> None:
        self.clock.sleep(parse_duration(duration))

    def sleep_until(self, t: float | str) -> None:
        self.clock.sleep_until(parse_duration(t))

    def now(self) -> float:
        return self.clock.now()

    def time(self) -> datetime:
        return time_at(self.clock, self.clock.now())

    def note(self, text: str) -> None:
        self.journal.append("note", actor="responder", text=str(text))

    def make_repo_private(self) -> None:
        self._code_host.make_private()

    def delete_repo(self) -> None:
        self._code_host.delete()

    def repo_action(self, action: str, target: str | None = None) -> str:
        """The code host's other buttons: `delete-branch`, `delete-tag`, `delete-release`
        (with the name), `purge-commit` (with the commit id: support purges what no ref
        reaches). Returns what was done; a refusal raises `UserError`."""
        return self._code_host.act(action, target)

    def inbox(self) -> list[Notice]:
        return self._inbox.delivered()

    def log(self, text: str) -> None:
        self._log(text)


# ── the responders ────────────────────────────────────────────────────────────────────────


class Responder(Protocol):
    @property
    def name(self) -> str:
        """How the journal and reports name it: `human`, `runbook:PATH`, `replay:PATH`."""
        ...

    @property
    def automated(self) -> bool:
        """False when people act: the run must then be on the wall clock."""
        ...

    def start(self, ctx: RunbookContext) -> None:
        """Begin acting; returns at once. Call before the clock starts, so nothing is missed."""
        ...

    def join(self, timeout: float | None = None) -> bool:
        """After the clock is closed: wait (real seconds) for it to stop; False if it has not.

        Join before closing the journal: a responder journals how it finished.
        """
        ...


class HumanResponder:
    """People respond with their own tools; the framework only watches the mock account."""

    name = "human"
    automated = False

    def start(self, ctx: RunbookContext) -> None:
        return None

    def join(self, timeout: float | None = None) -> bool:
        return True


class _ThreadedResponder(abc.ABC):
    """A responder that acts from its own clock participant thread."""

    automated = True

    def __init__(self, name: str) -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        # Set by a recovery whose journal shows the responder finished before the crash:
        # its work is done, and it does not start again.
        self.finished = False

    @abc.abstractmethod
    def respond(self, ctx: RunbookContext) -> None:
        """Act on the incident; returns when done."""

    def start(self, ctx: RunbookContext) -> None:
        if self._thread is not None:
            raise RuntimeError(f"responder {self.name} has already started")
        if self.finished:
            return
        self._thread = ctx.clock.spawn("responder", functools.partial(self._run, ctx))

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self, ctx: RunbookContext) -> None:
        ctx.journal.append("responder.started", responder=self.name)
        outcome = "returned"
        try:
            self.respond(ctx)
        except RunEnded:
            outcome = "run-ended"
            raise
        except SystemExit:
            outcome = "exited"  # sys.exit() in a runbook: it is done, the run goes on
        except Exception as error:
            outcome = "error"
            _failed(ctx, self.name, f"{type(error).__name__}: {error}", _user_traceback(error))
        finally:
            ctx.journal.append("responder.finished", responder=self.name, outcome=outcome)


def _failed(ctx: RunbookContext, name: str, message: str, text: str) -> None:
    """A responder raised: journal it with its traceback, and show it to the facilitator."""
    ctx.journal.append(
        "responder.error", actor="responder", responder=name, message=message, traceback=text
    )
    ctx.log(f"{name} failed at t={format_duration(ctx.now())}:\n{text.rstrip()}")


def _user_traceback(error: BaseException) -> str:
    """The traceback without the framework's own frames at its top."""
    return user_traceback(error, __file__)


class RunbookResponder:
    """A Python file with `def respond(ctx): ...`, run in a process of its own.

    The file is imported now, in that process (`gameday.exercise.runbook_host`), so mistakes
    show before T0; `start` hands it the context and serves its calls from the responder's
    participant thread of the run clock (in virtual time, time stands still while it works).
    Nothing of the run's process — the journal, the scorer, the facilitator's token — is
    within the runbook's reach: it acts through `ctx` and the mock's API only.
    """

    automated = True

    def __init__(self, path: Path) -> None:
        self.name = f"runbook:{path}"
        self.path = path
        self._thread: threading.Thread | None = None
        self._ended = False
        # Set by a recovery whose journal shows the responder finished before the crash:
        # its work is done, and it does not start again.
        self.finished = False
        self._process, self._connection = _host_runbook(path)
        self._finalizer = weakref.finalize(self, _stop_host, self._process, self._connection)

    def start(self, ctx: RunbookContext) -> None:
        if self._thread is not None:
            raise RuntimeError(f"responder {self.name} has already started")
        if self.finished:
            self.close()
            return
        self._thread = ctx.clock.spawn("responder", functools.partial(self._serve, ctx))

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is None:
            self.close()
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.close()  # a runbook still busy when the run is over is stopped
            self._thread.join(5.0)
        self.close()
        return not self._thread.is_alive()

    def close(self) -> None:
        """End the runbook's process and everything it started."""
        self._finalizer()

    def _serve(self, ctx: RunbookContext) -> None:
        ctx.journal.append("responder.started", responder=self.name)
        outcome = "run-ended"
        try:
            send_message(self._connection, _start_message(ctx))
            while True:
                message = receive_message(self._connection)
                if message.get("op") == "finished":
                    outcome = self._finished(ctx, message)
                    break
                send_message(self._connection, self._answer(ctx, message))
        except (EOFError, OSError, ValueError):
            # The process is gone: ended with the run, or died on its own.
            outcome = "run-ended" if self._ended else "crashed"
        finally:
            ctx.journal.append("responder.finished", responder=self.name, outcome=outcome)

    def _finished(self, ctx: RunbookContext, message: Mapping[str, Any]) -> str:
        outcome = str(message.get("outcome"))
        if outcome not in ("returned", "exited", "error", "run-ended"):
            outcome = "error"
        if outcome == "error":
            _failed(
                ctx,
                self.name,
                str(message.get("message") or "")[:_MAX_TRACEBACK],
                str(message.get("traceback") or "")[:_MAX_TRACEBACK],
            )
        return outcome

    def _answer(self, ctx: RunbookContext, message: Mapping[str, Any]) -> dict[str, Any]:
        if self._ended:
            return {"error": {"type": "RunEnded"}}
        try:
            return {"ok": _served(ctx, message)}
        except RunEnded:
            self._ended = True
            return {"error": {"type": "RunEnded"}}
        except (TimeoutError, UserError, ValueError, TypeError) as error:
            kinds = [kind.__name__ for kind in type(error).__mro__]
            known = next((k for k in kinds if k in _HOSTED_ERRORS), "UserError")
            return {"error": {"type": known, "message": str(error)}}


_MAX_TRACEBACK = 64 * 1024
_HOSTED_ERRORS = frozenset(
    {"TimeoutError", "NotACustomerChannel", "UserError", "ValueError", "TypeError"}
)
_LOAD_TIMEOUT_S = 120.0
HOST_MODULE = "gameday.exercise.runbook_host"
# A runbook's process: started by Popen, or forked by the zygote (the same surface).
HostProcess = subprocess.Popen[bytes] | runbook_zygote.HostProcess


def _served(ctx: RunbookContext, message: Mapping[str, Any]) -> Any:
    """Do what the runbook's context asked, with the run's real context."""
    op = message.get("op")
    if op == "wait_for":
        kinds = message.get("kinds")
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            raise TypeError("wait_for takes a channel name or a list of them")
        return notice_message(ctx.wait_for(kinds, _duration_argument(message.get("timeout"))))
    if op == "sleep":
        ctx.sleep(_duration_argument(message.get("duration")) or 0.0)
        return None
    if op == "sleep_until":
        ctx.sleep_until(_duration_argument(message.get("t")) or 0.0)
        return None
    if op == "now":
        return ctx.now()
    if op == "note":
        ctx.note(str(message.get("text", "")))
        return None
    if op == "make_repo_private":
        ctx.make_repo_private()
        return None
    if op == "delete_repo":
        ctx.delete_repo()
        return None
    if op == "repo_action":
        action, target = message.get("action"), message.get("target")
        if not isinstance(action, str) or not (target is None or isinstance(target, str)):
            raise TypeError("repo_action takes an action name and, for most, what it acts on")
        return ctx.repo_action(action, target)
    if op == "inbox":
        return [notice_message(notice) for notice in ctx.inbox()]
    if op == "log":
        ctx.log(str(message.get("text", ""))[:_MAX_TRACEBACK])
        return None
    raise ValueError(f"the runbook context has no {op!r}")


def _duration_argument(value: Any) -> float | str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise TypeError("a duration is seconds or a text like '5m'")


def _start_message(ctx: RunbookContext) -> dict[str, Any]:
    scenario = ctx.scenario
    return {
        "op": "start",
        "t0": ctx.clock.t0.isoformat(),
        "repo": str(ctx.repo),
        "scenario": None if scenario is None else scenario.model_dump(mode="json"),
        "aws": ctx.session_spec(),
    }


def _host_runbook(path: Path) -> tuple[HostProcess, Connection]:
    """Start the runbook's process; it imports the runbook and says whether it could."""
    if not path.is_file():
        raise UserError(f"{path}: no such runbook — give the path of a Python file")
    process, connection = _start_host(path)
    try:
        if not connection.poll(_LOAD_TIMEOUT_S):
            raise UserError(
                f"{path}: importing the runbook took over {_LOAD_TIMEOUT_S:.0f} s — does it "
                "do work at import time? Put it in respond(ctx)"
            )
        message = receive_message(connection)
    except (EOFError, OSError, ValueError):
        _stop_host(process, connection)
        raise UserError(
            f"{path}: the runbook's process ended while importing it (exit code "
            f"{process.poll()}) — run `python {path}` to see why"
        ) from None
    except UserError:
        _stop_host(process, connection)
        raise
    if message.get("op") != "loaded":
        _stop_host(process, connection)
        raise UserError(str(message.get("message") or f"{path}: the runbook could not be loaded"))
    return process, connection


def _start_host(path: Path) -> tuple[HostProcess, Connection]:
    """The runbook's process, forked by this process's zygote when it can, else started anew.

    A socket pair offered to the zygote is never offered again: should the zygote fork after
    all, its child must not share a socket with the process started in its stead.
    """
    env = child_environment()
    ours, theirs = socket.socketpair()
    try:
        forked = runbook_zygote.zygotes.spawn(theirs.fileno(), path, env)
    finally:
        theirs.close()
    if forked is not None:
        return forked, Connection(ours.detach())
    ours.close()
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", HOST_MODULE, str(theirs.fileno()), str(path)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    finally:
        theirs.close()
    return process, Connection(ours.detach())


def _stop_host(process: HostProcess, connection: Connection) -> None:
    with contextlib.suppress(OSError):
        connection.close()
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5.0)
    # Whatever the runbook started in its session goes with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# ── replay ────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class AwsCall:
    """One API call to make again: botocore's client name and operation, ready parameters."""

    service: str
    action: str
    region: str | None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplayStep:
    """One action of a replay, at run time `at`; exactly one of `aws`, `note`, `repo`.

    An `aws` action with `${…}` in its parameters keeps them raw in `template`: they are
    filled in, and turned into boto3's shape, when the action is due.
    """

    at: float
    origin: str  # where it was read, for messages: `file:line`
    aws: AwsCall | None = None
    note: str | None = None
    repo: RepoAction | None = None
    save: str | None = None  # keep the call's response under this name
    template: dict[str, Any] | None = None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _AwsItem(_Model):
    service: str
    action: str
    region: str | None = None
    params: dict[str, Any] = {}
    save: str | None = None

    @model_validator(mode="after")
    def _save_as_a_name(self) -> _AwsItem:
        if self.save is not None:
            if not _NAME.fullmatch(self.save):
                raise ValueError(f"save: '{self.save}' is not a name (letters, digits, _)")
            if self.save == NOTICE_FACTS:
                raise ValueError(f"save: '{NOTICE_FACTS}' is reserved for AWS's notices")
        return self


class _ReplayItem(_Model):
    at: Duration
    aws: _AwsItem | None = None
    note: str | None = None
    repo: RepoAction | None = None

    @model_validator(mode="after")
    def _one_action(self) -> _ReplayItem:
        given = [name for name in ("aws", "note", "repo") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one action: aws, note or repo")
        return self


class ReplayResponder(_ThreadedResponder):
    """Does a recorded response again, each action at its run time.

    From YAML, a list of timed actions:
        - {at: 5m, aws: {service: iam, action: UpdateAccessKey, region: us-east-1,
                         params: {UserName: deploy, AccessKeyId: AKIA…, Status: Inactive}}}
        - {at: 6m, note: "Paged the on-call lead"}
        - {at: 9m, repo: private}
    Parameters can use what the responder learned during the run, as a team copies an id
    from one command's output into the next: `save: NAME` in an `aws` action keeps its
    response, and `${EXPR}` in a later action's parameters is a JMESPath expression over
    the saved responses by name and `notice` — the facts of AWS's notices delivered so far
    (`access_key_id`, `user_name`, `account_id`, `case_id`, `case_reference`, `public_url`…).
    A parameter that is exactly `"${EXPR}"` takes the value as it is (a list of instance ids,
    say); inside longer text the value is written in. An expression that finds nothing when
    its action is due is journaled as a `responder.error` and the action is skipped:
        - {at: 9m, aws: {service: ec2, action: DescribeInstances, region: sa-east-1,
                         save: mining}}
        - {at: 9m, aws: {service: ec2, action: TerminateInstances, region: sa-east-1,
                         params: {InstanceIds: "${mining.Reservations[].Instances[].InstanceId}"}}}
        - {at: 10m, aws: {service: iam, action: DeleteAccessKey,
                          params: {UserName: "${notice.user_name}",
                                   AccessKeyId: "${notice.access_key_id}"}}}
    From a previous run's `journal.jsonl`: the responder's API calls (every `api.call` with
    actor `responder`, read-only or not), its notes, and the repository actions. Parameters
    as the journal recorded them (flat query parameters included) are turned back into
    boto3's shape; secrets the journal redacted are replayed redacted. Calls the mock
    refuses are expected (the original may have failed too) and only logged.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(f"replay:{path}")
        self.path = path
        if not path.is_file():
            raise UserError(f"{path}: no such file — give a replay YAML or a run's journal.jsonl")
        self.skipped: list[str] = []  # journal entries that cannot be replayed, and why
        if path.suffix == ".jsonl":
            self.steps = self._from_journal(path)
        else:
            self.steps = _replay_from_yaml(path)
        # Responses kept by `save:`, by name; a recovery puts back those saved before a crash.
        self.saved: dict[str, Any] = {}

    def respond(self, ctx: RunbookContext) -> None:
        for reason in self.skipped:
            ctx.log(f"{self.name}: not replayed: {reason}")
        clients: dict[tuple[str, str | None], Any] = {}
        saved = self.saved
        for step in self.steps:
            ctx.sleep_until(step.at)
            if step.note is not None:
                ctx.note(step.note)
            elif step.repo == "private":
                ctx.make_repo_private()
            elif step.repo == "delete":
                ctx.delete_repo()
            elif step.aws is not None:
                call = step.aws
                if step.template is not None:
                    try:
                        filled = fill_templates(step.template, notice_facts(saved, ctx.inbox()))
                        call = aws_call(call.service, call.action, call.region, filled)
                    except (TemplateError, UnknownCall) as error:
                        self._failed(ctx, f"{step.origin}: {call.service}:{call.action}: {error}")
                        continue
                response = self._call(ctx, step, call, clients)
                if step.save is not None and response is not None:
                    saved[step.save] = response

    def _call(
        self,
        ctx: RunbookContext,
        step: ReplayStep,
        call: AwsCall,
        clients: dict[tuple[str, str | None], Any],
    ) -> Any:
        """Make the call; its response, or None when it was refused or not sent."""
        key = (call.service, call.region)
        if key not in clients:
            clients[key] = ctx.aws.client(call.service, region_name=call.region)
        client = clients[key]
        methods = {api: method for method, api in client.meta.method_to_api_mapping.items()}
        try:
            return getattr(client, methods[call.action])(**call.params)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            ctx.log(f"{step.origin}: {call.service}:{call.action} refused ({code})")
        except BotoCoreError as error:
            self._failed(
                ctx, f"{step.origin}: {call.service}:{call.action} could not be sent: {error}"
            )
        return None

    def _failed(self, ctx: RunbookContext, message: str) -> None:
        ctx.journal.append(
            "responder.error", actor="responder", responder=self.name, message=message
        )
        ctx.log(message)

    def _from_journal(self, path: Path) -> list[ReplayStep]:
        steps: list[ReplayStep] = []
        for line, event in enumerate(iter_journal(path), start=1):
            origin = f"{path}:{line}"
            kind, t = event.get("kind"), float(event.get("t", 0.0))
            if kind == "note" and event.get("actor") == "responder":
                steps.append(ReplayStep(t, origin, note=str(event.get("text", ""))))
            elif kind in REPO_EVENT_ACTIONS:  # `deferred` ones came from another terminal
                steps.append(ReplayStep(t, origin, repo=REPO_EVENT_ACTIONS[str(kind)]))
            elif kind == "api.call" and event.get("actor") == "responder":
                service, action = str(event.get("service")), str(event.get("action"))
                try:
                    call = aws_call(service, action, event.get("region"), event.get("params"))
                except UnknownCall as error:
                    self.skipped.append(f"{origin}: {error}")
                    continue
                steps.append(ReplayStep(t, origin, aws=call))
        return steps


def _replay_from_yaml(path: Path) -> list[ReplayStep]:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise UserError(f"{where}: invalid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, list) or not isinstance(root, yaml.SequenceNode):
        raise UserError(f"{path}:1:1: a replay file is a list of timed actions (- at: 5m …)")
    problems: list[tuple[int, str]] = []  # (line, message): reported in file order

    def problem(node: yaml.Node, message: str) -> None:
        mark = node.start_mark
        problems.append((mark.line, f"{path}:{mark.line + 1}:{mark.column + 1}: {message}"))

    steps: list[tuple[ReplayStep, yaml.Node]] = []
    for index, raw in enumerate(data):
        node = root.value[index]
        origin = f"{path}:{node.start_mark.line + 1}"
        try:
            item = _ReplayItem.model_validate(raw)
        except ValidationError as error:
            for detail in error.errors():
                loc = tuple(detail["loc"])
                field_name = ".".join(str(part) for part in loc) or "action"
                message = str(detail["msg"]).removeprefix("Value error, ")
                problem(_node_at(node, loc), f"{field_name}: {message}")
            continue
        if item.aws is not None:
            aws = item.aws
            template = aws.params if _expressions(aws.params) else None
            try:
                # Templated parameters take their shape when filled in, at the action's time.
                call = aws_call(
                    aws.service, aws.action, aws.region, None if template else aws.params
                )
            except UnknownCall as error:
                problem(_node_at(node, ("aws", error.part)), str(error))
                continue
            steps.append(
                (ReplayStep(item.at, origin, aws=call, save=aws.save, template=template), node)
            )
        else:
            steps.append((ReplayStep(item.at, origin, note=item.note, repo=item.repo), node))
    steps.sort(key=lambda pair: pair[0].at)  # stable: same-time actions keep file order
    # A `${NAME…}` may only use a response saved by an action done before it.
    saved: set[str] = {NOTICE_FACTS}
    for step, node in steps:
        for expression in _expressions(step.template or {}):
            if "${" in expression:
                problem(_node_at(node, ("aws", "params")), f"'{expression}': a ${{ is not closed")
                continue
            try:
                jmespath.compile(expression)
            except jmespath.exceptions.JMESPathError as error:
                problem(_node_at(node, ("aws", "params")), f"${{{expression}}}: {error}")
                continue
            name = _root_name(expression)
            if name is not None and name not in saved:
                known = did_you_mean(name, saved)
                problem(
                    _node_at(node, ("aws", "params")),
                    f"${{{expression}}}: no earlier action saves '{name}' — {known}",
                )
        if step.save is not None:
            saved.add(step.save)
    if problems:
        raise UserError("\n".join(message for _, message in sorted(problems, key=lambda p: p[0])))
    return [step for step, _ in steps]


# ── filling in `${…}` ─────────────────────────────────────────────────────────────────────

NOTICE_FACTS = "notice"  # the name under which a replay reads the facts of AWS's notices
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TEMPLATE = re.compile(r"\$\{([^{}]+)\}")


class TemplateError(ValueError):
    """A `${…}` of a replay that cannot be filled in when its action is due."""


def _expressions(value: Any) -> list[str]:
    """Every `${…}` expression in a parameter value, nested ones included.

    A `${` left open is returned whole, so that checking it reports it.
    """
    if isinstance(value, str):
        found = [expression.strip() for expression in _TEMPLATE.findall(value)]
        if "${" in _TEMPLATE.sub("", value):
            found.append(value)
        return found
    if isinstance(value, Mapping):
        return [found for item in value.values() for found in _expressions(item)]
    if isinstance(value, list):
        return [found for item in value for found in _expressions(item)]
    return []


def _root_name(expression: str) -> str | None:
    """The saved response an expression starts from (None for a function call or literal)."""
    found = _NAME.match(expression)
    if found is None or expression[found.end() :].lstrip().startswith("("):
        return None
    return found.group(0)


def notice_facts(saved: Mapping[str, Any], notices: Iterable[Notice]) -> dict[str, Any]:
    """What a replay's `${…}` reads: its saved responses, and the facts of AWS's notices."""
    facts: dict[str, Any] = dict(saved)
    learned: dict[str, Any] = {}
    for notice in notices:
        for name, value in notice.data.items():
            learned.setdefault(name, value)  # every notice tells the same facts; first wins
    if learned:
        facts[NOTICE_FACTS] = learned
    return facts


def fill_templates(value: Any, facts: Mapping[str, Any]) -> Any:
    """`value` with every `${EXPR}` replaced by what EXPR (JMESPath) finds in `facts`.

    A string that is exactly one `${EXPR}` becomes the value found, whatever its type; a
    longer string gets the value written in, which must then be text or a number.
    Raises TemplateError when an expression finds nothing.
    """
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value)
        if whole is not None:
            return _lookup(whole.group(1).strip(), facts)
        return _TEMPLATE.sub(lambda found: _as_text(found.group(1).strip(), facts), value)
    if isinstance(value, Mapping):
        return {key: fill_templates(item, facts) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_templates(item, facts) for item in value]
    return value


def _lookup(expression: str, facts: Mapping[str, Any]) -> Any:
    name = _root_name(expression)
    if name is not None and name not in facts:
        if name == NOTICE_FACTS:
            raise TemplateError(f"${{{expression}}}: no notice from AWS has arrived yet")
        raise TemplateError(
            f"${{{expression}}}: nothing saved as '{name}' (its call was refused or skipped)"
        )
    try:
        found = jmespath.search(expression, dict(facts))
    except jmespath.exceptions.JMESPathError as error:
        raise TemplateError(f"${{{expression}}}: {error}") from None
    if found is None:
        raise TemplateError(f"${{{expression}}} found nothing")
    return found


def _as_text(expression: str, facts: Mapping[str, Any]) -> str:
    found = _lookup(expression, facts)
    if isinstance(found, bool) or not isinstance(found, str | int | float):
        raise TemplateError(
            f"${{{expression}}} is a {type(found).__name__}, not text: only a parameter that "
            "is nothing but the ${…} can take it"
        )
    return str(found)


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The YAML node at `loc` under `node`, or the deepest one that exists."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = [value for key, value in node.value if key.value == part]
            if not found:
                return node
            node = found[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


# ── API calls by name ─────────────────────────────────────────────────────────────────────


@functools.cache
def _botocore() -> botocore.session.Session:
    return bare_botocore_session()


@functools.cache
def _service_names() -> tuple[str, ...]:
    return tuple(_botocore().get_available_services())


# IAM action prefixes (what the journal and policies call a service) that are not, or not
# only, the name of a boto3 client: the clients to try, in order, for their actions.
SERVICE_ALIASES: dict[str, tuple[str, ...]] = {
    "access-analyzer": ("accessanalyzer",),
    "elasticfilesystem": ("efs",),
    "elasticloadbalancing": ("elbv2", "elb"),
    "elasticmapreduce": ("emr",),
    "email": ("ses", "sesv2"),
    "mobiletargeting": ("pinpoint",),
    "monitoring": ("cloudwatch",),
    "ses": ("sesv2",),
    "servicequotas": ("service-quotas",),
    "states": ("stepfunctions",),
    "tag": ("resourcegroupstaggingapi",),
}


def _candidates(service: str) -> tuple[str, ...]:
    """boto3 client names that `service` (a client name or an IAM prefix) may mean."""
    own = (service,) if service in _service_names() else ()
    return own + SERVICE_ALIASES.get(service, ())


class UnknownCall(ValueError):
    """A call that cannot be made: `part` (service, action or params) is wrong."""

    def __init__(self, part: Literal["service", "action", "params"], message: str) -> None:
        super().__init__(message)
        self.part = part


def aws_call(service: str, action: str, region: object = None, params: object = None) -> AwsCall:
    """Resolve a call named as in IAM policies and the journal (`iam`, `UpdateAccessKey`).

    Raises UnknownCall naming what is unknown, with the closest known name.
    """
    clients = _candidates(service)
    if not clients:
        known = did_you_mean(service, {*_service_names(), *SERVICE_ALIASES})
        raise UnknownCall("service", f"unknown AWS service '{service}' — {known}")
    operation: OperationModel | None = None
    for client in clients:
        model = _botocore().get_service_model(client)
        if action in model.operation_names:
            operation = model.operation_model(action)
            break
    if operation is None:
        names = _botocore().get_service_model(clients[0]).operation_names
        known = did_you_mean(action, names)
        raise UnknownCall("action", f"unknown action '{action}' of {service} — {known}")
    if params is not None and not isinstance(params, Mapping):
        raise UnknownCall(
            "params", f"{service}:{action}: params must map parameter names to values"
        )
    call_params = _call_params(operation, dict(params or {}))
    return AwsCall(
        service=operation.service_model.service_name,
        action=action,
        region=None if region is None else str(region),
        params=call_params,
    )


class _Absent:
    """Marks a parameter the flat query form does not carry."""


_ABSENT = _Absent()


def _call_params(operation: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
    """boto3 keyword arguments from parameters in boto3's shape or as the wire carried them.

    The journal keeps what the request carried: flat `Tags.member.1.Key=…` pairs for query
    protocols, location names for REST, every scalar as a string. This walks the operation's
    input shape to rebuild nested values, rename members and restore numbers and booleans.
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    protocol = operation.service_model.protocol
    scalars = all(not isinstance(value, dict | list) for value in params.values())
    if protocol in ("query", "ec2") and scalars:
        flat = {str(key): value for key, value in params.items()}
        built = _from_flat(shape, flat, "", ec2=protocol == "ec2")
        return built if isinstance(built, dict) else {}
    converted = _from_wire(shape, params)
    return converted if isinstance(converted, dict) else {}


def _serialized_names(member: Shape, name: str) -> set[str]:
    names = {name}
    located = member.serialization.get("name")
    if located:
        names |= {located, located[0].upper() + located[1:]}
    if member.serialization.get("queryName"):
        names.add(member.serialization["queryName"])
    return names


def _from_wire(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members: dict[str, Shape] = dict(shape.members)
        aliases = {
            alias: name for name, m in members.items() for alias in _serialized_names(m, name)
        }
        result: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in members else aliases.get(str(key).rstrip("+"))
            if name is not None:
                result[name] = _from_wire(members[name], item)
        return result
    if kind == "list" and isinstance(value, list):
        return [_from_wire(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: _from_wire(shape.value, item) for key, item in value.items()}
    return _scalar(shape, value)


def _from_flat(shape: Shape, flat: dict[str, Any], prefix: str, *, ec2: bool) -> Any:
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            if ec2:
                located = member.serialization.get("name", "")
                key = member.serialization.get("queryName") or (
                    located[0].upper() + located[1:] if located else name
                )
            else:
                key = member.serialization.get("name", name)
            value = _from_flat(member, flat, f"{prefix}.{key}" if prefix else key, ec2=ec2)
            if value is not _ABSENT:
                result[name] = value
        return result if result or not prefix else _ABSENT
    if kind == "list":
        if ec2 or shape.serialization.get("flattened"):
            base = prefix
        else:
            base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
        items: list[Any] = []
        while True:
            item = _from_flat(shape.member, flat, f"{base}.{len(items) + 1}", ec2=ec2)
            if item is _ABSENT:
                break
            items.append(item)
        if items or flat.get(prefix) == "":
            return items
        return _ABSENT
    if kind == "map":
        base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        mapping: dict[str, Any] = {}
        index = 1
        while f"{base}.{index}.{key_name}" in flat:
            item = _from_flat(shape.value, flat, f"{base}.{index}.{value_name}", ec2=ec2)
            mapping[str(flat[f"{base}.{index}.{key_name}"])] = None if item is _ABSENT else item
            index += 1
        return mapping if mapping else _ABSENT
    if prefix in flat:
        return _scalar(shape, flat[prefix])
    return _ABSENT


def _scalar(shape: Shape, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(value)
        if kind in ("float", "double"):
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


# ── choosing a responder ──────────────────────────────────────────────────────────────────


def responder_from_spec(spec: str) -> Responder:
    """The responder `--responder` names: `human`, `PATH.py`, or `replay:FILE`."""
    if spec == "human":
        return HumanResponder()
    if spec.startswith("replay:"):
        return ReplayResponder(Path(spec.removeprefix("replay:")))
    if spec.endswith(".py") or Path(spec).is_file():
        return RunbookResponder(Path(spec))
    raise UserError(
        f"unknown responder '{spec}' — give human, the path of a runbook (PATH.py) "
        "or replay:FILE (a replay YAML or a run's journal.jsonl)"
    )
