"""The timeline: offsets, `after` chains, `when`/`unless`, failures, periodic entries, the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from gameday.exercise import conditions
from gameday.exercise.clock import VirtualClock, WallClock
from gameday.exercise.conditions import KeyStatus, SupportPlan, skip_reason
from gameday.exercise.timeline import Timeline, schedule_injects
from gameday.journal import Event, Journal
from gameday.scenario.model import CONDITIONS, Inject, Scenario

Events = Callable[..., list[Event]]
OpenJournal = Callable[..., Journal]


@dataclass
class FakeState:
    """The run's state as the conditions read it, set by the test."""

    support_plan: SupportPlan = "enterprise"
    replied: bool = False
    resolved: bool = False
    key: KeyStatus = "Active"
    private: bool = False
    deleted: bool = False
    quarantined: bool = False

    def case_replied(self) -> bool:
        return self.replied

    def case_resolved(self) -> bool:
        return self.resolved

    def leaked_key_status(self) -> KeyStatus:
        return self.key

    def repository_private(self) -> bool:
        return self.private

    def repository_deleted(self) -> bool:
        return self.deleted

    def quarantine_attached(self) -> bool:
        return self.quarantined


SCENARIO = """
id: timeline-test
title: Timeline test
summary: A key leaks; AWS reacts on a timeline.
difficulty: introductory
duration: 2h
account:
  id: "123456789012"
  alias: timeline-test
  support_plan: {plan}
  regions: [us-east-1]
  contacts:
    primary: {{name: Dana Ops, email: dana@example.com}}
leak:
  user: deployer
  vector: shell-export
  author: {{name: Jo Dev, email: jo@example.com}}
  repository: {{owner: acme, name: tools}}
timeline:
  - {{id: quarantine, type: quarantine, at: 67s}}
  - {{id: support-case, type: support-case, at: 110s}}
  - id: case-email
    type: email
    after: {{inject: support-case, delay: 6s}}
  - {{id: enterprise-call, type: phone-call, at: 18m, when: [enterprise-support],
      unless: [case-resolved]}}
  - {{id: follow-up, type: email, at: 100m, unless: [case-replied]}}
  - id: follow-up-call
    type: phone-call
    after: {{inject: follow-up, delay: 10m}}
steps:
  - id: disable
    title: Disable the key
    phase: contain
    check: {{type: access-key-disabled}}
    points: 100
    target: 10m
    deadline: 1h
"""


def scenario(plan: str = "enterprise") -> Scenario:
    return Scenario.model_validate(yaml.safe_load(SCENARIO.format(plan=plan)))


def play(
    scenario: Scenario,
    state: FakeState,
    journal: Journal,
    clock: VirtualClock,
    responder: Callable[[], None] | None = None,
) -> list[tuple[float, str]]:
    """Run the scenario's timeline to its end; returns (t, inject id) as delivered."""
    delivered: list[tuple[float, str]] = []

    def deliver(inject: Inject) -> None:
        delivered.append((clock.now(), inject.id))

    timeline = Timeline(clock, journal, end=scenario.duration)
    schedule_injects(timeline, scenario.timeline, deliver, state)
    threads = [clock.spawn("responder", responder)] if responder else []
    clock.start()
    timeline.run()
    clock.close()
    for thread in threads:
        thread.join(2)
    assert timeline.ended_at == scenario.duration
    return delivered


def test_injects_fire_at_their_offsets_and_after_the_one_they_follow(
    open_journal: OpenJournal, events: Events
) -> None:
    clock = VirtualClock()
    journal = open_journal(clock)
    delivered = play(scenario(), FakeState(), journal, clock)
    assert delivered == [
        (67.0, "quarantine"),
        (110.0, "support-case"),
        (116.0, "case-email"),
        (1080.0, "enterprise-call"),
        (6000.0, "follow-up"),
        (6600.0, "follow-up-call"),
    ]
    assert events(journal, "inject.skipped") == []


def test_when_and_unless_are_decided_at_fire_time_and_skips_cascade(
    open_journal: OpenJournal, events: Events
) -> None:
    clock = VirtualClock()
    journal = open_journal(clock)
    state = FakeState(support_plan="business")

    def responder() -> None:
        clock.sleep(45 * 60)
        state.replied = True  # the team replies to the case at 45 minutes

    delivered = play(scenario("business"), state, journal, clock, responder)
    assert [name for _, name in delivered] == ["quarantine", "support-case", "case-email"]
    skipped = [
        (e["t"], e["inject"], e["type"], e["reason"]) for e in events(journal, "inject.skipped")
    ]
    assert skipped == [
        (1080.0, "enterprise-call", "phone-call", "when: enterprise-support is false"),
        (6000.0, "follow-up", "email", "unless: case-replied is true"),
        (6000.0, "follow-up-call", "phone-call", "after: inject 'follow-up' was skipped"),
    ]


def test_same_seedless_run_writes_the_same_journal(
    open_journal: OpenJournal, events: Events
) -> None:
    journals = []
    for name in ("one.jsonl", "two.jsonl"):
        clock = VirtualClock()
        journal = open_journal(clock, name)
        play(scenario("developer"), FakeState(support_plan="developer"), journal, clock)
        journals.append(events(journal))
    assert journals[0] == journals[1] != []


def test_a_failing_handler_is_journaled_and_the_run_goes_on(
    open_journal: OpenJournal, events: Events
) -> None:
    clock = VirtualClock()
    journal = open_journal(clock)
    timeline = Timeline(clock, journal, end=600)
    fired: list[str] = []

    def broken() -> None:
        raise ConnectionError("mail relay refused the message")

    timeline.schedule(broken, at=60, id="case-email", kind="inject", fields={"type": "email"})
    timeline.schedule(
        lambda: fired.append("reminder"), after="case-email", delay=30, id="reminder", kind="inject"
    )
    timeline.schedule(lambda: fired.append("later"), at=120, id="later", kind="inject")
    clock.start()
    timeline.run()
    assert fired == ["later"]
    assert timeline.state("case-email") == "failed"
    [error] = events(journal, "error")
    assert error["t"] == 60.0
    assert error["source"] == "inject case-email"
    assert error["message"] == "ConnectionError: mail relay refused the message"
    assert "raise ConnectionError" in error["traceback"]
    [skipped] = events(journal, "inject.skipped")
    assert (skipped["inject"], skipped["reason"]) == (
        "reminder",
        "after: inject 'case-email' was failed",
    )


def test_periodic_entries_share_the_scheduler_and_stop_at_the_end(
    open_journal: OpenJournal,
) -> None:
    clock = VirtualClock()
    timeline = Timeline(clock, open_journal(clock), end=7200)
    log: list[tuple[float, str]] = []
    timeline.schedule_every(lambda: log.append((clock.now(), "probe")), 60, start=0, kind="probe")
    relaunch = timeline.schedule_every(
        lambda: log.append((clock.now(), "relaunch")), 600, start=360, kind="technique"
    )
    timeline.schedule(lambda: timeline.cancel(relaunch), at=1800, kind="technique")
    timeline.schedule(lambda: log.append((clock.now(), "inject")), at=120, kind="inject")
    started = time.monotonic()
    clock.start()
    timeline.run()
    assert time.monotonic() - started < 1.0
    probes = [t for t, what in log if what == "probe"]
    assert probes == [float(60 * n) for n in range(121)]  # 0 … 7200 inclusive
    assert [t for t, what in log if what == "relaunch"] == [360.0, 960.0, 1560.0]
    # At 120 s the probe (scheduled first) runs before the inject: (time, sequence) order.
    at_120 = [what for t, what in log if t == 120]
    assert at_120 == ["probe", "inject"]
    assert timeline.state(relaunch) == "cancelled"


def test_stop_ends_the_timeline_early_and_pending_entries_stay_unfired(
    open_journal: OpenJournal,
) -> None:
    clock = VirtualClock()
    timeline = Timeline(clock, open_journal(clock), end=7200)
    timeline.schedule(timeline.stop, at=900, id="facilitator-ends")
    timeline.schedule(lambda: None, at=1200, id="follow-up", kind="inject")
    clock.start()
    timeline.run()
    assert timeline.ended_at == 900.0
    assert [(p.id, p.due) for p in timeline.pending()] == [("follow-up", 1200.0)]


def test_fire_next_now_moves_the_next_inject_and_what_follows_it(
    open_journal: OpenJournal, events: Events
) -> None:
    clock = VirtualClock()
    journal = open_journal(clock)
    timeline = Timeline(clock, journal, end=3600)
    fired: list[tuple[float, str]] = []

    def firing(name: str) -> Callable[[], None]:
        return lambda: fired.append((clock.now(), name))

    for name, at in (("health-event", 1200.0), ("follow-up", 3000.0)):
        timeline.schedule(
            firing(name),
            at=at,
            id=name,
            kind="inject",
            fields={"type": "email"},
        )
    timeline.schedule(
        firing("call"),
        after="health-event",
        delay=60,
        id="call",
        kind="inject",
    )
    pressed: list[str | None] = []

    def facilitator() -> None:
        clock.sleep(300)
        pressed.append(timeline.fire_next_now())

    thread = clock.spawn("facilitator", facilitator)
    clock.start()
    timeline.run()
    thread.join(2)
    assert pressed == ["health-event"]
    assert fired == [(300.0, "health-event"), (360.0, "call"), (3000.0, "follow-up")]
    [forced] = events(journal, "inject.forced")
    assert (forced["t"], forced["inject"], forced["planned_t"]) == (300.0, "health-event", 1200.0)


def test_fire_next_now_from_another_thread_on_the_wall_clock(open_journal: OpenJournal) -> None:
    clock = WallClock(speed=100)
    timeline = Timeline(clock, open_journal(clock), end=3600)
    fired = threading.Event()
    timeline.schedule(fired.set, at=3000, id="follow-up", kind="inject")
    clock.start()
    thread = timeline.start()
    time.sleep(0.05)
    assert timeline.fire_next_now() == "follow-up"
    assert fired.wait(2)
    assert timeline.fired_at("follow-up") is not None
    assert (timeline.fired_at("follow-up") or 0) < 100
    assert timeline.fire_next_now() is None
    timeline.stop()
    thread.join(2)
    assert timeline.join(0)


def test_wall_clock_timeline_fires_on_time_and_holds_while_paused(
    open_journal: OpenJournal,
) -> None:
    clock = WallClock(speed=600)  # 10 run minutes a real second
    timeline = Timeline(clock, open_journal(clock), end=650)
    fired: list[float] = []
    for at in (60, 600):
        timeline.schedule(lambda: fired.append(clock.now()), at=at, kind="inject")
    clock.start()
    thread = timeline.start()
    while not fired:
        time.sleep(0.005)
    clock.pause()
    time.sleep(0.3)  # 180 run seconds if the clock were running
    assert len(fired) == 1
    paused_at = clock.now()
    clock.resume()
    thread.join(3)
    assert len(fired) == 2
    assert 60 <= fired[0] <= paused_at < 600 <= fired[1] < 650


def test_an_after_on_an_unknown_entry_is_refused_before_the_run(open_journal: OpenJournal) -> None:
    clock = VirtualClock()
    timeline = Timeline(clock, open_journal(clock), end=60)
    timeline.schedule(lambda: None, at=10, id="support-case")
    timeline.schedule(lambda: None, after="suport-case", id="case-email")
    with pytest.raises(ValueError, match="did you mean 'support-case'"):
        timeline.run()


def test_schedule_refuses_ambiguous_or_duplicate_entries(open_journal: OpenJournal) -> None:
    clock = VirtualClock()
    timeline = Timeline(clock, open_journal(clock))
    timeline.schedule(lambda: None, at=1, id="a")
    with pytest.raises(ValueError, match="not both"):
        timeline.schedule(lambda: None, at=1, after="a")
    with pytest.raises(ValueError, match="ids are unique"):
        timeline.schedule(lambda: None, at=2, id="a")
    with pytest.raises(ValueError, match="positive period"):
        timeline.schedule_every(lambda: None, 0)


def test_the_condition_registry_covers_exactly_the_scenario_format() -> None:
    assert set(conditions.REGISTRY) == set(CONDITIONS)
    assert all(c.description.endswith(".") for c in conditions.REGISTRY.values())


@pytest.mark.parametrize(
    ("state", "name", "expected"),
    [
        (FakeState(support_plan="enterprise"), "enterprise-support", True),
        (FakeState(support_plan="business"), "enterprise-support", False),
        (FakeState(support_plan="business"), "business-support-or-higher", True),
        (FakeState(support_plan="developer"), "business-support-or-higher", False),
        (FakeState(key="Inactive"), "leaked-key-disabled", True),
        (FakeState(key="Deleted"), "leaked-key-disabled", True),
        (FakeState(key="Active"), "leaked-key-disabled", False),
        (FakeState(key="Inactive"), "leaked-key-deleted", False),
        (FakeState(deleted=True), "repository-private", True),
        (FakeState(private=True), "repository-deleted", False),
        (FakeState(quarantined=True), "quarantine-attached", True),
        (FakeState(resolved=True), "case-resolved", True),
    ],
)
def test_conditions_read_the_run_state(state: FakeState, name: str, expected: bool) -> None:
    assert conditions.holds(name, state) is expected


def test_skip_reason_and_unknown_condition_names() -> None:
    state = FakeState(replied=True)
    assert skip_reason(["enterprise-support"], ["case-resolved"], state) is None
    assert skip_reason([], ["case-replied"], state) == "unless: case-replied is true"
    with pytest.raises(ValueError, match="did you mean 'case-replied'"):
        conditions.condition("case-repled")
    with pytest.raises(ValueError, match="registered twice"):
        conditions.register("case-replied", "again.")(lambda state: True)


def test_pending_lists_soonest_first(open_journal: OpenJournal) -> None:
    clock = VirtualClock()
    timeline = Timeline(clock, open_journal(clock))
    timeline.schedule(lambda: None, at=300, id="b", kind="inject", fields={"type": "email"})
    timeline.schedule(lambda: None, at=100, id="a", kind="inject")
    timeline.schedule(lambda: None, after="a", delay=5, id="c", kind="inject")
    pending: list[tuple[Any, ...]] = [(p.id, p.due, p.after) for p in timeline.pending()]
    # one waiting on `after` comes where the entry it waits for is due, plus its delay
    assert pending == [("a", 100.0, None), ("c", None, "a"), ("b", 300.0, None)]
    assert timeline.pending()[2].fields == {"type": "email"}
    timeline.schedule(lambda: None, after="missing", id="d", kind="inject")
    assert timeline.pending()[-1].id == "d"  # waiting on nothing known: last
