"""The Markdown reports, for a wiki page or a ticket: the same content as the HTML, with
the timeline as a table."""

from __future__ import annotations

from gameday.report.content import RunReport
from gameday.report.rendering import render
from gameday.report.timeline import build_timeline, notable_marks
from gameday.report.training import TrainingReport


class RunMarkdown:
    name = "markdown"
    filename = "report.md"

    def render(self, report: RunReport) -> str:
        return render("run.md.j2", report=report, timeline=notable_marks(build_timeline(report)))


class TrainingMarkdown:
    name = "markdown"
    filename = "training.md"

    def render(self, report: TrainingReport) -> str:
        return render("training.md.j2", report=report)
