"""The run directory: where one exercise keeps everything (DESIGN.md, "Run directory").

    runs/<scenario>-<team>-<UTC timestamp>/
        scenario.yaml  journal.jsonl  repo/  remote.git/  mail/  calls/  aws/
        HANDOUT.md  score.json  report.html  report.md  junit.xml
        run.json       the live run's process, state and clock, for other terminals
        control/       commands from other terminals, waiting for the run to take them
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.errors import RunDirError

DEFAULT_ROOT = Path("runs")
_SAFE = re.compile(r"[^a-z0-9-]+")
# run.json is read, changed and replaced whole: two threads of the run (the main one, the
# control watcher) must not interleave, or one's change is lost
_STATUS_LOCK = threading.Lock()


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def scenario(self) -> Path:
        return self.path / "scenario.yaml"

    @property
    def journal(self) -> Path:
        return self.path / "journal.jsonl"

    @property
    def repo(self) -> Path:
        return self.path / "repo"

    @property
    def remote(self) -> Path:
        return self.path / "remote.git"

    @property
    def mail(self) -> Path:
        return self.path / "mail"

    @property
    def calls(self) -> Path:
        return self.path / "calls"

    @property
    def handout(self) -> Path:
        return self.path / "HANDOUT.md"

    @property
    def status_file(self) -> Path:
        return self.path / "run.json"

    @property
    def control(self) -> Path:
        return self.path / "control"

    def status(self) -> dict[str, Any]:
        """What the run says of itself; `alive` tells whether its process still runs."""
        try:
            status: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            status = {"state": "unknown"}
        pid = status.get("pid")
        status["alive"] = (
            isinstance(pid, int) and status.get("state") not in ("ended",) and _alive(pid)
        )
        return status

    def write_status(self, **fields: Any) -> None:
        """Replace run.json atomically, so a reader never sees half of it."""
        with _STATUS_LOCK:
            current = {}
            if self.status_file.exists():
                try:
                    current = json.loads(self.status_file.read_text(encoding="utf-8"))
                except ValueError:
                    current = {}
            current.update(fields)
            temporary = self.status_file.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(current, indent=2, default=str), encoding="utf-8")
            temporary.replace(self.status_file)

    def write_clock(self, t: float, *, speed: float, paused: bool) -> None:
        """Publish a wall-clock run's clock, so other terminals can tell its run time.

        At run time `t` now, going on at `speed` run seconds per real second unless
        `paused`; the run writes it at its start and at each pause and resume.
        """
        self.write_status(
            state="paused" if paused else "running",
            run_clock={"t": t, "at": time.time(), "speed": speed, "paused": paused},
        )

    def run_time(self, status: dict[str, Any] | None = None) -> float | None:
        """Where a live wall-clock run's clock stands now, as run.json tells.

        None when it does not say: the run has ended, or its clock is virtual (virtual time
        jumps; the journal tells where it is).
        """
        status = self.status() if status is None else status
        clock = status.get("run_clock")
        if not status.get("alive") or not isinstance(clock, dict):
            return None
        try:
            t, at, speed = float(clock["t"]), float(clock["at"]), float(clock["speed"])
        except (KeyError, TypeError, ValueError):
            return None
        return t if clock.get("paused") else t + max(0.0, time.time() - at) * speed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_run_dir(scenario_id: str, team: str, root: Path = DEFAULT_ROOT) -> RunDir:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{scenario_id}-{_SAFE.sub('-', team.lower()).strip('-') or 'team'}-{stamp}"
    path = root / name
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{name}-{suffix}"
    path.mkdir(parents=True)
    return RunDir(path)


def resolve_run_dir(given: Path | None, root: Path = DEFAULT_ROOT) -> RunDir:
    """The run directory named, or the newest under `root` when none is."""
    if given is not None:
        if not (given / "scenario.yaml").exists():
            raise RunDirError(f"{given}: not a run directory — give a folder under {root}/")
        return RunDir(given)
    runs = [p for p in root.glob("*/") if (p / "scenario.yaml").exists()] if root.is_dir() else []
    if not runs:
        raise RunDirError(
            f"no run under {root}/ — start one with `gameday run SCENARIO`, or name the run"
        )
    # the newest started: scenario.yaml is copied once, when the run directory is made
    return RunDir(max(runs, key=lambda p: (p / "scenario.yaml").stat().st_mtime))
