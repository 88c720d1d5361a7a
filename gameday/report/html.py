"""The HTML reports: one self-contained page each (inline CSS and SVG, no script, no
network), readable on a projector and printable."""

from __future__ import annotations

from gameday.report.charts import step_times_svg, trend_svg
from gameday.report.content import RunReport
from gameday.report.rendering import render
from gameday.report.timeline import build_timeline, render_svg
from gameday.report.training import TrainingReport


class RunHtml:
    name = "html"
    filename = "report.html"

    def render(self, report: RunReport) -> str:
        return render("run.html.j2", report=report, timeline=render_svg(build_timeline(report)))


class TrainingHtml:
    name = "html"
    filename = "training.html"

    def render(self, report: TrainingReport) -> str:
        step_charts = [
            (scenario, step_times_svg(report.steps_of(scenario.id), report.colours))
            for scenario in report.scenarios
        ]
        return render(
            "training.html.j2", report=report, step_charts=step_charts, trend=trend_svg(report)
        )
