"""Reports of game day runs: one run (HTML, Markdown, score.json, JUnit XML) or many (the
training report), written from the scenario, the journal and the score alone."""

from __future__ import annotations

from gameday.report.content import RunReport, build_run_report
from gameday.report.training import RunSummary, TrainingReport, load_run, summarise_run
from gameday.report.writer import (
    RUN_WRITERS,
    TRAINING_WRITERS,
    Writer,
    write_reports,
    write_training_report,
)

__all__ = [
    "RUN_WRITERS",
    "TRAINING_WRITERS",
    "RunReport",
    "RunSummary",
    "TrainingReport",
    "Writer",
    "build_run_report",
    "load_run",
    "summarise_run",
    "write_reports",
    "write_training_report",
]
