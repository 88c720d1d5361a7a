"""A process prepared to be copied (`warm_copies.prepare`): what its forks inherit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gameday.paths import SCENARIOS
from gameday.scenario import load_scenario

_PREPARED = """
import gc, json, sys, threading
from pathlib import Path
from gameday.exercise import warm_copies
from gameday.world import account

warm_copies.prepare(Path(sys.argv[1]))
kept = account._kept
print(json.dumps({
    "threads": [t.name for t in threading.enumerate()],
    "parked": kept is not None and kept.parked,
    "account": kept.account_id if kept is not None else None,
    "frozen": gc.get_freeze_count(),
}))
"""


def test_a_prepared_process_has_one_thread_and_the_scenarios_mock_parked(tmp_path: Path) -> None:
    # what `run-many`'s pool and the warm-start server fork: a fork of a process with other
    # threads would inherit locks they held; the parked mock is the first run's account
    scenario = SCENARIOS / "false-alarm-inactive-key.yaml"
    done = subprocess.run(
        [sys.executable, "-c", _PREPARED, str(scenario)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["threads"] == ["MainThread"]
    assert state["parked"] is True
    assert state["account"] == load_scenario(scenario).account.id
    assert state["frozen"] > 0
