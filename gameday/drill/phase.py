"""A scenario's drill phase: the run's leak drilled with the scenario's scanners.

`gameday run` calls `drill_run` once the exercise is over — the journal closed and the run
scored — when the scenario has a `drill:` section. Played then, the drill cannot touch the
run clock or the journal, costs nothing to a run without one, and its evidence (which names
the leaking file and the key) is not in the run directory while the team plays. The leak is
rebuilt in a scratch folder from the run's seed and push time, so it is the very leak the run
published, as it was at T0, whatever the team did to the repository since.

Kept in RUN_DIR/drill/: `drill.json` (read back by the reports, `gameday.report.drill`),
`matrix.md` (the matrix as `gameday drill` prints it) and each scanner's own output,
`<scenario>/<scanner>/<stage>.txt`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from gameday.drill import NOTHING_TO_SCAN, Cell, drill, leak_label, matrix_text, notes_text
from gameday.drill.scanners import named_scanners
from gameday.report.drill import DRILL_FOLDER, DrillCell, DrillReport, drill_file
from gameday.scenario.model import Scenario


def drill_run(
    run_dir: Path, scenario: Scenario, *, seed: int, t0: datetime | None = None
) -> DrillReport:
    """Drill the run's leak with `scenario.drill.scanners`; keep the outcome in RUN_DIR/drill."""
    if scenario.drill is None:
        raise ValueError(f"scenario {scenario.id!r} has no drill phase")
    out = run_dir / DRILL_FOLDER
    cells = drill([scenario], named_scanners(scenario.drill.scanners), out=out, seed=seed, t0=t0)
    report = DrillReport(leak_label(scenario), tuple(_kept(cell, run_dir) for cell in cells))
    notes = notes_text(cells)
    matrix = matrix_text(cells) + (f"\nskipped:\n{notes}" if notes else "")
    (out / "matrix.md").write_text(matrix, encoding="utf-8")
    drill_file(run_dir).write_text(
        json.dumps(report.file_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return report


def _kept(cell: Cell, run_dir: Path) -> DrillCell:
    nothing = cell.outcome == "skipped" and cell.note == NOTHING_TO_SCAN
    evidence = cell.evidence.relative_to(run_dir).as_posix() if cell.evidence else ""
    return DrillCell(
        cell.scanner, cell.stage, "nothing" if nothing else cell.outcome, cell.note, evidence
    )
