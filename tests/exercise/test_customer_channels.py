"""Responders receive what a customer receives: never the quarantine, never the console cues."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from gameday.exercise.clock import VirtualClock
from gameday.exercise.injects.base import Delivered
from gameday.exercise.responders import InjectBus, NotACustomerChannel, RunbookContext
from gameday.journal import FixedClock, Journal
from gameday.paths import SCENARIOS
from gameday.scenario import load_scenario


def notice(kind: str, inject_id: str, t: float, **data: str) -> Delivered:
    return Delivered(kind=kind, id=inject_id, t=t, subject=kind, body="", data=data)


def test_the_inbox_holds_only_customer_notices() -> None:
    clock = VirtualClock()
    bus = InjectBus(clock)
    for kind, inject_id, t in (
        ("quarantine", "quarantine-id", 60.0),
        ("support-case", "support-case", 110.0),
        ("console", "hint", 120.0),
        ("email", "case-email", 116.0),
    ):
        bus.publish(notice(kind, inject_id, t))
    inbox = bus.inbox()
    assert [n.id for n in inbox.delivered()] == ["support-case", "case-email"]
    taken: list[str] = []

    def responder() -> None:
        taken.append(inbox.wait_for(("quarantine-id", "email", "support-case")).id)
        try:
            taken.append(inbox.wait_for("quarantine-id", timeout=60).id)
        except TimeoutError as error:
            taken.append(str(error))

    thread = clock.spawn("responder", responder)
    clock.start()
    thread.join(5)
    clock.close()
    # The quarantine's own id finds nothing: it never reaches an inbox.
    assert taken == ["support-case", "no quarantine-id inject arrived within 1m"]
    assert len(bus.delivered()) == 4  # the run itself still has every delivery


@pytest.mark.parametrize("kind", ["quarantine", "console", ("email", "quarantine")])
def test_asking_for_a_hidden_channel_is_a_clear_error(kind: str | tuple[str, ...]) -> None:
    inbox = InjectBus(VirtualClock()).inbox()
    with pytest.raises(NotACustomerChannel, match="wait for one of email, health-event"):
        inbox.wait_for(kind, timeout=1)


def test_an_inject_id_is_no_way_round(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "exported-keys-in-script.yaml")
    quarantine = next(i.id for i in scenario.timeline if i.type == "quarantine")
    clock = VirtualClock()
    with Journal(tmp_path / "journal.jsonl", FixedClock(), durable=False) as journal:
        ctx = RunbookContext(
            aws=boto3.Session(),
            clock=clock,
            journal=journal,
            inbox=InjectBus(clock).inbox(),
            repo=tmp_path,
            code_host=None,  # type: ignore[arg-type]
            scenario=scenario,
        )
        with pytest.raises(NotACustomerChannel, match="does not announce its quarantine"):
            ctx.wait_for(quarantine, timeout=1)


def test_a_webhook_reaches_the_inbox_only_if_it_was_posted() -> None:
    bus = InjectBus(VirtualClock())
    bus.publish(notice("webhook", "no-url", 60.0))  # skipped: no URL to post to
    bus.publish(notice("webhook", "posted", 70.0, url="https://hooks.example"))
    assert [n.id for n in bus.inbox().delivered()] == ["posted"]
