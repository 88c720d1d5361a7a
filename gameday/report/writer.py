"""Writing reports: the `Writer` protocol, the registries of writers, and the two entry
points — `write_reports` for one run and `write_training_report` for many.

A writer only lays out a report it is given (`render` → text); which files exist is the
registry's business, so adding a format is one class and one `register` line, and the
built-in writers are registered the same way an extra one would be.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol, TypeVar

from gameday.journal import Event
from gameday.report.content import RunReport, build_run_report
from gameday.report.drill import load_drill
from gameday.report.html import RunHtml, TrainingHtml
from gameday.report.json import RunJson, TrainingJson
from gameday.report.junit import RunJunit
from gameday.report.markdown import RunMarkdown, TrainingMarkdown
from gameday.report.registry import Registry
from gameday.report.training import RunSummary, TrainingReport, build_training_report
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

R_contra = TypeVar("R_contra", contravariant=True)


class Writer(Protocol[R_contra]):
    """Lays out one report as the text of one file."""

    @property
    def name(self) -> str:
        """The format's name (`html`, `markdown`, `json`, `junit`)."""
        ...

    @property
    def filename(self) -> str:
        """The file it writes, inside the run (or training report) directory."""
        ...

    def render(self, report: R_contra) -> str: ...


RUN_WRITERS: Registry[Writer[RunReport]] = Registry("report writer", lambda w: w.name)
TRAINING_WRITERS: Registry[Writer[TrainingReport]] = Registry(
    "training report writer", lambda w: w.name
)

for _run_writer in (RunHtml(), RunMarkdown(), RunJson(), RunJunit()):
    RUN_WRITERS.register(_run_writer)
for _training_writer in (TrainingHtml(), TrainingMarkdown(), TrainingJson()):
    TRAINING_WRITERS.register(_training_writer)


def write_reports(
    run_dir: Path, scenario: Scenario, events: Sequence[Event], score: Score
) -> list[Path]:
    """Write every run report (report.html, report.md, score.json, junit.xml) into RUN_DIR;
    with the drill the run kept in RUN_DIR/drill/, when its scenario has a drill phase."""
    report = replace(build_run_report(scenario, events, score), drill=load_drill(run_dir))
    return [_write(run_dir / w.filename, w.render(report)) for w in RUN_WRITERS]


def write_training_report(runs: Sequence[RunSummary], out_dir: Path) -> list[Path]:
    """Write the training report over many runs (training.html, .md, .json) into OUT_DIR."""
    report = build_training_report(runs)
    return [_write(out_dir / w.filename, w.render(report)) for w in TRAINING_WRITERS]


def _write(path: Path, text: str) -> Path:
    # Write beside and rename, so a reader (a browser on the projector) never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path
