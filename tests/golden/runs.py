"""The golden runs of the seed scenario, each played once per test session.

A team's replay (`tests/golden/<team>.yaml`) is run end to end by the command line — `python
-m gameday run` played in the test process (`gameday_here`), on the process's warm mock — in
virtual time with seed 0. The score tests (test_golden.py) and the report tests
(test_golden_report.py) read the same run directories: under xdist the workers share one
folder, and a lock file per team makes the first worker that needs a team play it while the
others wait and reuse it.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gameday_cli import gameday_here

from gameday.journal import Event, read_journal
from gameday.paths import SCENARIOS

GOLDEN = Path(__file__).parent
SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
RUN_TIMEOUT_S = 180


@dataclass(frozen=True)
class GoldenRun:
    team: str
    run_dir: Path
    exit_code: int
    output: str

    def score(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "score.json").read_text())
        return data

    def journal(self) -> list[Event]:
        return read_journal(self.run_dir / "journal.jsonl")


def gameday(*args: str | Path) -> subprocess.CompletedProcess[str]:
    # no colour and a fixed width, whatever the machine running the tests has
    return gameday_here(*map(str, args), timeout=RUN_TIMEOUT_S)


def shared_golden_runs(factory: pytest.TempPathFactory) -> GoldenRuns:
    """The session's golden runs, in one folder for every xdist worker."""
    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    return GoldenRuns(root / "golden-runs")


class GoldenRuns:
    """Plays a team's replay on first request, once for every worker of the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def get(self, team: str) -> GoldenRun:
        run_dir = self.root / team
        played = self.root / f"{team}.played.json"
        with (self.root / f"{team}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not played.is_file():
                done = gameday(
                    "run", SCENARIO, "--clock", "virtual", "--seed", "0",
                    "--responder", f"replay:{GOLDEN / f'{team}.yaml'}", "--out", run_dir,
                    "--plain",
                )  # fmt: skip
                output = done.stdout + done.stderr
                assert (run_dir / "score.json").is_file(), f"{team}: no score\n{output}"
                played.write_text(json.dumps({"exit_code": done.returncode, "output": output}))
            record = json.loads(played.read_text())
        return GoldenRun(team, run_dir, int(record["exit_code"]), str(record["output"]))
