"""Which parametrised cases are sweeps: run by `make test-sweeps` (and CI), not `make test`.

A sweep repeats a property over every scenario of the library, every kill point or every
team, where one or two representative cases already exercise the code: the quick suite
keeps those cases, and the sweep keeps the guarantee over the whole library. CI runs both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

# The scenarios the quick suite plays end to end: the seed scenario (what `make demo` and a
# first game day play) and the one whose attacker leaves the most behind.
QUICK_SCENARIOS = frozenset({"exported-keys-in-script", "persistence-four-footholds"})


def library_params(
    scenario_ids: Iterable[str], quick: Iterable[str] = QUICK_SCENARIOS
) -> list[Any]:
    """`scenario_ids` as pytest params, all but the `quick` ones marked as a sweep."""
    keep = frozenset(quick)
    return [
        pytest.param(name, id=name, marks=() if name in keep else pytest.mark.sweep)
        for name in scenario_ids
    ]
