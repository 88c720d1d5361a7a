"""The journal: the append-only record of a run, and the only one.

Each event is one JSON object on one line of `journal.jsonl`, written and flushed to the
operating system before `append` returns, so a crash of the process (even `kill -9`) loses
nothing that was appended. A durable journal also fsyncs: a background thread commits what
was written at most `sync_interval` seconds later (one fsync serves every event written in
between, so API calls do not each wait for the disk), and `close()` syncs the rest.
Scoring and reports read only the scenario and the journal.

Every event carries `seq`, `t` (seconds since T0 on the run clock), `time` (ISO-8601 UTC on
the run clock), `kind`, and kind-specific fields. `wall` (the real time it was written) is
kept apart so two runs with the same seed compare equal once it is dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

Event = dict[str, Any]
Listener = Callable[[Event], None]

# Fields that come from the real world, not the run: real time, and names made from it.
WALL_CLOCK_FIELDS = frozenset({"wall", "requested_at", "maildir_key"})


class RunClock(Protocol):
    """What the journal needs of a clock: where T0 is and how far the run has got."""

    @property
    def t0(self) -> datetime: ...

    def now(self) -> float:
        """Seconds since T0 on the run clock."""
        ...


class FixedClock:
    """A clock that stands still (or moves only when told): for tests and for re-scoring."""

    def __init__(self, t0: datetime | None = None, t: float = 0.0) -> None:
        self._t0 = t0 or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self.t = t

    @property
    def t0(self) -> datetime:
        return self._t0

    def now(self) -> float:
        return self.t


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, as AWS writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def time_at(clock: RunClock, t: float) -> datetime:
    return clock.t0 + timedelta(seconds=t)


class Journal:
    """Appends events to `path`; thread-safe; listeners see each event after it is written."""

    def __init__(
        self, path: Path, clock: RunClock, *, durable: bool = True, sync_interval: float = 0.05
    ) -> None:
        self.path = path
        self.clock = clock
        self.durable = durable
        self.sync_interval = sync_interval
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        existing = read_journal(path) if path.exists() else []
        self._seq = existing[-1]["seq"] if existing else 0
        path.parent.mkdir(parents=True, exist_ok=True)
        # What this writer knows to be the journal: the lines there when it opened it, and
        # the lines it wrote since. Anything else that turns up in the file is foreign.
        self._ours: set[bytes] = set()
        if path.exists():
            mend_tail(path)
            with path.open("rb") as lines:
                self._ours.update(_digest(line) for line in lines)
        self._file = self._open()
        self._size = os.fstat(self._file.fileno()).st_size
        self._foreign: list[dict[str, Any]] = []
        self._dirty = threading.Event()
        self._closing = False
        self._syncer: threading.Thread | None = None
        if durable:
            self._syncer = threading.Thread(
                target=self._sync_loop, name="journal-sync", daemon=True
            )
            self._syncer.start()

    def _open(self) -> Any:
        # The journal names the run's key ids: its owner's alone (0600), from its creation on.
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(descriptor, 0o600)
        return os.fdopen(descriptor, "ab")

    def _keep_foreign_out(self, *, closing: bool = False) -> None:
        """The run is the journal's only writer: take out any line someone else put in.

        Called under the lock before each event (a changed size gives a writer away at the
        cost of one `fstat`) and, reading every line, when the journal closes. The lines
        this writer knows stay, in their order; the others go, and a `journal.foreign` event
        says how many bytes went and their SHA-256, so the tampering itself is on record.
        """
        if not closing and os.fstat(self._file.fileno()).st_size == self._size:
            return
        self._file.flush()
        with self.path.open("rb") as lines:
            found = list(lines)
        ours = [line.endswith(b"\n") and _digest(line) in self._ours for line in found]
        kept = [line for line, known in zip(found, ours, strict=True) if known]
        removed = b"".join(line for line, known in zip(found, ours, strict=True) if not known)
        if not removed and len(kept) == len(found):
            self._size = os.fstat(self._file.fileno()).st_size
            return
        temporary = self.path.with_name(self.path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as rewritten:
            rewritten.writelines(kept)
            rewritten.flush()
            os.fsync(rewritten.fileno())
        os.replace(temporary, self.path)
        self._file.close()
        self._file = self._open()
        self._size = os.fstat(self._file.fileno()).st_size
        self._foreign.append(
            {
                "bytes": len(removed),
                "sha256": hashlib.sha256(removed).hexdigest(),
                "excerpt": removed[:300].decode("utf-8", "replace"),
            }
        )

    def _sync_loop(self) -> None:
        while not self._closing:
            self._dirty.wait()
            if not self._closing:
                time.sleep(self.sync_interval)  # let a burst of events share one fsync
            self._dirty.clear()
            self.sync()

    def sync(self) -> None:
        """Commit everything written so far to the disk."""
        with self._lock:
            if not self._file.closed:
                os.fsync(self._file.fileno())

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def append(self, kind: str, *, t: float | None = None, **fields: Any) -> Event:
        with self._lock:
            self._keep_foreign_out()
            event = self._write(kind, t, fields)
            written = [event]
            while self._foreign:
                written.append(self._write("journal.foreign", None, self._foreign.pop(0)))
        if self.durable:
            self._dirty.set()
        for listener in list(self._listeners):
            for each in written:
                listener(each)
        return event

    def _write(self, kind: str, t: float | None, fields: Mapping[str, Any]) -> Event:
        when = self.clock.now() if t is None else t
        self._seq += 1
        event: Event = {
            "seq": self._seq,
            "t": round(when, 3),
            "time": iso(time_at(self.clock, when)),
            "kind": kind,
            **fields,
            "wall": iso(datetime.now(UTC)),
        }
        line = (json.dumps(event, default=str, separators=(",", ":")) + "\n").encode("utf-8")
        self._file.write(line)
        self._file.flush()
        self._ours.add(_digest(line))
        self._size += len(line)
        return event

    def close(self) -> None:
        self._closing = True
        self._dirty.set()
        if self._syncer is not None and self._syncer is not threading.current_thread():
            self._syncer.join()
        with self._lock:
            if not self._file.closed:
                self._keep_foreign_out(closing=True)
                while self._foreign:
                    self._write("journal.foreign", None, self._foreign.pop(0))
                self._file.flush()
                if self.durable:
                    os.fsync(self._file.fileno())
                self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mend_tail(path: Path) -> bool:
    """Cut a line torn by a crash from the end of a JSON-lines file; True if there was one.

    Readers skip such a line; a writer that opens the file again cuts it, or it would glue
    itself to the next line written.
    """
    with path.open("rb+") as handle:
        data = handle.read()
        if not data or data.endswith(b"\n"):
            return False
        handle.truncate(data.rfind(b"\n") + 1)
    return True


def _digest(line: bytes) -> bytes:
    return hashlib.blake2b(line, digest_size=16).digest()


def read_journal(path: Path) -> list[Event]:
    """Every complete event in a journal; a torn last line (a crash mid-write) is skipped."""
    return list(iter_journal(path))


def iter_journal(path: Path) -> Iterator[Event]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                return  # torn write at the end of a crashed run
            yield json.loads(line)


def without_wall_clock(event: Event) -> Event:
    """The event as a deterministic replay would write it: wall-clock fields dropped."""
    return {k: v for k, v in event.items() if k not in WALL_CLOCK_FIELDS}
