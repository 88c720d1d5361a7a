"""The training report's pictures, as inline SVG: how long each step took across runs
(a box and strip plot per step, with its target and deadline) and each team's score across
dates against the pass mark."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from markupsafe import Markup

from gameday.report.formatting import day, points, span
from gameday.report.svg import element, group, svg, text_width
from gameday.report.timeline import COLOURS, TICK_STEPS
from gameday.report.training import StepStats, TrainingReport, TrendPoint
from gameday.scenario.durations import format_duration

WIDTH = 1400
GUTTER = 300
RIGHT = 150  # room for "missed in 2 of 3"
ROW = 46


def step_times_svg(steps: Sequence[StepStats], colours: dict[str, str]) -> Markup:
    """One row per step: a dot per run that met it (by team), the box of the middle half,
    the median, the target (green) and the deadline (red); misses counted on the right."""
    longest = max([*(s.deadline_s for s in steps), *(t for s in steps for t in s.times), 60.0])
    end = longest * 1.04
    left, right = GUTTER, WIDTH - RIGHT

    def x(seconds: float) -> float:
        return left + (right - left) * min(max(seconds, 0.0), end) / end

    top = 40
    height = top + ROW * len(steps) + 50
    tick = next((s for s in TICK_STEPS if end / s <= 12), TICK_STEPS[-1])
    axis = []
    for i in range(int(end // tick) + 1):
        at = x(i * tick)
        axis.append(
            element(
                "line",
                x1=at,
                x2=at,
                y1=top - 6,
                y2=height - 44,
                stroke=COLOURS["grid"],
                stroke_width=1,
            )
        )
        axis.append(
            element(
                "text",
                format_duration(i * tick),
                x=at,
                y=top - 12,
                font_size=13,
                text_anchor="middle",
                fill=COLOURS["muted"],
            )
        )
    axis.append(
        element(
            "text",
            "time after detection",
            x=left - 12,
            y=top - 12,
            font_size=12,
            text_anchor="end",
            fill=COLOURS["muted"],
        )
    )
    rows = []
    for index, stats in enumerate(steps):
        mid = top + ROW * index + ROW / 2
        rows.append(_step_times_row(stats, colours, x, mid))
    legend = _team_legend(colours, height - 22)
    return svg(
        group(axis, class_="axis"),
        *rows,
        legend,
        width=WIDTH,
        height=height,
        title="Time each step took after detection, across runs",
        class_="step-times",
    )


def _step_times_row(
    stats: StepStats, colours: dict[str, str], x: Callable[[float], float], mid: float
) -> Markup:
    items: list[Markup] = [
        element(
            "rect",
            x=0,
            y=mid - ROW / 2 + 2,
            width=WIDTH,
            height=ROW - 4,
            fill=COLOURS["lane"],
            opacity=0.7,
        ),
        element(
            "text",
            stats.id,
            x=GUTTER - 12,
            y=mid + 5,
            text_anchor="end",
            font_size=14,
            font_weight="bold" if stats.critical else None,
            fill=COLOURS["ink"],
        ),
        element(
            "line",
            x1=x(0),
            x2=x(stats.deadline_s),
            y1=mid,
            y2=mid,
            stroke=COLOURS["grid"],
            stroke_width=1,
        ),
        element(
            "line",
            x1=x(stats.target_s),
            x2=x(stats.target_s),
            y1=mid - 16,
            y2=mid + 16,
            stroke=COLOURS["success"],
            stroke_width=2.5,
        ),
        element(
            "line",
            x1=x(stats.deadline_s),
            x2=x(stats.deadline_s),
            y1=mid - 16,
            y2=mid + 16,
            stroke=COLOURS["failed"],
            stroke_width=2.5,
        ),
    ]
    quartiles = stats.quartiles
    if quartiles is not None:
        q1, median, q3 = quartiles
        times = stats.times
        items.append(
            element(
                "line",
                x1=x(times[0]),
                x2=x(times[-1]),
                y1=mid,
                y2=mid,
                stroke=COLOURS["muted"],
                stroke_width=1.5,
            )
        )
        items.append(
            group(
                element("title", f"middle half {span(q1)}–{span(q3)}, median {span(median)}"),
                element(
                    "rect",
                    x=x(q1),
                    y=mid - 11,
                    width=max(x(q3) - x(q1), 2.0),
                    height=22,
                    fill="white",
                    stroke=COLOURS["muted"],
                    stroke_width=1.5,
                    rx=3,
                ),
                element(
                    "line",
                    x1=x(median),
                    x2=x(median),
                    y1=mid - 11,
                    y2=mid + 11,
                    stroke=COLOURS["ink"],
                    stroke_width=3,
                ),
            )
        )
    met = sorted((s for s in stats.samples if s.taken_s is not None), key=lambda s: s.taken_s or 0)
    placed: list[tuple[float, float]] = []  # (x, offset) of the dots drawn so far
    for sample in met:
        at = x(sample.taken_s or 0.0)
        # A dot that would cover another moves up or down, so every run stays visible.
        offset = 0.0
        for candidate in (0.0, -8.0, 8.0, -16.0, 16.0):
            if all(abs(at - px) >= 11 or candidate != po for px, po in placed):
                offset = candidate
                break
        placed.append((at, offset))
        items.append(
            group(
                element("title", f"{sample.team} ({sample.run}): {span(sample.taken_s)}"),
                element(
                    "circle",
                    cx=at,
                    cy=mid + offset,
                    r=6,
                    fill=colours.get(sample.team, COLOURS["ink"]),
                    stroke="white",
                    stroke_width=1.5,
                ),
            )
        )
    summary = (
        f"missed in {stats.missed} of {stats.runs}" if stats.missed else f"met in all {stats.runs}"
    )
    items.append(
        element(
            "text",
            summary,
            x=WIDTH - RIGHT + 14,
            y=mid + 5,
            font_size=13,
            fill=COLOURS["failed"] if stats.missed else COLOURS["success"],
        )
    )

    return group(element("title", stats.title), items, class_="step-times-row")


def _team_legend(colours: dict[str, str], y: float) -> Markup:
    items = []
    at = float(GUTTER)
    for team, colour in colours.items():
        items.append(element("circle", cx=at + 6, cy=y, r=6, fill=colour))
        items.append(element("text", team, x=at + 17, y=y + 4.5, font_size=13, fill=COLOURS["ink"]))
        at += 17 + text_width(team, 13) + 26
    for label, colour in (("target", COLOURS["success"]), ("deadline", COLOURS["failed"])):
        items.append(
            element("line", x1=at, x2=at, y1=y - 8, y2=y + 8, stroke=colour, stroke_width=2.5)
        )
        items.append(
            element("text", label, x=at + 7, y=y + 4.5, font_size=13, fill=COLOURS["muted"])
        )
        at += 7 + text_width(label, 13) + 26
    items.append(
        element(
            "rect", x=at, y=y - 8, width=18, height=16, fill="white", stroke=COLOURS["muted"], rx=3
        )
    )
    items.append(
        element(
            "text",
            "middle half of the runs, bar at the median",
            x=at + 25,
            y=y + 4.5,
            font_size=13,
            fill=COLOURS["muted"],
        )
    )
    return group(items, class_="legend")


TREND_HEIGHT = 360


def trend_svg(report: TrainingReport) -> Markup:
    """Each team's scores by run date, joined in order, against the pass mark."""
    dated = [
        (team, [p for p in points_ if p.started is not None]) for team, points_ in report.trends
    ]
    moments = sorted({p.started for _, pts in dated for p in pts if p.started is not None})
    left, right, top, bottom = 90, WIDTH - 40, 30, TREND_HEIGHT - 70

    def x(moment: datetime) -> float:
        if len(moments) < 2:
            return (left + right) / 2
        first, last = moments[0].timestamp(), moments[-1].timestamp()
        return left + (right - left) * (moment.timestamp() - first) / (last - first)

    def y(score: float) -> float:
        return bottom - (bottom - top) * max(0.0, min(score, 100.0)) / 100

    items: list[Markup] = []
    for value in range(0, 101, 20):
        items.append(
            element(
                "line",
                x1=left,
                x2=right,
                y1=y(value),
                y2=y(value),
                stroke=COLOURS["grid"],
                stroke_width=1,
            )
        )
        items.append(
            element(
                "text",
                str(value),
                x=left - 10,
                y=y(value) + 5,
                font_size=13,
                text_anchor="end",
                fill=COLOURS["muted"],
            )
        )
    mark = report.pass_mark
    items.append(
        element(
            "line",
            x1=left,
            x2=right,
            y1=y(mark),
            y2=y(mark),
            stroke=COLOURS["failed"],
            stroke_width=2,
            stroke_dasharray="8 5",
        )
    )
    items.append(
        element(
            "text",
            f"pass mark {mark}",
            x=right,
            y=y(mark) - 7,
            font_size=13,
            text_anchor="end",
            fill=COLOURS["failed"],
        )
    )
    labelled: list[float] = []
    for moment in moments:
        at = x(moment)
        if all(abs(at - other) > 90 for other in labelled):
            labelled.append(at)
            items.append(
                element(
                    "text",
                    day(moment),
                    x=at,
                    y=bottom + 24,
                    font_size=13,
                    text_anchor="middle",
                    fill=COLOURS["muted"],
                )
            )
    for team, pts in dated:
        items.append(_trend_line(team, pts, report.colours.get(team, COLOURS["ink"]), x, y))
    legend = _team_legend_only(report.colours, TREND_HEIGHT - 20)
    return svg(
        *items,
        legend,
        width=WIDTH,
        height=TREND_HEIGHT,
        title="Scores by run date for each team",
        class_="trend",
    )


def _trend_line(
    team: str,
    pts: list[TrendPoint],
    colour: str,
    x: Callable[[datetime], float],
    y: Callable[[float], float],
) -> Markup:
    coords = [(x(p.started), y(p.score), p) for p in pts if p.started is not None]
    items: list[Markup] = []
    if len(coords) > 1:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
        items.append(
            element(
                "polyline",
                points=path,
                fill="none",
                stroke=colour,
                stroke_width=3,
                stroke_linejoin="round",
            )
        )
    for cx, cy, p in coords:
        verdict = "passed" if p.passed else "failed"
        items.append(
            group(
                element("title", f"{team}, {day(p.started)}: {points(p.score)} ({verdict})"),
                element(
                    "circle",
                    cx=cx,
                    cy=cy,
                    r=7,
                    fill=colour if p.passed else "white",
                    stroke=colour,
                    stroke_width=3,
                ),
            )
        )
    return group(items, class_="trend-team")


def _team_legend_only(colours: dict[str, str], y: float) -> Markup:
    items = []
    at = 90.0
    for team, colour in colours.items():
        items.append(element("line", x1=at, x2=at + 22, y1=y, y2=y, stroke=colour, stroke_width=3))
        items.append(element("text", team, x=at + 30, y=y + 4.5, font_size=13, fill=COLOURS["ink"]))
        at += 30 + text_width(team, 13) + 26
    items.append(
        element(
            "circle", cx=at + 6, cy=y, r=6, fill="white", stroke=COLOURS["muted"], stroke_width=2.5
        )
    )
    items.append(
        element(
            "text",
            "hollow: a failed run",
            x=at + 18,
            y=y + 4.5,
            font_size=13,
            fill=COLOURS["muted"],
        )
    )
    return group(items, class_="legend")
