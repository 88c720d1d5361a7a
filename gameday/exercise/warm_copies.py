"""A process made ready to be copied: what a run pays before its clock starts, paid once.

A warm-start server (`gameday.warm_start`) and `gameday run-many`'s pool
(`gameday.exercise.pool`) fork their workers from a process prepared here: the imports, a
runbook process's preparations, a scenario validated as a run validates it (its inject
templates compiled in the renderer's shared environment, AWS's managed policies listed), and
a mock account started, warmed and parked (`MockAccount.park`). A worker's first run serves
the parked account again on a port of its own (`acquire_mock`), and the worker forks its
runbooks' zygote from itself while it still has one thread (`fork_zygote`): nothing of it is
imported or warmed again per worker.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from pathlib import Path

from gameday import heap
from gameday.errors import UserError

# An account for the parked mock when no scenario can be read: each run resets it to its own.
_ANY_ACCOUNT = "111122223333"


def prepare(scenario_path: Path | None) -> None:
    """Ready this process to be forked into workers that play runs (see the module).

    `scenario_path` is validated and its account and regions are the parked mock's; when it
    is None or cannot be read, the library's seed scenario is, or failing that a bare
    account (a run reports its scenario's problems itself).
    """
    from gameday.exercise import runbook_zygote
    from gameday.exercise.clock import VirtualClock
    from gameday.exercise.preflight import checks_key, scenario_checks
    from gameday.exercise.run import _regions
    from gameday.paths import SCENARIOS
    from gameday.scenario import load_scenario
    from gameday.world.account import acquire_mock, park_mock
    from gameday.world.repo import DEFAULT_T0

    # what a runbook's process imports and the clients it makes: in every worker's zygote
    for preparation in runbook_zygote._preparations():
        preparation()
    seed = SCENARIOS / "exported-keys-in-script.yaml"
    candidates = [path for path in (scenario_path, seed) if path is not None and path.is_file()]
    account = None
    for path in candidates:
        try:
            scenario = load_scenario(
                path, checks=scenario_checks(None, path), checks_key=checks_key(None, path)
            )
        except UserError:
            continue
        account = acquire_mock(
            scenario.account.id,
            VirtualClock(DEFAULT_T0),
            regions=_regions(scenario),
            support_plan=scenario.account.support_plan,
        )
        break
    if account is None:
        account = acquire_mock(_ANY_ACCOUNT, VirtualClock(DEFAULT_T0))
    park_mock(account)
    gc.collect()
    heap.freeze()  # the workers leave these objects alone (and their pages shared)


def fork_zygote(env: Mapping[str, str]) -> None:
    """In a worker forked from a prepared process, while it has one thread: its runbooks'
    zygote is a fork of it, with everything already imported (`ForkedZygote`)."""
    from gameday.exercise import runbook_zygote

    runbook_zygote.zygotes.fork_now(env)
