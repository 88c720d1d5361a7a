"""The facilitator's view of a live run: what AWS sent, what the attacker and responders did.

A journal listener. On a terminal it keeps a live panel (clock, what comes next, the latest
events); anywhere else it prints one plain line per event worth a facilitator's attention,
so logs and CI output read as a story. Every line is drawn from journal events only.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gameday.errors import printable
from gameday.exercise.timeline import Pending
from gameday.journal import Event
from gameday.scenario.model import Scenario

STYLES = {
    "AWS": "bold yellow",
    "ATTACKER": "bold red",
    "RESPONDER": "bold cyan",
    "WORKLOAD": "magenta",
    "STEP": "bold green",
    "PENALTY": "bold red",
    "RUN": "bold white",
    "NOTE": "cyan",
    "FACILITATOR": "bold blue",
    "ERROR": "bold red",
}


def clock_text(t: float) -> str:
    """`T+0:04:05`, `T+1:02:03`; past a day `T+2d 03:04:05` (a run lasts up to a week)."""
    sign = "-" if t < 0 else "+"
    seconds = int(abs(t))
    days, seconds = divmod(seconds, 86400)
    text = f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"T{sign}{days}d {text.zfill(8)}" if days else f"T{sign}{text}"


def describe(event: Event) -> tuple[str, str] | None:
    """(lane, text) for an event a facilitator wants to see, None for the rest."""
    kind = event["kind"]
    if kind == "inject.delivered":
        status = event.get("status")
        failed = f" (FAILED: {event.get('error')})" if status == "failed" else ""
        return "AWS", f"{event.get('type')}: {event.get('subject')}{failed}"
    if kind == "inject.skipped":
        return "AWS", f"skipped {event.get('id') or event.get('inject')}: {event.get('reason')}"
    if kind == "attacker.technique":
        if event.get("repeat") and not event.get("created"):
            return None
        created = ", ".join(f"{r['kind']} {r['id']}" for r in event.get("created", [])[:4])
        more = f" — left {created}" if created else ""
        codes = ", ".join(event.get("error_codes") or [])
        refused = f" — refused: {codes}" if codes else ""
        return "ATTACKER", f"{event.get('technique')} {event.get('status')}{more}{refused}"
    if kind == "api.call" and event.get("actor") == "responder":
        outcome = event.get("error_code") or "ok"
        return (
            "RESPONDER",
            f"{event.get('service')}:{event.get('action')} ({event.get('region')}) {outcome}",
        )
    if kind == "workload.probe" and not event.get("ok"):
        return "WORKLOAD", f"{event.get('workload')} is DOWN: {event.get('error_code')}"
    if kind == "check.changed":
        subject = str(event.get("check", ""))
        lane = "PENALTY" if subject.startswith("penalty:") else "STEP"
        verb = "holds" if event.get("value") else "no longer holds"
        return lane, f"{subject.split(':', 1)[-1]} {verb} — {event.get('reason', '')}"
    if kind == "note":
        return "NOTE", f"{event.get('actor', '')}: {event.get('text')}"
    if kind == "mark":
        who = " ".join(str(event[f]) for f in ("by", "name") if event.get(f))
        return "FACILITATOR", f"marked {event.get('step')} ({who})"
    if kind == "control.refused":
        # a facilitator's command tried without the facilitator token: the room should know
        step = f" {event['step']}" if event.get("step") else ""
        via = f" from the {event['via']}" if event.get("via") else ""
        return "FACILITATOR", f"refused {event.get('command')}{step}{via}: {event.get('reason')}"
    if kind.startswith("repo."):
        return "RESPONDER", f"code host: {kind.removeprefix('repo.')}"
    if kind in ("responder.error", "error"):
        return "ERROR", str(event.get("message") or event.get("error") or kind)
    if kind in ("run.started", "run.paused", "run.resumed", "run.ended"):
        reason = f" ({event.get('reason')})" if event.get("reason") else ""
        return "RUN", f"{kind.removeprefix('run.')}{reason}"
    if kind == "responder.finished":
        return "RUN", f"responder finished: {event.get('outcome')}"
    return None


class FacilitatorView:
    """Listens to the journal; shows the run to the facilitator."""

    def __init__(
        self,
        scenario: Scenario,
        team: str,
        console: Console,
        *,
        now: Callable[[], float],
        pending: Callable[[], list[Pending]],
        paused: Callable[[], bool],
        live: bool | None = None,
    ) -> None:
        self.scenario = scenario
        self.team = team
        self.console = console
        self.now = now
        self.pending = pending
        self.paused = paused
        self.live_mode = console.is_terminal if live is None else live
        self.lines: deque[tuple[float, str, str]] = deque(maxlen=14)
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __call__(self, event: Event) -> None:
        described = describe(event)
        if described is None:
            return
        lane, text = described
        with self._lock:
            self.lines.append((float(event["t"]), lane, text))
        # a quiet console (a pool's worker, the pytest plugin) would render and drop each line
        if not self.live_mode and not self.console.quiet:
            self._print(float(event["t"]), lane, text)

    def say(self, text: str, t: float | None = None) -> None:
        """A message for the facilitator only (console injects, call scripts)."""
        if self.console.quiet:
            return
        when = self.now() if t is None else t
        # scenario text: shown as it is, never as markup or bytes for the terminal to obey
        body = Text(printable(text, lines=True))
        title = f"{clock_text(when)}  for the facilitator"
        if not self.console.is_terminal:
            # a log or a pipe: every line whole, never cut or wrapped at the console's width
            self.console.print(Text(f"── {title} ──"), soft_wrap=True)
            self.console.print(body, soft_wrap=True)
            return
        panel = Panel(body, title=title)  # wrapped inside the panel, never cut
        if self._live is not None:
            self._live.console.print(panel, soft_wrap=False)
        else:
            self.console.print(panel, soft_wrap=False)

    def _print(self, t: float, lane: str, text: str) -> None:
        line = Text.assemble(
            (f"{clock_text(t)} ", "dim"), (f"{lane:<12}", STYLES[lane]), printable(text)
        )
        self.console.print(line, soft_wrap=True)

    # ── the live panel ────────────────────────────────────────────────────────────────────

    def start(self) -> None:
        if self.live_mode:
            self._live = Live(
                get_renderable=self._render, console=self.console, refresh_per_second=4
            )
            self._live.start()

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> Any:
        state = "PAUSED" if self.paused() else "running"
        header = Text.assemble(
            (printable(self.scenario.title), "bold"),
            f"  ·  team {self.team}  ·  ",
            (clock_text(self.now()), "bold cyan"),
            f"  ·  {state}",
        )
        coming = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
        coming.add_column("due")
        coming.add_column("next")
        for entry in self.pending()[:5]:
            due = clock_text(entry.due) if entry.due is not None else f"after {entry.after}"
            coming.add_row(due, f"{entry.kind} {entry.id}")
        log = Table(box=None, pad_edge=False, show_header=False)
        log.add_column(no_wrap=True)
        log.add_column(no_wrap=True)
        log.add_column()
        with self._lock:
            for t, lane, text in self.lines:
                log.add_row(clock_text(t), Text(lane, style=STYLES[lane]), Text(printable(text)))
        return Panel(Group(header, Text(""), coming, Text(""), log), title="gameday — SIMULATION")
