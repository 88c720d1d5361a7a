"""The run directory: where one exercise keeps everything (DESIGN.md, "Run directory").

    runs/<scenario>-<team>-<UTC timestamp>/
        scenario.yaml  journal.jsonl  repo/  remote.git/  mail/  calls/  aws/
        HANDOUT.md  score.json  report.html  report.md  junit.xml
        run.json       the live run's process, state and clock, for other terminals
        control/       commands from other terminals, waiting for the run to take them
        facilitator/   the hash of the facilitator's token (gameday.exercise.facilitator)
        team           (a run with a human team) the link to the team's room

A run played by a human team has two rooms. The run directory is the facilitator's: the
scenario, the journal, the vault, the token's hash, the call scripts, the scores and the
reports. The team's room, `<folder of the run>/teams/<run name>/`, holds only what a team
would have: `HANDOUT.md`, `aws/` (the profile), `mail/`, `repo/` and the "public"
`remote.git/` it was pushed to, and `CONSOLE.txt` (the web console's address, when one is
served). Links go one way only, from the facilitator's room to the team's — `team`, and
`HANDOUT.md`, `aws`, `mail`, `repo` and `remote.git`, so the paths above still lead
where they always did — and nothing in the team's room names the run directory. A run with
an automated responder has one room: everything is in the run directory, as before.

A run is private to its facilitator: `runs/` and every run directory are 0700, the files that
hold a token's hash, a key id or a command (the journal, run.json, the vault, control/,
facilitator/) are made 0600 whatever the umask, and `gameday run`/`recover` play the run
under umask 077 (`private_files`) so everything else it writes is its owner's alone too. The
team's share of a run is handed to it on purpose (the handout), never through mode bits.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.errors import RunDirError

DEFAULT_ROOT = Path("runs")
TEAMS_FOLDER = "teams"
TEAM_LINK = "team"
# What a team is handed, in its room, linked from the run directory by the same names
TEAM_SHARE = ("HANDOUT.md", "aws", "mail", "repo", "remote.git")
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
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
    def team(self) -> Path:
        """The team's room: where `team` links to, or the run directory for a run with none."""
        link = self.path / TEAM_LINK
        if link.is_symlink():
            return Path(os.readlink(link))
        return self.path

    @property
    def has_team_room(self) -> bool:
        return (self.path / TEAM_LINK).is_symlink()

    @property
    def repo(self) -> Path:
        return self.team / "repo"

    @property
    def remote(self) -> Path:
        return self.team / "remote.git"

    @property
    def mail(self) -> Path:
        return self.team / "mail"

    @property
    def aws(self) -> Path:
        return self.team / "aws"

    @property
    def console_link(self) -> Path:
        """The web console's address, in the team's room."""
        return self.team / "CONSOLE.txt"

    @property
    def calls(self) -> Path:
        return self.path / "calls"

    @property
    def handout(self) -> Path:
        return self.team / "HANDOUT.md"

    @property
    def status_file(self) -> Path:
        return self.path / "run.json"

    @property
    def control(self) -> Path:
        return self.path / "control"

    @property
    def facilitator(self) -> Path:
        """The facilitator's part of the run: the hash of the facilitator's token."""
        return self.path / "facilitator"

    def status(self) -> dict[str, Any]:
        """What the run says of itself.

        `alive` tells whether its process still runs; `crashed`, that run.json says the run
        is under way but its process is gone (killed, or the machine went down).
        """
        try:
            status: dict[str, Any] = json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            status = {"state": "unknown"}
        except PermissionError:
            raise RunDirError(not_yours(self.path)) from None
        pid = status.get("pid")
        under_way = isinstance(pid, int) and status.get("state") not in ("ended", "unknown")
        status["alive"] = under_way and isinstance(pid, int) and process_alive(pid)
        status["crashed"] = under_way and not status["alive"]
        return status

    def state_text(self, status: dict[str, Any] | None = None) -> str:
        """The run's state in words: `running (live)`, `ended (duration)`, `crashed (…)`."""
        status = self.status() if status is None else status
        if status.get("crashed"):
            return f"crashed (pid {status.get('pid')} gone) — gameday recover {self.path}"
        state = str(status.get("state"))
        if state == "ended":
            return f"ended ({status['reason']})" if status.get("reason") else "ended"
        return f"{state} ({'live' if status.get('alive') else 'not running'})"

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
            write_private(self.status_file, json.dumps(current, indent=2, default=str))

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


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, readable and writable by its owner only."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            descriptor = -1
            handle.write(text)
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    temporary.replace(path)


@contextmanager
def private_files() -> Iterator[None]:
    """Everything this process creates meanwhile is its owner's only (umask 077).

    A run writes key ids into many files (the mail, the call scripts, the repository, the
    reports): rather than chase each one, a run is played under this mask.
    """
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def make_private_dir(path: Path, *, parents: bool = False) -> Path:
    """Create `path` (or take an existing one of ours) as a folder only its owner can enter."""
    path.mkdir(mode=PRIVATE_DIR, parents=parents, exist_ok=True)
    if path.stat().st_uid == os.geteuid():
        path.chmod(PRIVATE_DIR)
    return path


def not_yours(path: Path) -> str:
    return (
        f"{path}: permission denied — a run is private to the facilitator who started it "
        "(the team's share comes with the handout)"
    )


def process_alive(pid: int) -> bool:
    """Whether a process `pid` is there (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def new_run_dir(scenario_id: str, team: str, root: Path = DEFAULT_ROOT) -> RunDir:
    """A new, private run directory under `root` (made private too if this creates it)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"{scenario_id}-{_SAFE.sub('-', team.lower()).strip('-') or 'team'}-{stamp}"
    if not root.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        make_private_dir(root)
    path = root / name
    suffix = 1
    while path.exists():
        suffix += 1
        path = root / f"{name}-{suffix}"
    path.mkdir(mode=PRIVATE_DIR)
    path.chmod(PRIVATE_DIR)
    return RunDir(path)


def open_team_room(run: RunDir) -> Path:
    """Make the team's room of `run` (see the module's docstring); its absolute path.

    The links from the run directory are made now, before what they lead to: whatever
    writes `RUN_DIR/mail/…` or reads `RUN_DIR/repo` reaches the team's room.
    """
    if run.has_team_room:
        return run.team
    rooms = run.path.absolute().parent / TEAMS_FOLDER
    if not rooms.exists():
        make_private_dir(rooms)
    room = rooms / run.path.name
    if room.exists() and any(room.iterdir()):
        raise RunDirError(f"{room}: the team's room of {run.path} is there already, not empty")
    make_private_dir(room)
    for name in TEAM_SHARE:
        (run.path / name).symlink_to(room / name)
    (run.path / TEAM_LINK).symlink_to(room, target_is_directory=True)
    return room


def claim_run_dir(path: Path) -> RunDir:
    """A run directory the user named (`--out`): created, or taken while empty, made private."""
    if path.exists() and any(path.iterdir()):
        raise RunDirError(f"{path}: not empty — give a new folder for the run")
    return RunDir(make_private_dir(path, parents=True))


def resolve_run_dir(given: Path | None, root: Path = DEFAULT_ROOT, *, live: bool = False) -> RunDir:
    """The run directory named, or, when none is, the newest under `root`.

    With `live`, the newest whose process still runs: a command for a live run never lands
    on an older one that has ended; when none is live, the error names the newest run and
    what became of it.
    """
    if given is not None:
        try:
            found = (given / "scenario.yaml").exists()
        except PermissionError:
            raise RunDirError(not_yours(given)) from None
        if not found:
            raise RunDirError(f"{given}: not a run directory — give a folder under {root}/")
        return RunDir(given)
    runs = _runs_under(root)
    if not runs:
        raise RunDirError(
            f"no run under {root}/ — start one with `gameday run SCENARIO`, or name the run"
        )
    if not live:
        return RunDir(runs[0])
    for path in runs:
        try:
            if RunDir(path).status().get("alive"):
                return RunDir(path)
        except RunDirError:
            continue  # another user's run
    newest = RunDir(runs[0])
    raise RunDirError(
        f"no live run under {root}/ — the newest, {newest.path}, is {newest.state_text()}; "
        "name a run directory to act on one that is not live"
    )


def _runs_under(root: Path) -> list[Path]:
    """The run directories under `root` this user can read, the newest started first."""
    runs: list[tuple[float, Path]] = []
    try:
        candidates = list(root.glob("*/")) if root.is_dir() else []
    except PermissionError:
        raise RunDirError(not_yours(root)) from None
    for path in candidates:
        try:
            # the newest started: scenario.yaml is copied once, when the run directory is made
            runs.append(((path / "scenario.yaml").stat().st_mtime, path))
        except (FileNotFoundError, PermissionError, NotADirectoryError):
            continue
    return [path for _, path in sorted(runs, key=lambda entry: entry[0], reverse=True)]
