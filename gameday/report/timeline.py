"""The run's timeline: what happened when, as lanes on one time axis from T0 to the end.

`build_timeline(report)` sorts the journal into lanes — AWS (and the facilitator's
injects), the attacker, the responders, the workload — and keeps the expected steps with
their target and deadline. `render_svg` draws it as an inline SVG picture (detection as a
dashed line, outages shaded); `notable_marks` lists the labelled moments for text formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from gameday.journal import Event
from gameday.report import evidence
from gameday.report.evidence import Span
from gameday.report.formatting import clock, span
from gameday.report.svg import element, group, svg, text_width
from gameday.scenario.durations import format_duration

if TYPE_CHECKING:
    from gameday.report.content import RunReport, StepRow

LANES = (
    ("aws", "AWS & facilitator"),
    ("attacker", "Attacker"),
    ("responders", "Responders"),
    ("workload", "Workload"),
)

INJECT_NAMES = {
    "quarantine": "quarantine policy",
    "support-case": "support case",
    "email": "email",
    "phone-call": "phone call",
    "health-event": "Health event",
    "webhook": "chat message",
    "console": "facilitator",
}

COLOURS = {
    "ink": "#1f2933",
    "muted": "#616e7c",
    "grid": "#d9dee4",
    "lane": "#f5f7fa",
    "aws": "#c05600",
    "attacker": "#b42318",
    "attacker-light": "#e8a29b",
    "responder": "#1849a9",
    "responder-light": "#9fb6e0",
    "denied": "#8a94a3",
    "note": "#6941c6",
    "repo": "#344054",
    "ok": "#2f855a",
    "fail": "#c53030",
    "success": "#237a45",
    "partial": "#b7791f",
    "failed": "#c53030",
    "pending": "#8a94a3",
    "target": "#d3ecd9",
    "late": "#fbe7c6",
    "outage": "#f8d4d4",
    "detected": "#6941c6",
}


@dataclass(frozen=True)
class Mark:
    """One moment on a lane. Marks with a label are drawn with it and listed in text
    reports; the others (routine API calls, probes) are drawn as ticks only."""

    t: float
    lane: str
    style: str
    label: str
    detail: str

    @property
    def when(self) -> str:
        return clock(self.t)


@dataclass(frozen=True)
class Timeline:
    end_s: float
    detected_s: float | None
    marks: tuple[Mark, ...]
    steps: tuple[StepRow, ...]
    outages: tuple[Span, ...]

    def lane(self, lane_id: str) -> list[Mark]:
        return [m for m in self.marks if m.lane == lane_id]


def build_timeline(report: RunReport) -> Timeline:
    marks = sorted(_marks(report.events), key=lambda m: m.t)
    if report.scenario.workload is None and not any(m.lane == "workload" for m in marks):
        marks = [m for m in marks if m.lane != "workload"]
    return Timeline(
        end_s=max(report.end_s, 1.0),
        detected_s=report.detected_s,
        marks=tuple(marks),
        steps=report.steps,
        outages=report.outages,
    )


def notable_marks(timeline: Timeline) -> list[Mark]:
    """The labelled moments in order, with detection, outages and steps met among them —
    the timeline as a table for text reports."""
    rows = [m for m in timeline.marks if m.label]
    if timeline.detected_s is not None:
        rows.append(
            Mark(timeline.detected_s, "aws", "detected", "detected", "first notice received")
        )
    for outage in timeline.outages:
        rows.append(
            Mark(outage.start_s, "workload", "outage", "outage", f"lasted {span(outage.length_s)}")
        )
    for step in timeline.steps:
        if step.satisfied_t is not None:
            rows.append(
                Mark(
                    step.satisfied_t,
                    "steps",
                    step.status,
                    f"step {step.status_label.lower()}: {step.id}",
                    step.result.title,
                )
            )
    return sorted(rows, key=lambda m: m.t)


# ── from the journal to marks ─────────────────────────────────────────────────────────────


def _marks(events: Sequence[Event]) -> Iterator[Mark]:
    for event in events:
        kind = event.get("kind")
        t = float(event.get("t", 0.0))
        if kind == "inject.delivered":
            yield _inject_mark(event, t)
        elif kind == "attacker.technique":
            technique = str(event.get("technique", "?"))
            status = str(event.get("status", ""))
            yield Mark(
                t,
                "attacker",
                "technique" if status != "failed" else "technique-failed",
                technique.rsplit(".", 1)[-1],
                f"{technique} ({status})" if status else technique,
            )
        elif kind == "api.call" and event.get("actor") in ("attacker", "responder"):
            yield _call_mark(event, t)
        elif kind == "note":
            text = str(event.get("text", ""))
            yield Mark(t, "responders", "note", "note", text)
        elif kind == "mark":
            step = str(event.get("step", ""))
            yield Mark(t, "responders", "mark", f"✓ {step}", f"marked done by {event.get('by')}")
        elif kind in ("repo.private", "repo.deleted", "repo.pushed"):
            what = str(kind).split(".", 1)[1]
            yield Mark(t, "responders", "repo", f"repo {what}", f"{kind} by {event.get('actor')}")
        elif kind == "workload.probe":
            ok = bool(event.get("ok"))
            detail = "probe ok" if ok else f"probe failed: {event.get('error_code') or 'error'}"
            yield Mark(t, "workload", "probe-ok" if ok else "probe-fail", "", detail)


def _inject_mark(event: Event, t: float) -> Mark:
    inject_type = str(event.get("type", ""))
    subject = str(event.get("subject") or event.get("inject") or "")
    return Mark(t, "aws", "inject", INJECT_NAMES.get(inject_type, inject_type), subject)


def _call_mark(event: Event, t: float) -> Mark:
    actor = str(event["actor"])
    lane = "attacker" if actor == "attacker" else "responders"
    action = str(event.get("action", "?"))
    region = f" in {event['region']}" if event.get("region") else ""
    ok = evidence.succeeded(event)
    outcome = "" if ok else f" → {event.get('error_code') or event.get('status')}"
    detail = f"{evidence.action_name(event)}{region}{outcome}"
    read_only = evidence.read_call(event).read_only
    if not ok:
        return Mark(t, lane, "call-denied", "", detail)
    # The responders' changes, and their CloudTrail look-ups, are what the debrief discusses.
    notable = actor == "responder" and (not read_only or action == "LookupEvents")
    return Mark(
        t, lane, "call-write" if not read_only else "call", action if notable else "", detail
    )


# ── drawing ───────────────────────────────────────────────────────────────────────────────

WIDTH = 1400
GUTTER = 250  # lane titles and step ids
RIGHT = 30
AXIS = 44
LABEL_SIZE = 12.5
LABEL_ROW = 17
MAX_LABEL_ROWS = 4
STEP_ROW = 26
TICK_STEPS = (30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class _Placed:
    mark: Mark
    row: int
    x: float
    anchor: str


class _Scale:
    def __init__(self, end_s: float) -> None:
        self.end_s = end_s
        self.left = GUTTER
        self.right = WIDTH - RIGHT

    def x(self, t: float) -> float:
        t = min(max(t, 0.0), self.end_s)
        return self.left + (self.right - self.left) * t / self.end_s

    def ticks(self) -> list[float]:
        step = next((s for s in TICK_STEPS if self.end_s / s <= 12), TICK_STEPS[-1])
        count = int(self.end_s // step)
        return [float(i * step) for i in range(count + 1)]


def render_svg(timeline: Timeline) -> Markup:
    scale = _Scale(timeline.end_s)
    parts: list[Markup] = []
    y = float(AXIS)
    lanes_top = y
    lane_ids = [lane for lane, _ in LANES if lane != "workload" or timeline.lane("workload")]
    for lane_id in lane_ids:
        title = dict(LANES)[lane_id]
        drawn, height = _lane(lane_id, title, timeline.lane(lane_id), scale, y)
        parts.append(drawn)
        y += height
    steps_top = y
    if timeline.steps:
        drawn, height = _steps(timeline.steps, scale, y)
        parts.append(drawn)
        y += height
    bottom = y
    legend, legend_height = _legend(bottom + 14)
    height = bottom + 14 + legend_height
    underlay = [
        _outages(timeline.outages, scale, lanes_top, bottom),
        _axis(scale, lanes_top, bottom),
    ]
    overlay = [_detection(timeline.detected_s, scale, lanes_top, bottom)]
    return svg(
        *underlay,
        *parts,
        element(
            "line",
            x1=GUTTER - 240,
            x2=WIDTH - RIGHT,
            y1=steps_top,
            y2=steps_top,
            stroke=COLOURS["muted"],
            stroke_width=1,
        ),
        *overlay,
        legend,
        width=WIDTH,
        height=height,
        title=f"Timeline of the run from T0 to {clock(timeline.end_s)}",
        id="timeline",
        class_="timeline",
    )


def _axis(scale: _Scale, top: float, bottom: float) -> Markup:
    items = []
    for t in scale.ticks():
        x = scale.x(t)
        items.append(
            element(
                "line", x1=x, x2=x, y1=top - 6, y2=bottom, stroke=COLOURS["grid"], stroke_width=1
            )
        )
        items.append(
            element(
                "text",
                "T0" if t == 0 else format_duration(t),
                x=x,
                y=top - 12,
                text_anchor="middle",
                font_size=13,
                fill=COLOURS["muted"],
            )
        )
    items.append(
        element(
            "text",
            f"end {clock(scale.end_s)}",
            x=scale.right,
            y=14,
            text_anchor="end",
            font_size=12,
            fill=COLOURS["muted"],
        )
    )
    items.append(
        element(
            "text",
            "time since the push (T0)",
            x=GUTTER - 12,
            y=top - 12,
            text_anchor="end",
            font_size=12,
            fill=COLOURS["muted"],
        )
    )
    return group(items, class_="axis")


def _detection(detected_s: float | None, scale: _Scale, top: float, bottom: float) -> Markup:
    if detected_s is None:
        return Markup("")
    x = scale.x(detected_s)
    return group(
        element("title", f"Detected at {clock(detected_s)}: the first notice received"),
        element(
            "line",
            x1=x,
            x2=x,
            y1=top - 4,
            y2=bottom,
            stroke=COLOURS["detected"],
            stroke_width=2,
            stroke_dasharray="6 4",
        ),
        element(
            "text",
            f"detected {clock(detected_s)}",
            x=x + 5,
            y=14,
            font_size=12,
            font_weight="bold",
            fill=COLOURS["detected"],
        ),
        class_="detection",
    )


def _outages(outages: Iterable[Span], scale: _Scale, top: float, bottom: float) -> Markup:
    items = []
    for outage in outages:
        x1, x2 = scale.x(outage.start_s), scale.x(outage.end_s)
        items.append(
            group(
                element("title", f"Outage {clock(outage.start_s)}–{clock(outage.end_s)}"),
                element(
                    "rect",
                    x=x1,
                    y=top,
                    width=max(x2 - x1, 2.0),
                    height=bottom - top,
                    fill=COLOURS["outage"],
                    opacity=0.75,
                ),
            )
        )
    return group(items, class_="outages")


def _place_labels(marks: Sequence[Mark], scale: _Scale) -> list[_Placed]:
    """Greedy rows: each label goes to the first row where it does not overlap the one
    before it; a label that fits no row is left to the mark's tooltip."""
    row_ends: list[float] = []
    placed = []
    for mark in marks:
        if not mark.label:
            continue
        x = scale.x(mark.t)
        width = text_width(mark.label, LABEL_SIZE) + 8
        anchor = "start"
        left = x - 3
        if left + width > WIDTH:
            anchor, left = "end", x - width + 3
        for row, end in enumerate(row_ends):
            if left > end:
                row_ends[row] = left + width
                placed.append(_Placed(mark, row, x, anchor))
                break
        else:
            if len(row_ends) < MAX_LABEL_ROWS:
                row_ends.append(left + width)
                placed.append(_Placed(mark, len(row_ends) - 1, x, anchor))
    return placed


def _lane(
    lane_id: str, title: str, marks: list[Mark], scale: _Scale, top: float
) -> tuple[Markup, float]:
    placed = _place_labels(marks, scale)
    rows = max((p.row + 1 for p in placed), default=0)
    base = top + 14 + rows * LABEL_ROW + 14  # the line the marks sit on
    height = base - top + 16
    items: list[Markup] = [
        element("rect", x=0, y=top, width=WIDTH, height=height, fill=COLOURS["lane"], opacity=0.6),
        element(
            "text",
            title,
            x=GUTTER - 12,
            y=base + 5,
            text_anchor="end",
            font_size=15,
            font_weight="bold",
            fill=COLOURS["ink"],
        ),
        element(
            "line",
            x1=scale.left,
            x2=scale.right,
            y1=base,
            y2=base,
            stroke=COLOURS["grid"],
            stroke_width=1,
        ),
    ]
    if lane_id == "workload":
        items.append(_probe_strip(marks, scale, base))
    for mark in marks:
        if mark.style not in ("probe-ok", "probe-fail"):
            items.append(_glyph(mark, scale.x(mark.t), base))
    for label in placed:
        y = top + 14 + label.row * LABEL_ROW + 12
        items.append(
            group(
                element("title", f"{label.mark.when} {label.mark.detail}"),
                element(
                    "line",
                    x1=label.x,
                    x2=label.x,
                    y1=y + 3,
                    y2=base - 7,
                    stroke=COLOURS["grid"],
                    stroke_width=1,
                ),
                element(
                    "text",
                    label.mark.label,
                    x=label.x + (3 if label.anchor == "start" else -3),
                    y=y,
                    text_anchor=label.anchor,
                    font_size=LABEL_SIZE,
                    fill=_colour(label.mark.style),
                ),
            )
        )
    return group(items, class_=f"lane lane-{lane_id}"), height


def _colour(style: str) -> str:
    return {
        "inject": COLOURS["aws"],
        "technique": COLOURS["attacker"],
        "technique-failed": COLOURS["attacker"],
        "call-write": COLOURS["responder"],
        "call": COLOURS["responder"],
        "note": COLOURS["note"],
        "mark": COLOURS["success"],
        "repo": COLOURS["repo"],
    }.get(style, COLOURS["ink"])


def _glyph(mark: Mark, x: float, base: float) -> Markup:
    tip = element("title", f"{mark.when} {mark.detail}") if mark.detail else Markup("")
    style = mark.style
    if style == "inject":
        return group(
            tip,
            element(
                "rect",
                x=x - 6,
                y=base - 6,
                width=12,
                height=12,
                transform=f"rotate(45 {x:.1f} {base:.1f})",
                fill=COLOURS["aws"],
            ),
        )
    if style in ("technique", "technique-failed"):
        points = f"{x:.1f},{base - 8:.1f} {x - 7:.1f},{base + 6:.1f} {x + 7:.1f},{base + 6:.1f}"
        filled = style == "technique"
        return group(
            tip,
            element(
                "polygon",
                points=points,
                fill=COLOURS["attacker"] if filled else "white",
                stroke=COLOURS["attacker"],
                stroke_width=2,
            ),
        )
    if style in ("call", "call-write", "call-denied"):
        light = "attacker-light" if mark.lane == "attacker" else "responder-light"
        colour = {
            "call": COLOURS[light],
            "call-write": COLOURS["responder"]
            if mark.lane == "responders"
            else COLOURS["attacker"],
            "call-denied": COLOURS["denied"],
        }[style]
        reach = 9 if style == "call-write" else 5
        return group(
            tip,
            element(
                "line",
                x1=x,
                x2=x,
                y1=base - reach,
                y2=base + reach,
                stroke=colour,
                stroke_width=2 if style == "call-write" else 1.5,
                stroke_dasharray="2 2" if style == "call-denied" else None,
            ),
        )
    if style == "note":
        return group(
            tip,
            element("rect", x=x - 5, y=base - 5, width=10, height=10, fill=COLOURS["note"]),
        )
    if style == "mark":
        return group(tip, element("circle", cx=x, cy=base, r=6, fill=COLOURS["success"]))
    return group(
        tip,
        element("rect", x=x - 5, y=base - 5, width=10, height=10, fill=COLOURS["repo"], rx=2),
    )


def _probe_strip(marks: list[Mark], scale: _Scale, base: float) -> Markup:
    """The workload's health as one bar: runs of probes with the same outcome are merged,
    each run lasting until the next probe that differs (or the end of the run)."""
    probes = [m for m in marks if m.style in ("probe-ok", "probe-fail")]
    runs: list[tuple[Mark, float, int]] = []  # first probe, end, count
    for probe in probes:
        if runs and runs[-1][0].style == probe.style:
            first, _, count = runs[-1]
            runs[-1] = (first, probe.t, count + 1)
        else:
            if runs:
                first, _, count = runs[-1]
                runs[-1] = (first, probe.t, count)
            runs.append((probe, probe.t, 1))
    if runs:
        first, _, count = runs[-1]
        runs[-1] = (first, scale.end_s, count)
    items = []
    for first, end, count in runs:
        x1, x2 = scale.x(first.t), scale.x(end)
        ok = first.style == "probe-ok"
        outcome = "healthy" if ok else first.detail
        items.append(
            group(
                element("title", f"{first.when}–{clock(end)}: {count} probe(s), {outcome}"),
                element(
                    "rect",
                    x=x1,
                    y=base - 6,
                    width=max(x2 - x1, 2.0),
                    height=12,
                    rx=2,
                    fill=COLOURS["ok"] if ok else COLOURS["fail"],
                ),
            )
        )
    return group(items, class_="probes")


def _steps(steps: Sequence[StepRow], scale: _Scale, top: float) -> tuple[Markup, float]:
    items: list[Markup] = [
        element(
            "text",
            "Steps",
            x=GUTTER - 12,
            y=top + 20,
            text_anchor="end",
            font_size=15,
            font_weight="bold",
            fill=COLOURS["ink"],
        ),
        element(
            "text",
            "full points until the target, fewer until the deadline",
            x=scale.left,
            y=top + 20,
            font_size=12,
            fill=COLOURS["muted"],
        ),
    ]
    y = top + 32
    for step in steps:
        items.append(_step_row(step, scale, y + STEP_ROW / 2))
        y += STEP_ROW
    return group(items, class_="steps"), y - top + 8


def _step_row(step: StepRow, scale: _Scale, mid: float) -> Markup:
    start = scale.x(step.origin_s)
    target = scale.x(step.target_t)
    deadline = scale.x(step.deadline_t)
    result = step.result
    tip = (
        f"{result.title} — {step.status_label}; target {clock(step.target_t)}, "
        f"deadline {clock(step.deadline_t)}, done {clock(step.satisfied_t)}"
    )
    items: list[Markup] = [
        element("title", tip),
        element(
            "text",
            step.id,
            x=GUTTER - 12,
            y=mid + 4.5,
            text_anchor="end",
            font_size=13,
            fill=COLOURS["ink"],
            font_weight="bold" if result.critical else None,
        ),
        element(
            "rect",
            x=start,
            y=mid - 5,
            width=max(target - start, 0.0),
            height=10,
            fill=COLOURS["target"],
        ),
        element(
            "rect",
            x=target,
            y=mid - 5,
            width=max(deadline - target, 0.0),
            height=10,
            fill=COLOURS["late"],
        ),
        element(
            "line",
            x1=target,
            x2=target,
            y1=mid - 8,
            y2=mid + 8,
            stroke=COLOURS["success"],
            stroke_width=2,
        ),
    ]
    if step.deadline_t <= scale.end_s:
        items.append(
            element(
                "line",
                x1=deadline,
                x2=deadline,
                y1=mid - 8,
                y2=mid + 8,
                stroke=COLOURS["failed"],
                stroke_width=2,
            )
        )
    colour = COLOURS.get(step.status, COLOURS["pending"])
    if step.satisfied_t is not None and step.met:
        x = scale.x(step.satisfied_t)
        items.append(
            element("circle", cx=x, cy=mid, r=7, fill=colour, stroke="white", stroke_width=1.5)
        )
        items.append(
            element(
                "text",
                clock(step.satisfied_t).removeprefix("T+"),
                x=x + 11,
                y=mid + 4,
                font_size=11.5,
                fill=COLOURS["muted"],
            )
        )
    elif step.status == "failed":
        x = scale.x(min(step.deadline_t, scale.end_s))
        items.append(_cross(x, mid, colour))
    else:
        x = scale.x(scale.end_s)
        items.append(
            element("circle", cx=x, cy=mid, r=6, fill="white", stroke=colour, stroke_width=2)
        )
    return group(items, class_=f"step step-{step.status}")


def _cross(x: float, y: float, colour: str) -> Markup:
    a, b = f"{x - 6:.1f}", f"{x + 6:.1f}"
    top, bottom = f"{y - 6:.1f}", f"{y + 6:.1f}"
    d = f"M{a},{top} L{b},{bottom} M{a},{bottom} L{b},{top}"
    return element("path", d=d, stroke=colour, stroke_width=3, stroke_linecap="round")


def _legend(top: float) -> tuple[Markup, float]:
    entries: list[tuple[str, Mark | None, str]] = [
        ("AWS notice", Mark(0, "aws", "inject", "", ""), ""),
        ("attack technique", Mark(0, "attacker", "technique", "", ""), ""),
        ("API call", Mark(0, "responders", "call", "", ""), ""),
        ("change by a responder", Mark(0, "responders", "call-write", "", ""), ""),
        ("denied call", Mark(0, "responders", "call-denied", "", ""), ""),
        ("note", Mark(0, "responders", "note", "", ""), ""),
        ("step met", None, "success"),
        ("met late", None, "partial"),
        ("outage", None, "outage"),
    ]
    items = []
    x = float(GUTTER)
    y = top + 10
    for text, mark, swatch in entries:
        if mark is not None:
            items.append(_glyph(mark, x + 6, y))
        elif swatch == "outage":
            items.append(element("rect", x=x, y=y - 7, width=14, height=14, fill=COLOURS["outage"]))
        else:
            items.append(element("circle", cx=x + 6, cy=y, r=6, fill=COLOURS[swatch]))
        items.append(
            element("text", text, x=x + 18, y=y + 4.5, font_size=12, fill=COLOURS["muted"])
        )
        x += 18 + text_width(text, 12) + 22
    return group(items, class_="legend"), 30
