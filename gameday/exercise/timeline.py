"""The timeline: the discrete-event scheduler of one exercise.

Everything that happens on the run clock without a responder doing it is an entry on the
timeline: AWS's injects, the attacker's techniques, the workload's periodic probes. An entry
is due at a time (`at`, seconds since T0), or `delay` after another entry actually fired
(`after`); a periodic entry fires `every` so often. Handlers run one at a time, in (due,
scheduling order), on the timeline's own thread, which is a participant of the clock — so in
virtual time the whole exercise is deterministic. A guard decides at fire time whether an
entry is skipped (the scenario's `when:` / `unless:` conditions); a skipped entry is
journaled (`<kind>.skipped` with the reason) and so is every entry that was to come after it.
A handler that raises is journaled (`error`, with the traceback) and the run goes on.

The timeline ends at `end` (the scenario's duration) or on `stop()`, whichever is first.
"""

from __future__ import annotations

import itertools
import math
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from gameday.errors import did_you_mean
from gameday.exercise.clock import Clock, RunEnded
from gameday.exercise.conditions import RunState, skip_reason
from gameday.journal import Journal
from gameday.scenario.model import Inject

Handler = Callable[[], object]
Guard = Callable[[], str | None]
EntryState = Literal["waiting", "scheduled", "firing", "fired", "skipped", "failed", "cancelled"]
Record = tuple[str, dict[str, Any]]  # a journal event to append once the lock is released

_SETTLED = ("fired", "skipped", "failed", "cancelled")


@dataclass(eq=False)
class _Entry:
    id: str
    kind: str
    handler: Handler
    seq: int
    guard: Guard | None
    fields: dict[str, Any]
    due: float | None = None
    after: str | None = None
    delay: float = 0.0
    every: float | None = None
    until: float | None = None
    state: EntryState = "scheduled"
    fired_at: float | None = None
    runs: int = 0


@dataclass(frozen=True)
class Pending:
    """An entry that has not fired yet: due at `due`, or (due None) waiting for `after`."""

    id: str
    kind: str
    due: float | None
    after: str | None = None
    every: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)


class Timeline:
    """Schedules handlers on the run clock and runs them in order until the end."""

    def __init__(self, clock: Clock, journal: Journal, *, end: float | None = None) -> None:
        self.clock = clock
        self.journal = journal
        self.end = end
        self.ended_at: float | None = None
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._seq = itertools.count(1)
        self._changed = False
        self._stopped = False
        self._running = False
        self._finished = threading.Event()

    # ── scheduling ───────────────────────────────────────────────────────────────────────

    def schedule(
        self,
        handler: Handler,
        *,
        at: float | None = None,
        after: str | None = None,
        delay: float = 0.0,
        id: str | None = None,
        kind: str = "event",
        guard: Guard | None = None,
        fields: dict[str, Any] | None = None,
    ) -> str:
        """Run `handler` once: at run time `at` (default: now), or `delay` after `after` fired.

        `guard` is asked at fire time; a reason it returns skips the entry. `fields` go into
        the entry's journal events (`<kind>.skipped`, `<kind>.forced`). Returns the entry's id.
        """
        if at is not None and after is not None:
            raise ValueError("give an entry either `at` or `after`, not both")
        if after is None and delay:
            raise ValueError("`delay` counts from the `after` entry — give `at` instead")
        with self._lock:
            if after is not None and after not in self._entries and self._running:
                raise ValueError(self._unknown_after(id or kind, after))
            entry = self._add(handler, id, kind, guard, fields)
            records: list[Record] = []
            if after is None:
                entry.due = self.clock.now() if at is None else at
            else:
                entry.after, entry.delay = after, delay
                target = self._entries.get(after)
                if target is not None and target.fired_at is not None:
                    entry.due = target.fired_at + delay
                elif target is not None and target.state in _SETTLED:
                    records = self._skip(entry, _after_reason(target))
                else:
                    entry.state = "waiting"
            self._changed = True
        self._record(records)
        self.clock.notify()
        return entry.id

    def schedule_every(
        self,
        handler: Handler,
        every: float,
        *,
        start: float | None = None,
        until: float | None = None,
        id: str | None = None,
        kind: str = "event",
        guard: Guard | None = None,
        fields: dict[str, Any] | None = None,
    ) -> str:
        """Run `handler` every `every` seconds from `start` (default: now) until `until`.

        Periods missed while a handler overran are dropped, not run in a burst. A period
        the guard refuses is passed over quietly: a probe that does not apply is not news.
        """
        if not every > 0:
            raise ValueError(f"every={every}: a periodic entry needs a positive period")
        with self._lock:
            entry = self._add(handler, id, kind, guard, fields)
            entry.every, entry.until = every, until
            entry.due = self.clock.now() if start is None else start
            self._changed = True
        self.clock.notify()
        return entry.id

    def cancel(self, id: str) -> bool:
        """Drop a pending entry (a periodic one may cancel itself from its own handler)."""
        with self._lock:
            entry = self._entries.get(id)
            if entry is None or entry.state in _SETTLED:
                return False
            if entry.state == "firing" and entry.every is None:
                return False
            entry.state = "cancelled"
            records = self._cascade(entry)
            self._changed = True
        self._record(records)
        self.clock.notify()
        return True

    def fire_next_now(self, kind: str = "inject") -> str | None:
        """The facilitator's button: the next future one-shot entry of `kind` is due now.

        Its guard is still asked when it fires, and entries `after` it follow from the new
        time. While the clock is paused it fires on resume. Returns its id, or None.
        """
        with self._lock:
            now = self.clock.now()
            future = [
                e
                for e in self._entries.values()
                if e.kind == kind
                and e.state == "scheduled"
                and e.every is None
                and e.due is not None
                and e.due > now
            ]
            if not future:
                return None
            entry = min(future, key=lambda e: (e.due or 0.0, e.seq))
            planned = entry.due or 0.0
            entry.due = now
            self._changed = True
        forced = {kind: entry.id, **entry.fields, "planned_t": round(planned, 3)}
        self._record([(f"{kind}.forced", forced)])
        self.clock.notify()
        return entry.id

    def restore(
        self, id: str, t: float, outcome: Literal["fired", "skipped", "failed"] = "fired"
    ) -> None:
        """Recovery: in the run being recovered, entry `id` fired (or was skipped, or failed)
        at run time `t`. Nothing runs and nothing is journaled again.

        A one-shot entry is settled; the entries `after` it become due from `t` (or are
        settled with it when it did not fire). A periodic entry goes on at its first period
        after `t`.
        """
        with self._lock:
            entry = self._entries[id]
            if entry.every is not None:
                due = t if entry.due is None else entry.due
                while due <= t:
                    due += entry.every
                if outcome == "fired" and entry.fired_at is None:
                    entry.fired_at = t
                    self._release(entry)
                if entry.until is not None and due > entry.until:
                    entry.state = "fired"
                else:
                    entry.state, entry.due = "scheduled", due
            elif outcome == "fired":
                entry.state, entry.fired_at = "fired", t
                self._release(entry)
            else:
                entry.state = outcome
                self._cascade(entry)  # its dependents' events are in the journal already
            self._changed = True
        self.clock.notify()

    def stop(self) -> None:
        """End the timeline now (the facilitator's `gameday end`); pending entries stay unfired."""
        with self._lock:
            self._stopped = True
            self._changed = True
        self.clock.notify()

    # ── what has happened ────────────────────────────────────────────────────────────────

    @property
    def stopped(self) -> bool:
        return self._stopped

    def state(self, id: str) -> EntryState:
        with self._lock:
            return self._entries[id].state

    def fired_at(self, id: str) -> float | None:
        """When the entry (first) fired, or None if it has not."""
        with self._lock:
            return self._entries[id].fired_at

    def pending(self) -> list[Pending]:
        """Entries still to fire, soonest first: one waiting on `after` where the entry it
        waits for is due, plus its delay (last when that is not known)."""
        with self._lock:
            waiting = [e for e in self._entries.values() if e.state in ("waiting", "scheduled")]
            expected = {e.id: self._expected(e) for e in waiting}
        waiting.sort(key=lambda e: (expected[e.id], e.seq))
        return [
            Pending(
                id=e.id,
                kind=e.kind,
                due=e.due if e.state == "scheduled" else None,
                after=e.after,
                every=e.every,
                fields=dict(e.fields),
            )
            for e in waiting
        ]

    def _expected(self, entry: _Entry) -> float:
        """When `entry` should fire if nothing holds it back (its chain of `after`, followed
        at most as many steps as there are entries); infinity when unknown."""
        delay = 0.0
        for _ in range(len(self._entries) + 1):
            if entry.due is not None:
                return entry.due + delay
            target = self._entries.get(entry.after) if entry.after is not None else None
            if target is None or target.state not in ("waiting", "scheduled"):
                return math.inf
            delay += entry.delay
            entry = target
        return math.inf

    # ── running ──────────────────────────────────────────────────────────────────────────

    def run(self) -> None:
        """Run the timeline in the calling thread, as the clock participant 'timeline'.

        Start the clock first: on the virtual clock a participant waits for `start()`.
        """
        self._check_references()
        try:
            with self.clock.participant("timeline"):
                self._loop()
        except RunEnded:
            pass
        finally:
            self._finish()

    def start(self) -> threading.Thread:
        """Run the timeline in its own participant thread; `join()` waits for its end."""
        self._check_references()

        def body() -> None:
            try:
                self._loop()
            finally:
                self._finish()

        return self.clock.spawn("timeline", body)

    def join(self, timeout: float | None = None) -> bool:
        """Wait (real seconds) for the timeline to end; False if it is still running."""
        return self._finished.wait(timeout)

    def _loop(self) -> None:
        with self._lock:
            self._running = True
        end = math.inf if self.end is None else self.end
        while True:
            with self._lock:
                if self._stopped:
                    return
                now = self.clock.now()
                entry = self._next_due()
                wake = end if entry is None or entry.due is None else min(entry.due, end)
                if entry is not None and wake <= now and entry.due == wake:
                    entry.state = "firing"
                elif now >= end:
                    return
                else:
                    entry = None
                    self._changed = False
            if entry is not None:
                self._fire(entry, now)
            else:
                self.clock.wait(self._has_changed, until=None if math.isinf(wake) else wake)

    def _has_changed(self) -> bool:
        return self._changed

    def _finish(self) -> None:
        with self._lock:
            self._running = False
            self.ended_at = self.clock.now()
        self._finished.set()

    def _fire(self, entry: _Entry, now: float) -> None:
        try:
            reason = entry.guard() if entry.guard is not None else None
            if reason is None:
                entry.handler()
        except Exception as error:
            records: list[Record] = [_error_record(entry, error)]
            with self._lock:
                records += self._settle(entry, now, "failed")
            self._record(records)
            return
        with self._lock:
            if reason is None:
                records = self._settle(entry, now, "fired")
            elif entry.every is not None:
                records = self._settle(entry, now, "passed")
            else:
                records = self._skip(entry, reason)
        self._record(records)

    # ── bookkeeping; every method below runs with self._lock held ───────────────────────

    def _add(
        self,
        handler: Handler,
        id: str | None,
        kind: str,
        guard: Guard | None,
        fields: dict[str, Any] | None,
    ) -> _Entry:
        seq = next(self._seq)
        entry_id = id or f"{kind}-{seq}"
        if entry_id in self._entries:
            raise ValueError(f"the timeline already has an entry '{entry_id}' — ids are unique")
        entry = _Entry(entry_id, kind, handler, seq, guard, dict(fields or {}))
        self._entries[entry_id] = entry
        return entry

    def _next_due(self) -> _Entry | None:
        due = [e for e in self._entries.values() if e.state == "scheduled" and e.due is not None]
        return min(due, key=lambda e: (e.due or 0.0, e.seq), default=None)

    def _settle(
        self, entry: _Entry, t: float, outcome: Literal["fired", "failed", "passed"]
    ) -> list[Record]:
        entry.runs += 1
        if entry.every is None:
            if outcome == "fired":
                entry.state, entry.fired_at = "fired", t
                self._release(entry)
                return []
            entry.state = "failed"
            return self._cascade(entry)
        # A periodic entry goes on whatever one period did, until `until` or cancel().
        if outcome == "fired" and entry.fired_at is None:
            entry.fired_at = t
            self._release(entry)
        if entry.state != "cancelled":
            due = (entry.due or t) + entry.every
            while due <= t:
                due += entry.every
            if entry.until is not None and due > entry.until:
                entry.state = "fired"
            else:
                entry.state, entry.due = "scheduled", due
        return []

    def _release(self, entry: _Entry) -> None:
        for dependent in self._dependents(entry):
            dependent.state = "scheduled"
            dependent.due = (entry.fired_at or 0.0) + dependent.delay
        self._changed = True

    def _skip(self, entry: _Entry, reason: str) -> list[Record]:
        entry.state = "skipped"
        fields = {entry.kind: entry.id, **entry.fields, "reason": reason}
        return [(f"{entry.kind}.skipped", fields), *self._cascade(entry)]

    def _cascade(self, entry: _Entry) -> list[Record]:
        records: list[Record] = []
        for dependent in self._dependents(entry):
            records += self._skip(dependent, _after_reason(entry))
        return records

    def _dependents(self, entry: _Entry) -> list[_Entry]:
        return sorted(
            (e for e in self._entries.values() if e.state == "waiting" and e.after == entry.id),
            key=lambda e: e.seq,
        )

    def _unknown_after(self, name: str, after: str) -> str:
        return (
            f"'{name}' comes after unknown entry '{after}' — {did_you_mean(after, self._entries)}"
        )

    def _check_references(self) -> None:
        with self._lock:
            for entry in self._entries.values():
                if entry.state != "waiting" or entry.after is None:
                    continue
                if entry.after not in self._entries:
                    raise ValueError(self._unknown_after(entry.id, entry.after))
                seen = {entry.id}
                current: str | None = entry.after
                while current is not None and current in self._entries:
                    if current in seen:
                        raise ValueError(
                            f"'{entry.id}' waits on itself through a cycle of `after` entries"
                        )
                    seen.add(current)
                    ahead = self._entries[current]
                    current = ahead.after if ahead.state == "waiting" else None

    # ── journal ──────────────────────────────────────────────────────────────────────────

    def _record(self, records: list[Record]) -> None:
        for kind, fields in records:
            self.journal.append(kind, **fields)


def _after_reason(target: _Entry) -> str:
    return f"after: {target.kind} '{target.id}' was {target.state}"


def _error_record(entry: _Entry, error: Exception) -> Record:
    return (
        "error",
        {
            "source": f"{entry.kind} {entry.id}",
            **entry.fields,
            "message": f"{type(error).__name__}: {error}",
            "traceback": "".join(traceback.format_exception(error)),
        },
    )


def schedule_injects(
    timeline: Timeline,
    injects: Iterable[Inject],
    deliver: Callable[[Inject], object],
    state: RunState,
) -> None:
    """Put a scenario's timeline of injects on `timeline`, guarded by their conditions.

    `deliver(inject)` is called when an inject fires and its `when`/`unless` allow it; it
    renders the inject, delivers it through its channel and publishes it to the responders.
    An inject with neither `at` nor `after` fires at T0.
    """
    for inject in injects:
        guard: Guard | None = None
        if inject.when or inject.unless:
            guard = partial(skip_reason, inject.when, inject.unless, state)
        handler = partial(deliver, inject)
        fields = {"type": inject.type}
        if inject.after is not None:
            timeline.schedule(
                handler,
                after=inject.after.inject,
                delay=inject.after.delay,
                id=inject.id,
                kind="inject",
                guard=guard,
                fields=fields,
            )
        else:
            timeline.schedule(
                handler,
                at=inject.at or 0.0,
                id=inject.id,
                kind="inject",
                guard=guard,
                fields=fields,
            )
