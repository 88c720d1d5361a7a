"""The detection drill in a run's report: which scanner would have stopped the key, and where.

A scenario with a `drill:` section has its leak drilled when the run ends
(`gameday.drill.phase`); the outcome is kept in RUN_DIR/drill/drill.json beside the
scanners' own output. This module owns that file's shape and says its content in words for
the HTML, Markdown and JSON reports: the earliest stage at which each scanner would have
stopped the key, whether any would have stopped it before it went public, the scanners that
could not run, and the matrix scanner × stage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DRILL_FOLDER = "drill"
DRILL_FILE = "drill.json"
STAGES = ("pre-commit", "pre-receive", "history", "release")
# Before the key is public: a hook refuses the commit, or the code host refuses the push.
BEFORE_PUBLIC = ("pre-commit", "pre-receive")
STOPPED_AT = {
    "pre-commit": "would have refused the commit (pre-commit)",
    "pre-receive": "would have refused the push (pre-receive)",
    "history": "would have found it in a scan of the public repository's history — "
    "after it went public (history)",
    "release": "would have found it in the release's download — after it went public (release)",
}
CellOutcome = Literal["caught", "missed", "skipped", "nothing"]
MARKS: Mapping[str, str] = {"caught": "caught", "missed": "missed", "skipped": "skipped"}


@dataclass(frozen=True)
class DrillCell:
    """One scanner at one stage: `caught`, `missed`, `skipped` (the scanner could not run:
    `note` says why) or `nothing` (nothing to scan at this stage, such as no release)."""

    scanner: str
    stage: str
    outcome: CellOutcome
    note: str = ""
    evidence: str = ""  # the scanner's output, relative to the run directory

    @property
    def mark(self) -> str:
        return MARKS.get(self.outcome, "–")

    def to_json(self) -> dict[str, Any]:
        return {
            "scanner": self.scanner,
            "stage": self.stage,
            "outcome": self.outcome,
            "note": self.note,
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DrillCell:
        return cls(
            scanner=str(data["scanner"]),
            stage=str(data["stage"]),
            outcome=data["outcome"],
            note=str(data.get("note", "")),
            evidence=str(data.get("evidence", "")),
        )


@dataclass(frozen=True)
class ScannerRow:
    """A scanner's row of the matrix, and what it says in words."""

    scanner: str
    cells: tuple[DrillCell, ...]  # one per stage, in STAGES order

    @property
    def skipped(self) -> str | None:
        """Why the scanner could not run, or None when it ran."""
        notes = [c.note for c in self.cells if c.outcome == "skipped"]
        ran = any(c.outcome in ("caught", "missed") for c in self.cells)
        return None if ran or not notes else notes[0]

    @property
    def stopped_at(self) -> str | None:
        """The earliest stage at which the scanner caught the key, or None."""
        return next((c.stage for c in self.cells if c.outcome == "caught"), None)

    @property
    def verdict(self) -> str:
        if self.skipped is not None:
            return f"{self.scanner} was not run: {self.skipped}"
        if self.stopped_at is None:
            return f"{self.scanner} would have missed it at every stage"
        return f"{self.scanner} {STOPPED_AT[self.stopped_at]}"


@dataclass(frozen=True)
class DrillReport:
    """The drill of one run's leak: `leak` names the vector (and history trick, if any)."""

    leak: str
    cells: tuple[DrillCell, ...]

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES

    @property
    def rows(self) -> tuple[ScannerRow, ...]:
        names = list(dict.fromkeys(c.scanner for c in self.cells))
        by_cell = {(c.scanner, c.stage): c for c in self.cells}
        return tuple(
            ScannerRow(
                name,
                tuple(by_cell.get((name, s), DrillCell(name, s, "nothing")) for s in STAGES),
            )
            for name in names
        )

    @property
    def stopped_before_public(self) -> tuple[ScannerRow, ...]:
        return tuple(r for r in self.rows if r.stopped_at in BEFORE_PUBLIC)

    @property
    def summary(self) -> str:
        ran = [r for r in self.rows if r.skipped is None]
        if not ran:
            return "No scanner could run, so the drill says nothing of this leak."
        early = self.stopped_before_public
        if not early:
            return "No scanner would have caught it before it went public."
        names = [r.scanner for r in early]
        joined = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        return f"It would have been stopped before it went public, by {joined}."

    @property
    def verdicts(self) -> tuple[str, ...]:
        """One sentence per scanner, skipped scanners with their note."""
        return tuple(r.verdict + "." for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        """What the report's JSON (score.json's `drill`) says of the drill."""
        return {
            "leak": self.leak,
            "summary": self.summary,
            "stopped_before_public": bool(self.stopped_before_public),
            "scanners": [
                {
                    "name": r.scanner,
                    "stopped_at": r.stopped_at,
                    "skipped": r.skipped,
                    "verdict": r.verdict,
                    "stages": {c.stage: c.outcome for c in r.cells},
                    "evidence": {c.stage: c.evidence for c in r.cells if c.evidence},
                }
                for r in self.rows
            ],
        }

    def file_json(self) -> dict[str, Any]:
        """RUN_DIR/drill/drill.json: the cells as the drill found them."""
        return {"leak": self.leak, "cells": [c.to_json() for c in self.cells]}

    @classmethod
    def from_file_json(cls, data: Mapping[str, Any]) -> DrillReport:
        return cls(
            leak=str(data["leak"]),
            cells=tuple(DrillCell.from_json(c) for c in data.get("cells", [])),
        )


def drill_file(run_dir: Path) -> Path:
    return run_dir / DRILL_FOLDER / DRILL_FILE


def load_drill(run_dir: Path) -> DrillReport | None:
    """The run's drill, or None when its scenario has no drill phase."""
    path = drill_file(run_dir)
    if not path.is_file():
        return None
    return DrillReport.from_file_json(json.loads(path.read_text(encoding="utf-8")))
