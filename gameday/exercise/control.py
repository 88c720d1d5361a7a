"""Control of a live run from other terminals: `gameday pause|resume|end|note|mark|repo`.

The run process is the journal's only writer. Another terminal drops a command file into
`RUN_DIR/control/` (written under a temporary name, then renamed, so the run never reads
half a command; each file has a unique name, so two people issuing commands at the same
instant both land); the run's `ControlWatcher` takes them in order, acts, and journals them.
When the run has ended, `note` and `mark` are appended to its journal directly, under a
file lock, so a facilitator can still validate a manual step before re-scoring.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gameday.errors import RunDirError, UserError
from gameday.journal import FixedClock, Journal, read_journal
from gameday.rundir import RunDir

COMMANDS = ("pause", "resume", "end", "note", "mark", "repo", "fire-next")
Handler = Callable[[dict[str, Any]], None]


def send(run: RunDir, command: str, **arguments: Any) -> Path:
    """Queue a command for the live run; the path of its file."""
    if command not in COMMANDS:
        raise UserError(f"unknown command '{command}' — one of {', '.join(COMMANDS)}")
    run.control.mkdir(exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
    temporary = run.control / f".{name}.tmp"
    temporary.write_text(
        json.dumps({"command": command, "by": _who(), **arguments}), encoding="utf-8"
    )
    final = run.control / f"{name}.json"
    temporary.replace(final)
    return final


def _who() -> str:
    return os.environ.get("GAMEDAY_FACILITATOR") or os.environ.get("USER") or "facilitator"


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
    with (run.path / ".journal.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_after_the_run(run: RunDir, kind: str, **fields: Any) -> dict[str, Any]:
    """Journal an event on a run that has ended, at the run's last moment."""
    if run.status().get("alive"):
        raise RunDirError(f"{run.path}: the run is live — its own process journals commands")
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
    """Takes command files from `RUN_DIR/control/` and hands each to its handler."""

    def __init__(self, run: RunDir, handlers: dict[str, Handler], interval: float = 0.2) -> None:
        self.run = run
        self.handlers = handlers
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="control", daemon=True)
        run.control.mkdir(exist_ok=True)

    def start(self) -> ControlWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.take()

    def take(self) -> int:
        """Handle every command waiting now, oldest first; how many there were."""
        files = sorted(self.run.control.glob("*.json"))
        for path in files:
            try:
                command = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
                continue
            handler = self.handlers.get(str(command.get("command")))
            try:
                if handler is not None:
                    handler(command)
            finally:
                path.unlink(missing_ok=True)
        return len(files)
