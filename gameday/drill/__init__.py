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
the stage has nothing to scan. The scanner's own output is kept as evidence, one file a cell,
and each cell says what the output reports of each half of the key (`Reported`): the key ID,
the secret, in which form, and by which of the scanner's rules where the scanner names them.

Scanners are profiles (`gameday.drill.scanners`): git-secrets, detect-secrets, trufflehog
and gitleaks built in, each used when installed; `--scanner 'CMD …'` adds a command of the
team's own, run with the folder to scan appended (or in place of `{path}`), whose non-zero
exit means it found something.
"""

from __future__ import annotations

import base64
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
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
Form = Literal["plain", "base64"]


NOTHING_TO_SCAN = "nothing to scan at this stage (no release)"


@dataclass(frozen=True)
class Reported:
    """What a scanner's output says of one half of the key (the key ID, or the secret).

    `form` is how the value was reported: `plain` (as written), `base64` (only its base64, as
    a Kubernetes Secret holds it) or None (not at all); `by` names the scanner's rules or
    plugins that reported it, where its output names them; `attached` holds characters the
    scanner took for part of the value (detect-secrets keeps JSON's `\\` of a notebook's
    escaped quote).
    """

    form: Form | None = None
    by: tuple[str, ...] = ()
    attached: str = ""

    @property
    def reported(self) -> bool:
        return self.form is not None


NOT_REPORTED = Reported()


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
    key: Reported = NOT_REPORTED
    secret: Reported = NOT_REPORTED


@dataclass(frozen=True)
class Findings:
    """What a scanner said about a folder: whether it flagged anything, and its output.

    `rules` are the patterns the scanner ran with, where it tells them (git-secrets' are read
    back from its configuration), so a printed line can be traced to the rule that matched.
    """

    flagged: bool
    output: str
    rules: tuple[str, ...] = ()


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

    def reported(self, found: Findings, value: str) -> Reported:
        """What `found` says of `value`: by default, whether its output names it (plain
        first, then base64); profiles whose output says more override this."""
        for form, written in forms(value):
            if written in found.output:
                return Reported(form)
        return NOT_REPORTED


def leak_label(scenario: Scenario) -> str:
    trick = scenario.leak.trick
    vector: str = scenario.leak.vector
    return vector + (f" + {trick.type}" if trick is not None else "")


def forms(value: str) -> tuple[tuple[Form, str], tuple[Form, str]]:
    """A value as a file may hold it: as written, and base64-encoded."""
    return ("plain", value), ("base64", base64.b64encode(value.encode()).decode())


def reported_in_lines(lines: Iterable[str], value: str, rules: Sequence[str]) -> Reported:
    """`value` as reported by a scanner that prints the lines it matched (git-secrets): a line
    counts for `value` only where one of the scanner's own rules matches over it there, so a
    line flagged for the key ID does not count for the secret printed beside it."""
    compiled = [re.compile(rule) for rule in rules]
    for form, written in forms(value):
        for line in lines:
            start = line.find(written)
            while start >= 0:
                end = start + len(written)
                if any(
                    m.start() <= start and end <= m.end() for rule in compiled
                    for m in rule.finditer(line)
                ):  # fmt: skip
                    return Reported(form)
                start = line.find(written, start + 1)
    return NOT_REPORTED


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
    t0: datetime | None = None,
    stages: Sequence[Stage] = STAGES,
) -> list[Cell]:
    """Every scenario's leak × scanner × stage, the scanners' output kept under `out`.

    The leak is built as a run builds it for the same `seed` (and push time `t0`)."""
    cells: list[Cell] = []
    out.mkdir(parents=True, exist_ok=True)
    for scenario in scenarios:
        with tempfile.TemporaryDirectory(prefix="gameday-drill-") as scratch:
            root = Path(scratch)
            built = build_repository(scenario, root / "build", seed=seed, t0=t0)
            folders = _stage_folders(built, root)
            key_id = built.credential.access_key_id
            secret = built.credential.secret_access_key
            for scanner in scanners:
                why_not = scanner.available()
                for stage in stages:
                    folder = folders[stage]
                    label = leak_label(scenario)
                    if why_not is not None or folder is None:
                        note = why_not or NOTHING_TO_SCAN
                        cells.append(Cell(scenario.id, label, scanner.name, stage, "skipped", note))
                        continue
                    work = root / "work" / scanner.name / stage
                    work.mkdir(parents=True)
                    found = scanner.scan(folder, work, history=stage == "history")
                    key = scanner.reported(found, key_id) if found.flagged else NOT_REPORTED
                    half = scanner.reported(found, secret) if found.flagged else NOT_REPORTED
                    named = key.reported or half.reported
                    caught = found.flagged and (named or scanner.trusts_exit_code)
                    evidence = out / scenario.id / scanner.name / f"{stage}.txt"
                    evidence.parent.mkdir(parents=True, exist_ok=True)
                    evidence.write_text(found.output, encoding="utf-8")
                    cells.append(
                        Cell(scenario.id, label, scanner.name, stage,
                             "caught" if caught else "missed", evidence=evidence,
                             key=key, secret=half)
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
