"""A runbook runs in a process of its own, and reaches the run only through its context.

A runbook is somebody's code, and the run's process holds what it must not touch: the
journal, the scorer, the facilitator's token, the gateway that says who signed each call.
Run in a thread of that process, a runbook could reach any of them (`ctx.journal.append`, an
object found through `gc`, a monkey-patched scorer). So `RunbookResponder` starts this module
as a child process (`python -m gameday.exercise.runbook_host`) in a session of its own, with
no facilitator token in its environment, and the two talk over a socket pair. (A process
that plays many runs forks each runbook's process, the same in every respect, from a
zygote that has these imports done: `gameday.exercise.runbook_zygote`.)

- the child imports the runbook and says whether it could (`loaded` or `load-error`), so
  mistakes in a runbook still show before T0;
- the parent sends `start` with what the context needs to be built in the child: the mock's
  endpoint and the responder's credentials (`ctx.aws` signs its own requests, on the run
  clock), the repository's path, T0, the scenario;
- every other call of the context (`wait_for`, `sleep`, `now`, `note`, the code host…) is a
  request the parent serves with the run's real context, in the thread that is the
  responder's participant of the run clock — so virtual time behaves as it did in-process;
- the child ends with `finished` (returned, exited, error with its traceback, run-ended).

Messages are JSON, never pickle (a pickle from the child would run its code in the parent),
and the parent reads at most `MAX_MESSAGE` bytes a message. When the run is over the parent
ends the child's whole session (`killpg`), so nothing the runbook started outlives the run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import os
import random
import re
import socket
import sys
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from gameday.exercise.clock import RunEnded

MAX_MESSAGE = 8 * 1024 * 1024
TOKEN_VARIABLE = "GAMEDAY_FACILITATOR_TOKEN"


def send(connection: Connection, message: Mapping[str, Any]) -> None:
    connection.send_bytes(json.dumps(message, default=str).encode("utf-8"))


def receive(connection: Connection) -> dict[str, Any]:
    """The next message; EOFError when the other side is gone, ValueError when it is not ours."""
    data = connection.recv_bytes(MAX_MESSAGE)
    message = json.loads(data.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("a runbook host message is a JSON object")
    return message


def user_traceback(error: BaseException, *framework_files: str) -> str:
    """The traceback without the framework's own frames at its top."""
    summary = traceback.TracebackException.from_exception(error)
    frames = list(summary.stack)
    hidden = {__file__, *framework_files}
    while len(frames) > 1 and (
        frames[0].filename in hidden or frames[0].filename.startswith("<frozen importlib")
    ):
        frames.pop(0)
    summary.stack = traceback.StackSummary.from_list(frames)
    return "".join(summary.format())


# ── loading a runbook (in the child) ──────────────────────────────────────────────────────


class LoadError(Exception):
    """The runbook cannot be used: the message says why and how to fix it."""


def load_runbook(path: Path) -> Callable[[Any], object]:
    if not path.is_file():
        raise LoadError(f"{path}: no such runbook — give the path of a Python file")
    module_name = "gameday_runbook_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"{path}: not a Python file — a runbook is a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling in the runbook need it
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        raise LoadError(
            f"{path}:{error.lineno or 1}:{error.offset or 1}: invalid Python: {error.msg}"
        ) from None
    except Exception as error:
        raise LoadError(
            f"{path}: importing the runbook failed — fix the error below\n"
            + user_traceback(error).rstrip()
        ) from None
    respond = getattr(module, "respond", None)
    if not callable(respond):
        raise LoadError(f"{path}: defines no respond(ctx) function — add `def respond(ctx): ...`")
    try:
        inspect.signature(respond).bind(None)
    except TypeError:
        raise LoadError(
            f"{path}: respond() must take one argument, the context: respond(ctx)"
        ) from None
    except ValueError:
        pass  # a builtin or C callable: no signature to check
    return respond  # type: ignore[no-any-return]


# ── the context, as the runbook sees it (in the child) ────────────────────────────────────


class NotACustomerChannel(ValueError):
    """A responder asked for an inject nobody outside the account receives."""


class RunbookFailure(RuntimeError):
    """The run refused a request of the runbook's context."""


_ERRORS: dict[str, Callable[[str], BaseException]] = {
    "TimeoutError": TimeoutError,
    "NotACustomerChannel": NotACustomerChannel,
    "ValueError": ValueError,
    "TypeError": TypeError,
    "UserError": RunbookFailure,
}


@dataclass(frozen=True)
class Notice:
    """An inject as the runbook receives it: `.kind .id .t .subject .body .data`."""

    kind: str
    id: str
    t: float
    subject: str | None
    body: str | None
    data: Mapping[str, Any]

    @classmethod
    def from_message(cls, fields: Mapping[str, Any]) -> Notice:
        return cls(
            kind=str(fields.get("kind", "")),
            id=str(fields.get("id", "")),
            t=float(fields.get("t", 0.0)),
            subject=fields.get("subject"),
            body=fields.get("body"),
            data=dict(fields.get("data") or {}),
        )


def notice_message(notice: Any) -> dict[str, Any]:
    """A notice of the run's bus as a message for the child."""
    return {
        "kind": notice.kind,
        "id": notice.id,
        "t": notice.t,
        "subject": notice.subject,
        "body": notice.body,
        "data": json.loads(json.dumps(dict(notice.data), default=str)),
    }


_UNREAD = object()


class HostedContext:
    """`ctx` inside the runbook's process: the runbook API of DESIGN.md, served by the run."""

    def __init__(self, connection: Connection, start: Mapping[str, Any]) -> None:
        self._connection = connection
        self._ended = False
        self.t0 = datetime.fromisoformat(str(start["t0"]))
        self.repo = Path(str(start["repo"]))
        self._scenario_fields = start.get("scenario")
        self._scenario: Any = _UNREAD
        self.aws = _session(start.get("aws") or {}, self.time)

    @property
    def scenario(self) -> Any:
        """The run's scenario (a `Scenario`), built when the runbook first reads it."""
        if self._scenario is _UNREAD:
            self._scenario = _scenario(self._scenario_fields)
        return self._scenario

    @scenario.setter
    def scenario(self, value: Any) -> None:
        self._scenario = value

    def _call(self, op: str, **arguments: Any) -> Any:
        if self._ended:
            raise RunEnded()
        send(self._connection, {"op": op, **arguments})
        try:
            reply = receive(self._connection)
        except (EOFError, OSError):
            self._ended = True
            raise RunEnded() from None
        error = reply.get("error")
        if isinstance(error, dict):
            kind, message = str(error.get("type", "")), str(error.get("message", ""))
            if kind == "RunEnded":
                self._ended = True
                raise RunEnded()
            raise _ERRORS.get(kind, RunbookFailure)(message)
        return reply.get("ok")

    def wait_for(self, kind: str | Iterable[str], timeout: float | str | None = None) -> Notice:
        kinds = [kind] if isinstance(kind, str) else [str(k) for k in kind]
        return Notice.from_message(self._call("wait_for", kinds=kinds, timeout=timeout))

    def sleep(self, duration: float | str) -> None:
        self._call("sleep", duration=duration)

    def sleep_until(self, t: float | str) -> None:
        self._call("sleep_until", t=t)

    def now(self) -> float:
        return float(self._call("now"))

    def time(self) -> datetime:
        return self.t0 + timedelta(seconds=self.now())

    def note(self, text: str) -> None:
        self._call("note", text=str(text))

    def make_repo_private(self) -> None:
        self._call("make_repo_private")

    def delete_repo(self) -> None:
        self._call("delete_repo")

    def repo_action(self, action: str, target: str | None = None) -> str:
        return str(self._call("repo_action", action=action, target=target))

    def inbox(self) -> list[Notice]:
        return [Notice.from_message(n) for n in self._call("inbox")]

    def log(self, text: str) -> None:
        self._call("log", text=str(text))


def _scenario(fields: Any) -> Any:
    if fields is None:
        return None
    from gameday.scenario.model import Scenario

    return Scenario.model_validate(fields)


def _session(spec: Mapping[str, Any], now: Callable[[], datetime]) -> Any:
    """`ctx.aws`: a session on the mock with the responder's own credentials."""
    import boto3

    from gameday.world.clients import MockSession, bare_botocore_session

    if not spec.get("endpoint_url"):
        return boto3.Session(botocore_session=bare_botocore_session())
    session = MockSession(
        str(spec["endpoint_url"]),
        {},
        now=now,
        aws_access_key_id=spec.get("access_key_id"),
        aws_secret_access_key=spec.get("secret_access_key"),
        aws_session_token=spec.get("session_token"),
        region_name=spec.get("region_name") or "us-east-1",
    )
    stream = spec.get("token_stream")
    if stream:
        repeatable_tokens(session, random.Random(str(stream)))
    return session


def repeatable_tokens(session: Any, rng: random.Random) -> None:
    """Idempotency tokens botocore fills in are random; in virtual time they come from `rng`,
    so a runbook's calls carry the same tokens in every run with the same seed."""

    def fill(params: dict[str, Any], model: Any, **_: Any) -> None:
        for name in model.idempotent_members:
            if name not in params:
                params[name] = str(uuid.UUID(int=rng.getrandbits(128), version=4))

    session.events.register_first("before-parameter-build", fill)


# ── the child's main ──────────────────────────────────────────────────────────────────────


def _finish(connection: Connection, outcome: str, **fields: Any) -> None:
    with contextlib.suppress(OSError):
        send(connection, {"op": "finished", "outcome": outcome, **fields})


def main(argv: list[str]) -> int:
    descriptor, path = int(argv[0]), Path(argv[1])
    connection = Connection(socket.socket(fileno=descriptor).detach())
    try:
        respond = load_runbook(path)
    except LoadError as error:
        send(connection, {"op": "load-error", "message": str(error)})
        return 2
    send(connection, {"op": "loaded"})
    _prepare_context()
    try:
        start = receive(connection)
    except (EOFError, OSError):
        return 0  # the run never started this responder
    if start.get("op") != "start":
        return 0
    ctx = HostedContext(connection, start)
    try:
        respond(ctx)
    except RunEnded:
        _finish(connection, "run-ended")
    except SystemExit:
        _finish(connection, "exited")
    except Exception as error:
        _finish(
            connection,
            "error",
            message=f"{type(error).__name__}: {error}",
            traceback=user_traceback(error),
        )
    else:
        _finish(connection, "returned")
    return 0


def _prepare_context() -> None:
    """Import what `HostedContext` needs while the run still builds its world.

    The run builds the repository and warms the mock for seconds after the runbook is
    loaded; done then, on a core the run leaves idle, these imports (the scenario model,
    boto3, botocore's models loader) no longer hold virtual time still at T0.
    """
    importlib.import_module("gameday.scenario.model")
    from gameday.world.clients import bare_botocore_session

    bare_botocore_session()


def child_environment() -> dict[str, str]:
    """The runbook's environment: the run's, without anything that proves the facilitator."""
    return {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
