"""The run clocks: virtual time that jumps only when everyone is idle, wall time with speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from gameday.exercise.clock import Clock, RunEnded, VirtualClock, WallClock


def run_to_end(clock: Clock, threads: list[threading.Thread], limit: float = 5.0) -> None:
    clock.start()
    for thread in threads:
        thread.join(limit)
        assert not thread.is_alive(), f"{thread.name} did not finish"


def two_hour_exercise(clock: VirtualClock) -> list[tuple[float, str]]:
    """A timeline, two responders and a probe, all taking turns over two hours."""
    log: list[tuple[float, str]] = []
    emails: list[float] = []

    def timeline() -> None:
        for at in (67, 110, 116, 120, 18 * 60, 45 * 60, 100 * 60):
            clock.sleep_until(at)
            emails.append(at)
            log.append((clock.now(), f"inject@{at}"))
            clock.notify()
        clock.sleep_until(7200)
        log.append((clock.now(), "end"))

    def responder(name: str, pause: float) -> Callable[[], None]:
        def act() -> None:
            seen = 0

            def unread() -> bool:
                return len(emails) > seen

            while seen < 7:
                clock.wait(unread)
                seen += 1
                log.append((clock.now(), f"{name} read {seen}"))
                clock.sleep(pause)
                log.append((clock.now(), f"{name} acted {seen}"))

        return act

    def probe() -> None:
        while clock.now() < 7200:
            log.append((clock.now(), "probe"))
            clock.sleep(60)

    threads = [
        clock.spawn("timeline", timeline),
        clock.spawn("alice", responder("alice", 90)),
        clock.spawn("bob", responder("bob", 30)),
        clock.spawn("probe", probe),
    ]
    run_to_end(clock, threads)
    return log


def test_virtual_two_hours_take_well_under_a_second_and_repeat_exactly() -> None:
    started = time.monotonic()
    first = two_hour_exercise(VirtualClock())
    elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert first[-1][0] == 7200
    assert sum(1 for _, what in first if what == "probe") == 120
    for _ in range(3):
        assert two_hour_exercise(VirtualClock()) == first


def test_virtual_time_jumps_cost_no_hand_off_when_one_participant_is_due() -> None:
    clock = VirtualClock()
    ticks: list[float] = []

    def ticker() -> None:
        for _ in range(1000):
            clock.sleep(60)  # 1,000 jumps of a minute, nobody else due in between
            ticks.append(clock.now())

    def hourly() -> None:
        for _ in range(16):
            clock.sleep(3600)

    run_to_end(clock, [clock.spawn("ticker", ticker), clock.spawn("hourly", hourly)])
    assert ticks[-1] == 60_000
    # the turn changes hands only when the hourly participant is due: twice an hour
    # (to it and back), never per jump
    assert clock.handoffs <= 2 * 17 + 2


def test_virtual_hand_offs_are_counted_between_participants() -> None:
    clock = VirtualClock()

    def walker() -> None:
        for _ in range(10):
            clock.sleep(1)

    run_to_end(clock, [clock.spawn("a", walker), clock.spawn("b", walker)])
    assert 20 <= clock.handoffs <= 22  # a, b, a, b … one switch a step


def test_virtual_time_is_monotonic_and_wakes_in_time_then_sequence_order() -> None:
    log = two_hour_exercise(VirtualClock())
    times = [t for t, _ in log]
    assert times == sorted(times)
    # Both responders see the first inject at its own instant, alice first: she waited first.
    at_67 = [what for t, what in log if t == 67]
    assert at_67 == ["inject@67", "alice read 1", "bob read 1"]
    assert (97.0, "bob acted 1") in log  # 67 + 30
    assert (157.0, "alice acted 1") in log  # 67 + 90


def test_virtual_time_stands_still_while_a_participant_is_busy() -> None:
    clock = VirtualClock()
    seen: list[float] = []

    def busy() -> None:
        clock.sleep(10)
        before = clock.now()
        time.sleep(0.05)  # real work, e.g. a boto3 call: no run time passes
        seen.append(clock.now() - before)

    def sleeper() -> None:
        clock.sleep(10.5)
        seen.append(clock.now())

    run_to_end(clock, [clock.spawn("busy", busy), clock.spawn("sleeper", sleeper)])
    assert seen == [0.0, 10.5]


def test_virtual_wait_timeout_and_predicate() -> None:
    clock = VirtualClock()
    flag = threading.Event()
    results: list[tuple[str, bool, float]] = []

    def waiter() -> None:
        results.append(("timeout", clock.wait(flag.is_set, timeout=30), clock.now()))
        results.append(("until", clock.wait(flag.is_set, until=45.5), clock.now()))
        results.append(("signal", clock.wait(flag.is_set), clock.now()))

    def setter() -> None:
        clock.sleep(300)
        flag.set()
        clock.notify()

    run_to_end(clock, [clock.spawn("waiter", waiter), clock.spawn("setter", setter)])
    assert results == [("timeout", False, 30.0), ("until", False, 45.5), ("signal", True, 300.0)]


def test_virtual_zero_sleep_lets_others_due_now_go_first() -> None:
    clock = VirtualClock()
    order: list[str] = []

    def first() -> None:
        order.append("first")
        clock.sleep(0)
        order.append("first again")

    def second() -> None:
        order.append("second")

    run_to_end(clock, [clock.spawn("first", first), clock.spawn("second", second)])
    assert order == ["first", "second", "first again"]


def test_virtual_pause_holds_time_until_resume() -> None:
    clock = VirtualClock()
    woke = threading.Event()

    def sleeper() -> None:
        clock.sleep(600)
        woke.set()

    clock.pause()
    thread = clock.spawn("sleeper", sleeper)
    clock.start()
    assert not woke.wait(0.1)
    assert clock.now() == 0.0
    assert clock.paused
    clock.resume()
    assert woke.wait(2)
    thread.join(2)
    assert clock.now() == 600.0


def test_virtual_close_ends_sleepers_even_through_except_exception() -> None:
    clock = VirtualClock()
    attempts: list[float] = []

    def stubborn() -> None:
        while True:
            try:
                clock.wait(lambda: False)
            except Exception:
                attempts.append(clock.now())

    thread = clock.spawn("stubborn", stubborn)
    clock.start()
    time.sleep(0.05)
    clock.close()
    thread.join(2)
    assert not thread.is_alive()
    assert attempts == []
    assert clock.closed
    with pytest.raises(RunEnded), clock.participant("late"):
        pass


def test_virtual_rejects_time_passing_outside_participants() -> None:
    clock = VirtualClock()
    clock.start()
    with pytest.raises(RuntimeError, match="only a participant"):
        clock.sleep(1)
    with clock.participant("main"):
        clock.sleep(5)
        with pytest.raises(RuntimeError, match="already takes part"), clock.participant("again"):
            pass
    assert clock.now() == 5.0


def test_virtual_participants_are_listed_with_what_they_do() -> None:
    clock = VirtualClock()
    gate = threading.Event()
    listed: list[list[tuple[str, str, float | None]]] = []

    def sleeper() -> None:
        clock.sleep(100)

    def looker() -> None:
        gate.wait()
        listed.append([(p.name, p.state, p.until) for p in clock.participants()])

    threads = [clock.spawn("sleeper", sleeper), clock.spawn("looker", looker)]
    clock.start()
    gate.set()
    for thread in threads:
        thread.join(2)
    assert listed == [[("sleeper", "sleeping", 100.0), ("looker", "running", None)]]
    assert clock.participants() == []


def test_wall_clock_runs_at_speed_and_sleeps_real_time_divided_by_it() -> None:
    clock = WallClock(speed=100)
    assert clock.now() == 0.0  # before start, T0 has not come
    clock.start()
    started = time.monotonic()
    with clock.participant("responder"):
        clock.sleep(10)  # 0.1 s of real time
    elapsed = time.monotonic() - started
    assert 0.09 <= elapsed < 2.0
    assert 10.0 <= clock.now() <= (time.monotonic() - started) * 100 + 1


def test_wall_clock_pause_stops_time_and_sleepers() -> None:
    clock = WallClock(speed=100)
    clock.start()
    clock.pause()
    frozen = clock.now()
    woke: list[float] = []

    def sleeper() -> None:
        clock.sleep_until(frozen + 5)
        woke.append(clock.now())

    thread = clock.spawn("sleeper", sleeper)
    time.sleep(0.3)  # 30 run seconds if time were flowing
    assert clock.now() == frozen
    assert woke == []
    clock.resume()
    thread.join(2)
    assert len(woke) == 1 and frozen + 5 <= woke[0] < frozen + 100


def test_wall_clock_wait_wakes_on_notify_and_times_out() -> None:
    clock = WallClock(speed=100)
    clock.start()
    flag = threading.Event()
    results: list[bool] = []

    def waiter() -> None:
        results.append(clock.wait(flag.is_set, timeout=5))
        results.append(clock.wait(flag.is_set, timeout=100_000))

    thread = clock.spawn("waiter", waiter)
    while not results:
        time.sleep(0.01)
    flag.set()
    clock.notify()
    thread.join(2)
    assert results == [False, True]
    assert clock.now() < 1000  # woken by notify, not by the timeout


def test_wall_clock_close_ends_waits() -> None:
    clock = WallClock()
    clock.start()
    thread = clock.spawn("waiter", lambda: clock.wait(lambda: False))
    clock.close()
    thread.join(2)
    assert not thread.is_alive()


@pytest.mark.parametrize("speed", [0, -1, float("inf"), float("nan")])
def test_wall_clock_rejects_a_speed_that_is_not_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        WallClock(speed=speed)
