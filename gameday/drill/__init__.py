"""The detection drill: would our scanners and hooks have caught this leak, and where?

`drill(scenarios, scanners)` builds each scenario's leak (the repository, its code host's
releases and forks) in a scratch folder and runs every scanner the way a team runs it, at four
stages:

- `pre-commit`: the files of the leaking commit, as a hook sees them before the commit;
- `pre-receive`: what the push sends — each pushed commit's patch and message — as a hook on
  the server sees it;
- `history`: a fresh clone of the public repository, every ref's history, as a scheduled scan
  of the code host sees it (the commits a force-push hid are not in a clone);
- `release`: the release assets, archives opened up, as a scan of downloads sees them.

A cell is `caught` when the scanner reports the leaked key ID or its secret (as written: plain
or base64), `missed` when it reports neither, `skipped` when the scanner is not installed or
the stage has nothing to scan. The scanner's own output is kept as evidence, one file a cell.

Scanners are profiles (`gameday.drill.scanners`): git-secrets, detect-secrets, trufflehog
and gitleaks built in, each used when installed; `--scanner 'CMD …'` adds a command of the
team's own, run with the folder to scan appended (or in place of `{path}`), whose non-zero
exit means it found something.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gameday.scenario.model import Scenario
from gameday.world.artifacts import unpack_into
from gameday.world.codehost import HostFiles
from gameday.world.git import git_environment, run_git
from gameday.world.repo import BuiltRepository, build_repository

Stage = Literal["pre-commit", "pre-receive", "history", "release"]
STAGES: tuple[Stage, ...] = ("pre-commit", "pre-receive", "history", "release")
Outcome = Literal["caught", "missed", "skipped"]


NOTHING_TO_SCAN = "nothing to scan at this stage (no release)"


@dataclass(frozen=True)
class Cell:
    """One scanner at one stage of one scenario's leak."""

    scenario: str
    leak: str  # the vector, and the history trick if any: `dotenv + force-push`
    scanner: str
    stage: Stage
    outcome: Outcome
    note: str = ""
    evidence: Path | None = None


@dataclass(frozen=True)
class Findings:
    """What a scanner said about a folder: whether it flagged anything, and its output."""

    flagged: bool
    output: str


class Scanner(ABC):
    """A scanner profile: a name, whether it can run here, and how it scans a folder."""

    name: str = ""
    # A command of the team's own says "found" by its exit code; built-in profiles must also
    # name the leaked key or secret in what they report, so an unrelated finding is no catch.
    trusts_exit_code: bool = False

    def available(self) -> str | None:
        """None when the scanner can run; otherwise why not (shown in the matrix)."""
        return None

    @abstractmethod
    def scan(self, folder: Path, work: Path, *, history: bool = False) -> Findings:
        """Scan `folder`; with `history`, it is a clone whose every commit counts."""


def leak_label(scenario: Scenario) -> str:
    trick = scenario.leak.trick
    vector: str = scenario.leak.vector
    return vector + (f" + {trick.type}" if trick is not None else "")


def _forms(value: str) -> tuple[str, ...]:
    return (value, base64.b64encode(value.encode()).decode())


def _stage_folders(built: BuiltRepository, root: Path) -> dict[Stage, Path | None]:
    """The folder each stage scans, as the team's tooling would see it."""
    folders: dict[Stage, Path | None] = {}
    # pre-commit: the leaking commit's files, checked out as they were staged
    staged = root / "pre-commit"
    staged.mkdir()
    changed = (
        run_git(
            ["diff-tree", "--root", "--no-commit-id", "--name-only", "-r", "-z", built.leak_commit],
            built.remote,
        )
        .stdout.decode()
        .split("\0")
    )
    for path in filter(None, changed):
        shown = run_git(
            ["cat-file", "blob", f"{built.leak_commit}:{path}"], built.remote, check=False
        )
        if shown.returncode == 0:
            target = staged / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(shown.stdout)
    folders["pre-commit"] = staged
    # pre-receive: the leaking push — its commit's patch and message — as the hook reads it
    pushed = root / "pre-receive"
    pushed.mkdir()
    patch = run_git(
        ["log", "-p", "-1", "--format=commit %H%n%n%B", built.leak_commit], built.remote
    ).stdout
    (pushed / "push.patch").write_bytes(patch)
    folders["pre-receive"] = pushed
    # history: a fresh clone of what the code host serves
    clone = root / "history"
    run_git(["clone", "-q", "--mirror", str(built.remote), str(clone / ".git")], root)
    run_git(["config", "--bool", "core.bare", "false"], clone)
    run_git(["checkout", "-q", "-f", built.branch], clone, check=False)
    folders["history"] = clone
    # release: the assets, archives opened up
    files = HostFiles(built.remote)
    tags = files.release_tags()
    if tags:
        assets = root / "release"
        assets.mkdir()
        for tag in tags:
            for name, asset in files.release_assets(tag).items():
                unpack_into(asset.read_bytes(), assets / tag, name)
        folders["release"] = assets
    else:
        folders["release"] = None
    return folders


def drill(
    scenarios: Iterable[Scenario],
    scanners: Sequence[Scanner],
    *,
    out: Path,
    seed: int = 0,
) -> list[Cell]:
    """Every scenario's leak × scanner × stage, the scanners' output kept under `out`."""
    cells: list[Cell] = []
    out.mkdir(parents=True, exist_ok=True)
    for scenario in scenarios:
        with tempfile.TemporaryDirectory(prefix="gameday-drill-") as scratch:
            root = Path(scratch)
            built = build_repository(scenario, root / "build", seed=seed)
            folders = _stage_folders(built, root)
            secrets = [*_forms(built.credential.access_key_id)]
            secrets += _forms(built.credential.secret_access_key)
            for scanner in scanners:
                why_not = scanner.available()
                for stage in STAGES:
                    folder = folders[stage]
                    label = leak_label(scenario)
                    if why_not is not None or folder is None:
                        note = why_not or NOTHING_TO_SCAN
                        cells.append(Cell(scenario.id, label, scanner.name, stage, "skipped", note))
                        continue
                    work = root / "work" / scanner.name / stage
                    work.mkdir(parents=True)
                    found = scanner.scan(folder, work, history=stage == "history")
                    named = any(value in found.output for value in secrets)
                    caught = found.flagged and (named or scanner.trusts_exit_code)
                    evidence = out / scenario.id / scanner.name / f"{stage}.txt"
                    evidence.parent.mkdir(parents=True, exist_ok=True)
                    evidence.write_text(found.output, encoding="utf-8")
                    cells.append(
                        Cell(scenario.id, label, scanner.name, stage,
                             "caught" if caught else "missed", evidence=evidence)
                    )  # fmt: skip
    return cells


def matrix_text(cells: Sequence[Cell]) -> str:
    """The matrix as a Markdown table: one row a leak and scanner, one column a stage
    (`–`: nothing to scan there, such as release assets where there is no release)."""
    rows: dict[tuple[str, str, str], dict[str, Cell]] = {}
    for cell in cells:
        rows.setdefault((cell.scenario, cell.leak, cell.scanner), {})[cell.stage] = cell
    lines = [
        "| scenario | leak | scanner | " + " | ".join(STAGES) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in STAGES) + " |",
    ]
    for (scenario, leak, scanner), by_stage in rows.items():
        marks = []
        for stage in STAGES:
            found = by_stage.get(stage)
            if found is None or found.note == NOTHING_TO_SCAN:
                marks.append("–")
            else:
                marks.append("**missed**" if found.outcome == "missed" else found.outcome)
        lines.append(f"| `{scenario}` | {leak} | {scanner} | " + " | ".join(marks) + " |")
    return "\n".join(lines) + "\n"


def notes_text(cells: Sequence[Cell]) -> str:
    """Why scanners were skipped, one line each."""
    seen = {
        (c.scanner, c.note)
        for c in cells
        if c.outcome == "skipped" and c.note and c.note != NOTHING_TO_SCAN
    }
    return "".join(f"- {name}: {note}\n" for name, note in sorted(seen))


def clean_environment(home: Path) -> dict[str, str]:
    """Scanners run with their own empty home: no user config, no machine credentials."""
    home.mkdir(parents=True, exist_ok=True)
    env = git_environment()
    env["HOME"] = str(home)
    return env


def which(name: str) -> str | None:
    return shutil.which(name)
