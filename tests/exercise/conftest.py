"""Real parts for the exercise-engine tests: a moto server on loopback, a journal per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from gameday.exercise.clock import Clock
from gameday.journal import Event, Journal, read_journal, without_wall_clock


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the session; tests use unique resource names."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def open_journal(tmp_path: Path) -> Iterator[Callable[[Clock], Journal]]:
    """A journal on the given clock in tmp_path (not fsync'd: tests need no durability)."""
    journals: list[Journal] = []

    def make(clock: Clock, name: str = "journal.jsonl") -> Journal:
        journal = Journal(tmp_path / name, clock, durable=False)
        journals.append(journal)
        return journal

    yield make
    for journal in journals:
        journal.close()


def _events(journal: Journal, kind: str | None = None) -> list[Event]:
    return [
        without_wall_clock(event)
        for event in read_journal(journal.path)
        if kind is None or event["kind"] == kind
    ]


@pytest.fixture
def events() -> Callable[..., list[Event]]:
    """`events(journal, kind=None)`: the journal's events, without the wall-clock field."""
    return _events
