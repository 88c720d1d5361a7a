"""Control of a live run from other terminals and the dashboard: pause, resume, end, note, mark…

The run process is the journal's only writer. A command comes from another terminal (`gameday
pause`, …) or from the dashboard's buttons through the same door: `send` drops a command file
into `RUN_DIR/control/`, and the run's `ControlWatcher` takes the files in order, hands each
to its handler, and leaves a reply beside it for the sender (`wait_reply`).

Two people may issue commands at the same instant, from threads or processes:
- `send` numbers each command under an exclusive lock on `control/.lock`, and makes its file
  appear (written under a temporary name, then renamed) before letting the next sender in.
  Commands are therefore handled in the order they arrived, and the watcher can never see
  command N+1 without command N.
- The watcher claims a file by renaming it before acting, and a sender that gives up
  withdraws it by deleting it: exactly one of the two wins, so a command is either done and
  answered, or withdrawn and never done.
- When the run ends the watcher closes the door under the same lock: commands still queued
  are answered "the run ended", and any `send` after that fails with `RunNotLive`, as it
  does for a run whose process is gone.

When the run has ended, `note` and `mark` are appended to its journal directly, under a
file lock, so a facilitator can still validate a manual step before re-scoring.

Who may do what (gameday.exercise.facilitator): `pause`, `resume`, `end`, `mark`,
`fire-next` and a note `as` the facilitator need the facilitator token. The sender signs its
command with the token (`send(..., token=…)`); the watcher checks the proof before any
handler sees the command, and sets the command's `by` itself — `facilitator` for a good
proof, `team` otherwise — so no sender can claim it. A facilitator's command without a good
proof is refused: its sender reads why and how to give the token, and the run journals a
`control.refused` event (`command`, `by: "team"`, `reason`, `via`, `name`, and the `step`
of a mark). A note without the token is the team's (`by: "team"`). The code host's
`repo private|delete` are the team's own buttons, as on a real code host: no token, and
journaled as the team's.

Every file here is its owner's only: `control/` is 0700, the command and reply files 0600.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gameday.errors import RunDirError, UserError, did_you_mean
from gameday.exercise.facilitator import (
    PROOF_FIELD,
    REASONS,
    Authority,
    Check,
    check_token,
    proof,
    refusal_message,
)
from gameday.journal import FixedClock, Journal, read_journal
from gameday.rundir import RunDir, make_private_dir, write_private

COMMANDS = ("pause", "resume", "end", "note", "mark", "repo", "fire-next")
# The facilitator's alone; `note` too when it is sent `as` the facilitator.
FACILITATOR_COMMANDS = frozenset({"pause", "resume", "end", "mark", "fire-next"})
# What the sender writes and the watcher replaces: nobody's command says who it is by.
_SET_BY_THE_RUN = ("by",)
_REFUSED_FIELD_MAX = 200  # a refused command's step, as journaled, is cut to this length
# A handler acts on one command; a string it returns is the reply its sender reads.
Handler = Callable[[dict[str, Any]], object]
ErrorSink = Callable[[dict[str, Any], BaseException], object]
# Told of each refused facilitator command: the fields of its `control.refused` event.
RefusalSink = Callable[[dict[str, Any]], object]

_LOCK = ".lock"
_SEQUENCE = ".sequence"
_CLOSED = ".closed"
_REPLY_SUFFIX = ".reply"
REPLY_KEPT_S = 300.0  # a reply nobody came back for is swept after this long


class CommandRefused(UserError):
    """Raised by a handler: the command cannot be done now; the message goes to its sender."""


class RunNotLive(RunDirError):
    """The run a command was meant for has ended, or its process is gone."""


@dataclass(frozen=True)
class Reply:
    """What the run answered: done (`ok`), or refused, with a message either way."""

    ok: bool
    message: str


def send(
    run: RunDir,
    command: str,
    *,
    token: str | None = None,
    via: str = "cli",
    **arguments: Any,
) -> Path:
    """Queue a command for the live run; the path of its file (give it to `wait_reply`).

    With `token`, the command carries the proof that its sender holds the facilitator
    token (never the token itself). Raises `RunNotLive` when the run has ended or its
    process is gone.
    """
    if command not in COMMANDS:
        raise UserError(f"unknown command '{command}' — one of {', '.join(COMMANDS)}")
    make_private_dir(run.control)
    fields = {k: v for k, v in arguments.items() if k not in (*_SET_BY_THE_RUN, PROOF_FIELD)}
    body: dict[str, Any] = {
        "command": command,
        "name": _who(),
        "via": via,
        "nonce": uuid.uuid4().hex,
        "issued": time.time(),
        **fields,
    }
    if token:
        body[PROOF_FIELD] = proof(token, body)
    with _control_lock(run):
        if (run.control / _CLOSED).exists():
            raise RunNotLive(_not_live_message(run, command, closed=True))
        ensure_live(run, command)
        name = f"{_next_number(run):012d}-{uuid.uuid4().hex[:12]}"
        # written under a temporary name then renamed: the watcher never sees half of it
        final = run.control / f"{name}.json"
        write_private(final, json.dumps(body))
    return final


def needs_facilitator(command: dict[str, Any]) -> bool:
    """Whether only the facilitator may do this command."""
    name = command.get("command")
    return name in FACILITATOR_COMMANDS or (name == "note" and command.get("as") == "facilitator")


def attribution(command: dict[str, Any]) -> dict[str, Any]:
    """Who a command a watcher took is by, as its journal event records it.

    `by` is what the run established (`facilitator` or `team`); `name` and `via` are what
    the sender said of itself (a person's name, `cli` or `dashboard`) and prove nothing.
    """
    return {
        "by": command.get("by", "team"),
        "name": _short(command.get("name")),
        "via": _short(command.get("via")),
    }


def refusal(command: dict[str, Any], check: Check) -> dict[str, Any]:
    """The fields of the `control.refused` event for a command refused for want of the token."""
    fields: dict[str, Any] = {
        "command": _short(command.get("command")),
        "by": "team",
        "reason": REASONS.get(check, str(check)),
        "via": _short(command.get("via")),
        "name": _short(command.get("name")),
    }
    if command.get("command") == "mark":
        fields["step"] = _short(command.get("step"))
    if command.get("command") == "note":
        fields["as"] = _short(command.get("as"))
    return fields


def _short(value: object) -> str | None:
    return None if value is None else str(value)[:_REFUSED_FIELD_MAX]


def ensure_live(run: RunDir, command: str = "control") -> None:
    """Raise `RunNotLive` unless the run's process is alive and the run has not ended."""
    if not run.status().get("alive"):
        raise RunNotLive(_not_live_message(run, command))


def _not_live_message(run: RunDir, command: str, *, closed: bool = False) -> str:
    status = run.status()
    if closed or status.get("state") == "ended":
        why = f" ({status['reason']})" if status.get("reason") else ""
        state = f"the run has ended{why}"
    elif status.get("state") == "unknown":
        state = "the run has not started, or its run.json is gone"
    else:
        return (
            f"{run.path}: the run's process is gone (crashed or killed: pid "
            f"{status.get('pid')}) — cannot {command} it; `gameday recover {run.path}` takes "
            "it over where it stopped"
        )
    return (
        f"{run.path}: {state} — cannot {command} it; `gameday score {run.path}` and "
        f"`gameday report {run.path}` work on what it journaled"
    )


def _who() -> str:
    """The sender's name, as its environment says: a label, never a proof of anything."""
    return os.environ.get("GAMEDAY_FACILITATOR") or os.environ.get("USER") or "unknown"


@contextmanager
def _control_lock(run: RunDir) -> Iterator[None]:
    descriptor = os.open(run.control / _LOCK, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _next_number(run: RunDir) -> int:
    """The next command's number; call with the control lock held."""
    counter = run.control / _SEQUENCE
    try:
        last = int(counter.read_text(encoding="utf-8").strip() or 0)
    except (FileNotFoundError, ValueError):
        last = 0
    # A counter lost or torn (a crash mid-write) must not number behind commands still queued.
    queued = [_number_of(p) for p in run.control.glob("*.json")]
    number = max([last, *queued]) + 1
    write_private(counter, str(number))
    return number


def _number_of(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _reply_path(command_file: Path) -> Path:
    return command_file.with_name(command_file.stem + _REPLY_SUFFIX)


def _claimed_path(command_file: Path) -> Path:
    return command_file.with_name(f".{command_file.stem}.taking")


def wait_reply(command_file: Path, run: RunDir, timeout: float = 5.0) -> Reply:
    """The run's reply to a command `send` queued.

    Raises `RunNotLive` if the run ends before taking it, and `UserError` if it has not
    taken it within `timeout` seconds; either way the command is withdrawn, never done late.
    """
    reply_file = _reply_path(command_file)
    claimed = _claimed_path(command_file)
    command = _command_name(command_file)
    deadline = time.monotonic() + timeout
    next_liveness = time.monotonic() + 0.5
    while True:
        if reply_file.exists():
            return _read_reply(reply_file)
        taken = not command_file.exists()
        if taken and not claimed.exists():
            # Claimed and answered between the two checks above; the reply is there now.
            if reply_file.exists():
                return _read_reply(reply_file)
            return Reply(True, f"{command}: taken")
        now = time.monotonic()
        if not taken and now >= next_liveness:
            next_liveness = now + 0.5
            if not run.status().get("alive") and _withdraw(command_file):
                raise RunNotLive(_not_live_message(run, command))
        if not taken and now >= deadline and _withdraw(command_file):
            starting = run.status().get("state") == "starting"
            why = "it is still starting — try again in a moment" if starting else "is it stuck?"
            raise UserError(
                f"{run.path}: the run did not take '{command}' within {timeout:g} s — {why} "
                "(the command was withdrawn)"
            )
        time.sleep(0.02)


def _command_name(command_file: Path) -> str:
    try:
        return str(json.loads(command_file.read_text(encoding="utf-8")).get("command"))
    except (OSError, ValueError):
        return "the command"


def _withdraw(command_file: Path) -> bool:
    """Delete a command the run has not claimed; False if the run got to it first."""
    try:
        command_file.unlink()
    except FileNotFoundError:
        return False
    return True


def _read_reply(reply_file: Path) -> Reply:
    try:
        data = json.loads(reply_file.read_text(encoding="utf-8"))
    finally:
        reply_file.unlink(missing_ok=True)
    return Reply(bool(data.get("ok")), str(data.get("message", "")))


def wait_taken(command_file: Path, timeout: float = 5.0) -> bool:
    """True once the run has taken the command (its file is gone)."""
    deadline = time.monotonic() + timeout
    while command_file.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def journal_lock(run: RunDir) -> Iterator[None]:
    descriptor = os.open(run.path / ".journal.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_after_the_run(
    run: RunDir,
    command: str,
    *,
    token: str | None,
    steps: Collection[str] = (),
    via: str = "cli",
    **arguments: Any,
) -> dict[str, Any]:
    """Journal a `note` or a `mark` on a run that has ended, at the run's last moment.

    Checked as a live run checks its commands: the token against the hash the run keeps
    (a refusal is journaled, then raised as `CommandRefused`), a mark's step against
    `steps`; the event records who it is by.
    """
    if command not in ("note", "mark"):
        raise UserError(f"{run.path}: the run has ended — only note and mark are taken now")
    if run.status().get("alive"):
        raise RunDirError(f"{run.path}: the run is live — its own process journals commands")
    request = {"command": command, "name": _who(), "via": via, **arguments}
    check = check_token(run, token) if token else "missing"
    if needs_facilitator(request) and check != "facilitator":
        _append_at_the_end(run, "control.refused", **refusal(request, check))
        raise CommandRefused(refusal_message(run, command, check))
    request["by"] = "facilitator" if check == "facilitator" else "team"
    if command == "mark":
        step = str(arguments.get("step"))
        if step not in steps:
            raise CommandRefused(f"unknown step '{step}' — {did_you_mean(step, steps)}")
        return _append_at_the_end(run, "mark", step=step, **attribution(request))
    actor = "facilitator" if request["by"] == "facilitator" else "responder"
    return _append_at_the_end(
        run, "note", actor=actor, text=arguments.get("text"), **attribution(request)
    )


def _append_at_the_end(run: RunDir, kind: str, **fields: Any) -> dict[str, Any]:
    with journal_lock(run):
        events = read_journal(run.journal)
        if not events:
            raise RunDirError(f"{run.path}: the journal is empty — nothing to add to")
        last = events[-1]
        t0 = datetime.fromisoformat(str(events[0]["time"]).replace("Z", "+00:00"))
        clock = FixedClock(t0 - timedelta(seconds=float(events[0]["t"])), float(last["t"]))
        with Journal(run.journal, clock) as journal:
            return journal.append(kind, after_run=True, **fields)


class ControlWatcher:
    """Takes command files from `RUN_DIR/control/`, in order, and hands each to its handler.

    Before a handler sees a command, the watcher checks its proof with the run's `authority`
    and sets its `by`; a facilitator's command without a good proof is refused, and told to
    `on_refused` (the run journals it). A handler that raises `CommandRefused` refuses the
    command (its sender reads why); any other exception is reported to `on_error` and
    answered as a failure — the watcher goes on either way, so one bad command cannot leave
    the run deaf to the next.
    """

    def __init__(
        self,
        run: RunDir,
        handlers: dict[str, Handler],
        authority: Authority,
        interval: float = 0.2,
        *,
        on_error: ErrorSink | None = None,
        on_refused: RefusalSink | None = None,
    ) -> None:
        self.run = run
        self.handlers = handlers
        self.authority = authority
        self.interval = interval
        self.on_error = on_error
        self.on_refused = on_refused
        self._stop = threading.Event()
        self._take_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="control", daemon=True)
        make_private_dir(run.control)

    def start(self) -> ControlWatcher:
        # A run resumed in this directory opens the door its predecessor closed.
        with _control_lock(self.run):
            (self.run.control / _CLOSED).unlink(missing_ok=True)
        self._thread.start()
        return self

    def stop(self, reason: str = "the run ended") -> None:
        """Stop taking commands; those still queued are answered `reason`, later ones refused."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        with _control_lock(self.run):
            write_private(self.run.control / _CLOSED, reason)
            for path in sorted(self.run.control.glob("*.json")):
                claimed = _claimed_path(path)
                try:
                    path.rename(claimed)
                except FileNotFoundError:
                    continue
                self._reply(path, Reply(False, f"{reason} before it took this command"))
                claimed.unlink(missing_ok=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.take()
            self._sweep_replies()

    def take(self) -> int:
        """Handle every command waiting now, oldest first; how many were handled."""
        with self._take_lock:
            handled = 0
            for path in sorted(self.run.control.glob("*.json")):
                claimed = _claimed_path(path)
                try:
                    path.rename(claimed)
                except FileNotFoundError:
                    continue  # withdrawn by its sender
                try:
                    self._reply(path, self._handle(claimed))
                finally:
                    claimed.unlink(missing_ok=True)
                handled += 1
            return handled

    def _handle(self, claimed: Path) -> Reply:
        try:
            command = json.loads(claimed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            return Reply(False, f"unreadable command: {error}")
        if not isinstance(command, dict):
            return Reply(False, "unreadable command: not a JSON object")
        name = str(command.get("command"))
        check = self.authority.check(command)
        command.pop(PROOF_FIELD, None)
        command["by"] = "facilitator" if check == "facilitator" else "team"
        forwarded = command.get("refused")  # the dashboard's: refused at its door
        if isinstance(forwarded, str) or (needs_facilitator(command) and check != "facilitator"):
            record = refusal(command, check)
            if isinstance(forwarded, str):
                record["reason"] = _short(forwarded)
            if self.on_refused is not None:
                self.on_refused(record)
            return Reply(False, refusal_message(self.run, name, check))
        handler = self.handlers.get(name)
        if handler is None:
            return Reply(False, f"this run does not take '{name}'")
        try:
            said = handler(command)
        except CommandRefused as refused:
            return Reply(False, str(refused))
        except Exception as error:
            if self.on_error is not None:
                self.on_error(command, error)
            return Reply(False, f"{name} failed: {type(error).__name__}: {error}")
        return Reply(True, said if isinstance(said, str) else f"{name}: done")

    def _reply(self, command_file: Path, reply: Reply) -> None:
        write_private(
            _reply_path(command_file), json.dumps({"ok": reply.ok, "message": reply.message})
        )

    def _sweep_replies(self) -> None:
        cutoff = time.time() - REPLY_KEPT_S
        for path in self.run.control.glob(f"*{_REPLY_SUFFIX}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                continue
