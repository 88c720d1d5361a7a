"""`gameday score` on a terminal: the score as rich tables — steps, penalties, metrics, verdict.

Only presentation: every number comes from the `Score` as `score.json` carries it.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gameday.scenario.durations import format_duration
from gameday.scoring.model import Score

STATUS_STYLES = {"success": "green", "partial": "yellow", "failed": "red", "pending": "cyan"}


def _time(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(seconds)


def _points(value: float) -> str:
    return f"{value:g}"


def steps_table(score: Score) -> Table:
    table = Table(title="Steps (times from detection)", title_justify="left", box=None)
    for column in ("step", "phase", "status", "done at", "by", "target", "deadline", "points"):
        table.add_column(column, justify="right" if column == "points" else "left")
    for step in score.steps:
        name = step.id + (" [bold]*[/bold]" if step.critical else "")
        if step.manual:
            name += " [dim](manual)[/dim]"
        if step.keep:
            name += " [dim](keep)[/dim]"
        table.add_row(
            name,
            step.phase,
            Text(step.status, style=STATUS_STYLES[step.status]),
            _time(step.satisfied_at_s),
            step.by or "—",
            _time(step.target_s),
            _time(step.deadline_s),
            f"{_points(step.awarded)}/{step.points}",
        )
    return table


def penalties_table(score: Score) -> Table:
    table = Table(title="Penalties", title_justify="left", box=None)
    for column in ("penalty", "at", "points", "why"):
        table.add_column(column, justify="right" if column == "points" else "left")
    for penalty in score.penalties:
        incurred = penalty.at_s is not None
        table.add_row(
            Text(penalty.id, style="red" if penalty.points else ""),
            _time(penalty.at_s),
            f"−{_points(penalty.points)}" if penalty.points else "0",
            penalty.reason if incurred else Text("not incurred", style="dim"),
        )
        for item in penalty.items:  # collateral damage, item by item
            table.add_row(
                Text(f"  {item.get('kind', '')}", style="dim"),
                _time(item.get("at_s")),
                "",
                f"{item.get('detail', '')} — by {item.get('by', '?')}",
            )
    return table


def metrics_table(score: Score) -> Table:
    table = Table(title="Timings (from detection)", title_justify="left", box=None)
    table.add_column("metric")
    table.add_column("value", justify="right")
    metrics = score.metrics
    for label, value in (
        ("time to acknowledge", metrics.time_to_acknowledge_s),
        ("time to contain", metrics.time_to_contain_s),
        ("time to eradicate", metrics.time_to_eradicate_s),
        ("time to recover", metrics.time_to_recover_s),
    ):
        table.add_row(label, _time(value))
    table.add_row("workload outage", _time(metrics.outage_s))
    return table


def verdict(score: Score) -> Text:
    outcome = Text(
        "PASSED" if score.passed else "FAILED", style="bold green" if score.passed else "bold red"
    )
    line = Text(f"{score.scenario} — team {score.team or '(unnamed)'}: ")
    line.append(f"{_points(score.score)}/100 ", style="bold")
    line.append(f"(pass mark {score.pass_mark}) ")
    line.append(outcome)
    if score.ended_at_s is None:
        line.append("  — the run is still going; pending steps may yet be met", style="dim")
    return line


def render_score(score: Score, console: Console) -> None:
    """Print the whole score: verdict, steps, penalties and timings."""
    parts: list[Table | Text] = [verdict(score), steps_table(score)]
    if score.penalties:
        parts.append(penalties_table(score))
    parts.append(metrics_table(score))
    console.print(Group(*parts))
    if any(step.critical for step in score.steps):
        console.print(
            Text("* critical: the run fails unless it succeeds or is partial", style="dim")
        )
