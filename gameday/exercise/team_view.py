"""The team's view of a live run: what responders would know, and nothing of how they score.

`gameday watch` (on the screen the team sees) and `gameday run --view team` show the notices
as they arrive (AWS's emails, the support case, the Health event, the phone call, a webhook),
the run clock, and whether the run is paused or has ended. No step, penalty, check, attacker
or facilitator line: those are the facilitator's (`gameday steps`, `gameday status` with the
token, the dashboard). Every line is drawn from journal events only.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gameday.errors import printable
from gameday.exercise.view import STYLES, clock_text
from gameday.journal import Event, read_journal
from gameday.rundir import RunDir

MARKER = "SIMULATION — game day exercise"
# Notices reach the team through a channel of theirs; console injects and the quarantine
# policy do not (the first are the facilitator's, the second an act on the account).
_CHANNEL_NAMES = {
    "email": "email",
    "support-case": "support case",
    "health-event": "AWS Health",
    "phone-call": "phone call",
    "webhook": "chat",
}
TEAM_CHANNELS = frozenset(_CHANNEL_NAMES)


def describe_for_team(event: Event) -> tuple[str, str] | None:
    """(lane, text) for an event the team may see, None for the rest."""
    kind = event["kind"]
    if kind == "inject.delivered":
        if event.get("type") not in TEAM_CHANNELS or event.get("status") == "failed":
            return None
        channel = _CHANNEL_NAMES[str(event.get("type"))]
        return "AWS", f"{channel}: {event.get('subject') or '(no subject)'}"
    if kind in ("run.started", "run.paused", "run.resumed", "run.ended"):
        return "RUN", kind.removeprefix("run.")
    if kind == "note" and event.get("actor") == "responder":
        return "NOTE", f"team: {event.get('text')}"
    return None


class TeamView:
    """Listens to the journal; shows the run to the team. The run's console with `--view team`."""

    def __init__(
        self,
        console: Console,
        *,
        now: Callable[[], float],
        paused: Callable[[], bool],
        live: bool | None = None,
        **_: Any,
    ) -> None:
        self.console = console
        self.now = now
        self.paused = paused
        self.ended = False
        self.pending: Callable[[], list[Any]] = list  # the facilitator's; never shown here
        self.live_mode = console.is_terminal if live is None else live
        self.lines: deque[tuple[float, str, str]] = deque(maxlen=12)
        self._lock = threading.Lock()
        self._live: Live | None = None

    def __call__(self, event: Event) -> None:
        if event["kind"] == "run.ended":
            self.ended = True
        described = describe_for_team(event)
        if described is None:
            return
        lane, text = described
        with self._lock:
            self.lines.append((float(event["t"]), lane, text))
        if not self.live_mode:
            line = Text.assemble(
                (f"{clock_text(float(event['t']))} ", "dim"),
                (f"{lane:<6}", STYLES[lane]),
                printable(text),
            )
            self.console.print(line, soft_wrap=True)

    def say(self, text: str, t: float | None = None) -> None:
        """The facilitator's messages (call scripts, console injects) are not the team's."""

    def start(self) -> None:
        if self.live_mode:
            self._live = Live(
                get_renderable=self.render, console=self.console, refresh_per_second=2
            )
            self._live.start()
        else:
            self.console.print(MARKER, markup=False)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def render(self) -> Any:
        state = "ENDED" if self.ended else "PAUSED" if self.paused() else "running"
        header = Text.assemble(
            (MARKER, "bold"), "  ·  ", (clock_text(self.now()), "bold cyan"), f"  ·  {state}"
        )
        log = Table(box=None, pad_edge=False, show_header=False)
        log.add_column(no_wrap=True)
        log.add_column(no_wrap=True)
        log.add_column()
        with self._lock:
            for t, lane, text in self.lines:
                log.add_row(clock_text(t), Text(lane, style=STYLES[lane]), Text(printable(text)))
        return Panel(Group(header, Text(""), log), title="the team's view")


def watch_run(
    run: RunDir, console: Console, *, live: bool | None = None, poll_s: float = 0.5
) -> None:
    """Follow `run`'s journal for the team until the run ends (or its process is gone)."""
    seen = 0
    status = run.status()

    def now() -> float:
        t = run.run_time(status)
        return t if t is not None else view_last[0]

    view_last = [0.0]
    view = TeamView(
        console,
        now=now,
        paused=lambda: bool((status.get("run_clock") or {}).get("paused")),
        live=live,
    )
    view.start()
    try:
        while True:
            events = read_journal(run.journal) if run.journal.exists() else []
            for event in events[seen:]:
                view_last[0] = float(event["t"])
                view(event)
            seen = len(events)
            if view.ended:
                return
            status = run.status()
            if not status.get("alive") and status.get("state") != "starting":
                if status.get("crashed"):
                    console.print(f"the run stopped ({run.state_text(status)})", markup=False)
                return
            time.sleep(poll_s)
    finally:
        view.stop()
