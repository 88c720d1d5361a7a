"""The framework's record of a frozen heap agrees with the collector's own count."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gameday import heap


@pytest.fixture
def heap_as_it_was() -> Iterator[None]:
    was = heap.frozen()
    yield
    (heap.freeze if was else heap.unfreeze)()


@pytest.mark.usefixtures("heap_as_it_was")
def test_frozen_says_what_the_collector_counts() -> None:
    heap.unfreeze()
    assert not heap.frozen() and gc.get_freeze_count() == 0
    kept = [object() for _ in range(10)]
    heap.freeze()
    assert heap.frozen() and gc.get_freeze_count() > 0
    heap.unfreeze()
    assert not heap.frozen() and gc.get_freeze_count() == 0
    assert len(kept) == 10
