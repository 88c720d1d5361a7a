"""The run clocks: virtual time for CI and rehearsals, wall time (sped up or not) for game days.

Both clocks satisfy `gameday.journal.RunClock` (`t0`, `now()`) and the wider `Clock` protocol
the rest of the exercise uses, so the timeline, responders, attacker and workload are the
same code whichever clock drives them.

The virtual clock is a discrete-event scheduler over threads. Code that takes part in the
run — the timeline, a runbook, any other actor — is a *participant*: it is registered with
the clock (`spawn`, or `with clock.participant(name):`) and passes time only through the
clock (`sleep`, `sleep_until`, `wait`). Participants take turns: exactly one runs at a time,
and while it runs (calling boto3, rendering an email…) time stands still. When it goes idle
the clock hands the turn to the next one due, ordered by (time, sequence): first anyone
whose wait condition now holds, then — jumping time forward — the earliest sleeper or wait
timeout. The same inputs therefore give the same wake-ups in the same order, and a two-hour
exercise takes as long as its participants' real work. (A participant that loops without
ever sleeping or waiting holds virtual time still: a runbook polls with `ctx.sleep`.)
Time jumps cost nothing: a participant that is next due again after its own sleep keeps the
turn without a thread switch, so only hand-offs between participants (`handoffs`) cost one.

The wall clock runs at `speed` run-seconds per real second; participants run concurrently
and sleep real time. Either clock can be paused: run time stands still and nobody wakes.
`close()` ends the run: every sleep or wait, then and afterwards, raises `RunEnded`.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

# The T0 of virtual runs: fixed, so two runs with the same seed write the same journal.
VIRTUAL_T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

ParticipantState = Literal["ready", "running", "sleeping", "waiting"]
Predicate = Callable[[], bool]


class RunEnded(BaseException):
    """Raised in a participant's sleep or wait once the run is over.

    A `BaseException`, like `KeyboardInterrupt`, so that a runbook's `except Exception:`
    does not swallow the end of the run and keep acting after it.
    """


@dataclass(frozen=True)
class ParticipantStatus:
    """One participant as `gameday status` shows it: what it is doing, and until when."""

    name: str
    state: ParticipantState
    until: float | None = None


class Clock(Protocol):
    """The clock the exercise runs on, virtual or wall; all times are run seconds since T0."""

    @property
    def t0(self) -> datetime: ...

    def now(self) -> float: ...

    @property
    def virtual(self) -> bool: ...

    @property
    def paused(self) -> bool: ...

    @property
    def closed(self) -> bool: ...

    def start(self) -> None:
        """T0: time starts to flow and participants start to run."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def close(self) -> None:
        """End the run: every sleep and wait raises `RunEnded` from now on."""
        ...

    def participant(self, name: str) -> AbstractContextManager[None]:
        """Make the calling thread a participant for the duration of the `with` block."""
        ...

    def spawn(self, name: str, target: Callable[[], object]) -> threading.Thread:
        """Run `target` in a new daemon thread, as a participant; `RunEnded` ends it quietly."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def sleep_until(self, t: float) -> None: ...

    def wait(
        self, predicate: Predicate, timeout: float | None = None, *, until: float | None = None
    ) -> bool:
        """Block until `predicate()` holds (True) or the time is up (False).

        The time is up `timeout` run seconds from now, or at run time `until` (exact, where
        `now() + (until - now())` might round below `until`), whichever comes first. The
        predicate is re-checked when a participant goes idle and after `notify()`; it
        must be quick, free of side effects, and must not call into the clock.
        """
        ...

    def notify(self) -> None:
        """State that wait predicates read has changed: re-check them."""
        ...

    def participants(self) -> list[ParticipantStatus]: ...


@dataclass(eq=False)
class _Participant:
    name: str
    wake: threading.Condition
    order: int
    state: ParticipantState = "ready"
    due: float = math.inf
    predicate: Predicate | None = None
    thread_id: int | None = None


class VirtualClock:
    """Discrete-event time: it jumps to the next due wake-up once every participant is idle."""

    def __init__(self, t0: datetime | None = None) -> None:
        self._t0 = t0 or VIRTUAL_T0
        self._lock = threading.Lock()
        self._now = 0.0
        self._order = itertools.count()
        self._members: list[_Participant] = []
        self._by_thread: dict[int, _Participant] = {}
        self._active: _Participant | None = None
        self._previous: _Participant | None = None
        # turns given to another participant than the one that ran last: each is a switch
        # between threads, the only cost of virtual time
        self.handoffs = 0
        self._started = False
        self._paused = False
        self._closed = False

    @property
    def t0(self) -> datetime:
        return self._t0

    def now(self) -> float:
        return self._now

    @property
    def virtual(self) -> bool:
        return True

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        with self._lock:
            self._started = True
            self._dispatch()

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._dispatch()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for member in self._members:
                member.wake.notify_all()

    @contextmanager
    def participant(self, name: str) -> Iterator[None]:
        ident = threading.get_ident()
        with self._lock:
            if ident in self._by_thread:
                raise RuntimeError(
                    f"this thread already takes part in the run as '{self._by_thread[ident].name}'"
                )
            member = self._enlist(name)
            member.thread_id = ident
            self._by_thread[ident] = member
            self._dispatch()
        try:
            with self._lock:
                self._await_turn(member)
            yield
        finally:
            with self._lock:
                self._retire(member)

    def spawn(self, name: str, target: Callable[[], object]) -> threading.Thread:
        # Enlisted before the thread exists, so the clock cannot decide that everyone is idle
        # and jump ahead in the moment between `spawn` and the thread's first instruction.
        with self._lock:
            member = self._enlist(name)
            self._dispatch()

        def body() -> None:
            with self._lock:
                member.thread_id = threading.get_ident()
                self._by_thread[member.thread_id] = member
            try:
                with self._lock:
                    self._await_turn(member)
                target()
            except RunEnded:
                pass
            finally:
                with self._lock:
                    self._retire(member)

        thread = threading.Thread(target=body, name=f"gameday-{name}", daemon=True)
        thread.start()
        return thread

    def sleep(self, seconds: float) -> None:
        self.sleep_until(self._now + max(0.0, seconds))

    def sleep_until(self, t: float) -> None:
        with self._lock:
            member = self._current()
            if self._closed:
                raise RunEnded
            # Always yields, even for a time already reached: others due now go first, so a
            # loop of zero-length sleeps cannot starve them.
            self._idle(member, "sleeping", max(t, self._now), None)

    def wait(
        self, predicate: Predicate, timeout: float | None = None, *, until: float | None = None
    ) -> bool:
        with self._lock:
            member = self._current()
            deadline = _deadline(self._now, timeout, until)
            while True:
                if self._closed:
                    raise RunEnded
                if predicate():
                    return True
                if self._now >= deadline:
                    return False
                self._idle(member, "waiting", deadline, predicate)

    def notify(self) -> None:
        with self._lock:
            self._dispatch()

    def participants(self) -> list[ParticipantStatus]:
        with self._lock:
            return [
                ParticipantStatus(m.name, m.state, None if math.isinf(m.due) else m.due)
                if m.state in ("sleeping", "waiting")
                else ParticipantStatus(m.name, m.state)
                for m in self._members
            ]

    # ── the scheduler; every method below runs with self._lock held ─────────────────────

    def _enlist(self, name: str) -> _Participant:
        member = _Participant(name, threading.Condition(self._lock), next(self._order))
        member.due = self._now
        self._members.append(member)
        return member

    def _retire(self, member: _Participant) -> None:
        if member in self._members:
            self._members.remove(member)
        if member.thread_id is not None:
            self._by_thread.pop(member.thread_id, None)
        if self._active is member:
            self._active = None
            self._dispatch()

    def _current(self) -> _Participant:
        member = self._by_thread.get(threading.get_ident())
        if member is None:
            raise RuntimeError(
                "only a participant can pass time on the virtual clock — run this code with "
                "clock.spawn(name, target) or inside `with clock.participant(name):`"
            )
        return member

    def _await_turn(self, member: _Participant) -> None:
        while self._active is not member:
            if self._closed:
                raise RunEnded
            member.wake.wait()

    def _idle(
        self,
        member: _Participant,
        state: ParticipantState,
        due: float,
        predicate: Predicate | None,
    ) -> None:
        member.state = state
        member.due = due
        member.predicate = predicate
        member.order = next(self._order)
        if self._active is member:
            self._active = None
        self._dispatch()
        self._await_turn(member)

    def _dispatch(self) -> None:
        if self._active is not None or not self._started or self._paused or self._closed:
            return
        chosen: _Participant | None = None
        best = (math.inf, math.inf)
        for member in self._members:
            if member.state == "ready" or (
                member.state == "waiting"
                and member.predicate is not None
                and _holds(member.predicate)
            ):
                key = (self._now, float(member.order))
            else:
                key = (member.due, float(member.order))
            if key < best:
                chosen, best = member, key
        if chosen is None or math.isinf(best[0]):
            return  # nobody can run until someone outside the run calls notify()
        self._now = max(self._now, best[0])
        chosen.state = "running"
        chosen.due = math.inf
        chosen.predicate = None
        self._active = chosen
        if chosen is not self._previous:
            self.handoffs += 1
            self._previous = chosen
        chosen.wake.notify()


def _deadline(now: float, timeout: float | None, until: float | None) -> float:
    """The run time a wait gives up at: the earlier of `now + timeout` and `until`."""
    deadline = math.inf if timeout is None else now + max(0.0, timeout)
    return deadline if until is None else min(deadline, until)


def _holds(predicate: Predicate) -> bool:
    try:
        return bool(predicate())
    except Exception:
        return True  # let the waiter run and meet the error in its own thread


class WallClock:
    """Real time times `speed`: one real second is `speed` run seconds.

    T0 is the real instant `start()` is called, unless given. Before `start()` and while
    paused, run time stands still and sleepers do not wake.
    """

    def __init__(self, speed: float = 1.0, *, t0: datetime | None = None) -> None:
        if not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed {speed} must be a positive number of run seconds per second")
        self.speed = speed
        self._cond = threading.Condition(threading.Lock())
        self._t0 = t0 or datetime.now(UTC)
        self._t0_given = t0 is not None
        self._base = 0.0  # run seconds elapsed up to the last start or resume
        self._since = 0.0  # time.monotonic() at the last start or resume
        self._started = False
        self._paused = False
        self._closed = False
        self._members: dict[int, ParticipantStatus] = {}

    @property
    def t0(self) -> datetime:
        return self._t0

    def now(self) -> float:
        with self._cond:
            return self._elapsed()

    @property
    def virtual(self) -> bool:
        return False

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        with self._cond:
            if self._started:
                return
            if not self._t0_given:
                self._t0 = datetime.now(UTC)
            self._since = time.monotonic()
            self._started = True
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            if not self._paused:
                self._base = self._elapsed()
                self._paused = True
                self._cond.notify_all()

    def resume(self) -> None:
        with self._cond:
            if self._paused:
                self._since = time.monotonic()
                self._paused = False
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @contextmanager
    def participant(self, name: str) -> Iterator[None]:
        ident = threading.get_ident()
        with self._cond:
            self._members[ident] = ParticipantStatus(name, "ready")
        try:
            with self._cond:
                while not self._started:
                    if self._closed:
                        raise RunEnded
                    self._cond.wait()
                self._members[ident] = ParticipantStatus(name, "running")
            yield
        finally:
            with self._cond:
                self._members.pop(ident, None)

    def spawn(self, name: str, target: Callable[[], object]) -> threading.Thread:
        def body() -> None:
            try:
                with self.participant(name):
                    target()
            except RunEnded:
                pass

        thread = threading.Thread(target=body, name=f"gameday-{name}", daemon=True)
        thread.start()
        return thread

    def sleep(self, seconds: float) -> None:
        self.sleep_until(self.now() + max(0.0, seconds))

    def sleep_until(self, t: float) -> None:
        with self._cond, self._marked("sleeping", t):
            while True:
                if self._closed:
                    raise RunEnded
                if self._flowing():
                    remaining = t - self._elapsed()
                    if remaining <= 0:
                        return
                    self._cond.wait(remaining / self.speed)
                else:
                    self._cond.wait()

    def wait(
        self, predicate: Predicate, timeout: float | None = None, *, until: float | None = None
    ) -> bool:
        with self._cond:
            deadline = _deadline(self._elapsed(), timeout, until)
            with self._marked("waiting", None if math.isinf(deadline) else deadline):
                first = True
                while True:
                    if self._closed:
                        raise RunEnded
                    # While paused nobody wakes; only a wait that need not block returns.
                    if (first or self._flowing()) and predicate():
                        return True
                    first = False
                    now = self._elapsed()
                    if now >= deadline:
                        return False
                    if self._flowing() and not math.isinf(deadline):
                        self._cond.wait((deadline - now) / self.speed)
                    else:
                        self._cond.wait()

    def notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def participants(self) -> list[ParticipantStatus]:
        with self._cond:
            return list(self._members.values())

    # ── with self._cond held ─────────────────────────────────────────────────────────────

    def _flowing(self) -> bool:
        return self._started and not self._paused

    def _elapsed(self) -> float:
        if not self._flowing():
            return self._base
        return self._base + (time.monotonic() - self._since) * self.speed

    @contextmanager
    def _marked(self, state: ParticipantState, until: float | None) -> Iterator[None]:
        ident = threading.get_ident()
        member = self._members.get(ident)
        if member is None:
            yield
            return
        self._members[ident] = ParticipantStatus(member.name, state, until)
        try:
            yield
        finally:
            self._members[ident] = ParticipantStatus(member.name, "running")
