"""What a facilitator wants to know of a run while it plays, read from its journal alone.

`gameday steps` and `gameday status` ask it from another terminal: the expected steps with
their status and their target and deadline on the run clock, the score so far, the time
left, and the next inject the timeline will fire. Nothing here needs the run's process: the
scenario and the journal say it all (the score is the same pure fold `gameday score` uses),
so it works on a live run, a crashed one and one that has ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from gameday.journal import Event, read_journal
from gameday.rundir import RunDir
from gameday.scenario import load_scenario
from gameday.scenario.model import Manual, Scenario
from gameday.scoring.model import Score
from gameday.scoring.score import score_journal


@dataclass(frozen=True)
class StepLine:
    """One expected step as the facilitator follows it."""

    id: str
    title: str
    phase: str
    manual: bool
    status: str
    awarded: float
    points: int
    # on the run clock: None while there is no detection to count from
    target_t: float | None
    deadline_t: float | None
    target_s: float
    deadline_s: float
    satisfied_t: float | None


@dataclass(frozen=True)
class NextInject:
    id: str
    type: str
    t: float


@dataclass(frozen=True)
class Insight:
    """Where a run stands, as its journal tells at run time `now`."""

    scenario: Scenario
    score: Score
    now: float
    ended: bool
    steps: list[StepLine]
    next_inject: NextInject | None

    @property
    def time_left(self) -> float:
        return 0.0 if self.ended else max(0.0, self.scenario.duration - self.now)

    @property
    def met(self) -> list[StepLine]:
        return [step for step in self.steps if step.status in ("success", "partial")]

    @property
    def left(self) -> list[StepLine]:
        return [step for step in self.steps if step.status == "pending"]

    def manual_steps(self) -> list[StepLine]:
        return [step for step in self.steps if step.manual]


def run_insight(run: RunDir, now: float | None = None) -> Insight:
    """The insight into `run` at run time `now` (default: its latest event)."""
    scenario = load_scenario(run.scenario)
    events = read_journal(run.journal) if run.journal.exists() else []
    return insight(scenario, events, now=now)


def insight(scenario: Scenario, events: list[Event], *, now: float | None = None) -> Insight:
    last = float(events[-1]["t"]) if events else 0.0
    moment = max(last, now) if now is not None else last
    ended = any(event["kind"] == "run.ended" for event in events)
    score = score_journal(scenario, events, now=moment)
    detected = score.detected_at_s
    by_id = {step.id: step for step in scenario.steps}
    lines = []
    for result in score.steps:
        step = by_id[result.id]
        lines.append(
            StepLine(
                id=result.id,
                title=result.title,
                phase=result.phase,
                manual=isinstance(step.check, Manual),
                status=result.status,
                awarded=result.awarded,
                points=result.points,
                target_t=None if detected is None else detected + step.target,
                deadline_t=None if detected is None else detected + step.deadline,
                target_s=step.target,
                deadline_s=step.deadline,
                satisfied_t=(
                    None
                    if result.satisfied_at_s is None
                    else result.satisfied_at_s + (detected or 0.0)
                ),
            )
        )
    return Insight(
        scenario=scenario,
        score=score,
        now=moment,
        ended=ended,
        steps=lines,
        next_inject=None if ended else next_inject(scenario, events),
    )


def next_inject(scenario: Scenario, events: list[Event]) -> NextInject | None:
    """The inject the timeline fires next: the soonest of those not yet delivered or skipped.

    An inject `after` another fires its delay after that one was delivered; before that, at
    its nominal time (the chain of `after`s from the `at`s).
    """
    fired: dict[str, float] = {}
    for event in events:
        if event["kind"] in ("inject.delivered", "inject.skipped"):
            name = event.get("inject") or event.get("id")
            if isinstance(name, str):
                fired.setdefault(name, float(event["t"]))
    by_id = {inject.id: inject for inject in scenario.timeline}
    times: dict[str, float] = {}

    def due(inject_id: str, seen: frozenset[str]) -> float:
        if inject_id in fired:
            return fired[inject_id]
        if inject_id in times:
            return times[inject_id]
        inject = by_id[inject_id]
        t = 0.0
        if inject.at is not None:
            t = inject.at
        elif inject.after is not None and inject.after.inject in by_id and inject_id not in seen:
            t = due(inject.after.inject, seen | {inject_id}) + inject.after.delay
        times[inject_id] = t
        return t

    coming = [
        NextInject(inject.id, inject.type, due(inject.id, frozenset()))
        for inject in scenario.timeline
        if inject.id not in fired
    ]
    return min(coming, key=lambda entry: entry.t, default=None)


def closest_manual(insight: Insight, given: str) -> str:
    """The manual steps, one a line, the closest to `given` named first when there is one."""
    import difflib

    manual = insight.manual_steps()
    close = difflib.get_close_matches(given, [step.id for step in manual], n=1, cutoff=0.6)
    lines = [f"did you mean '{close[0]}'?"] if close else []
    if not manual:
        return "\n".join([*lines, "this scenario has no manual step"])
    lines.append("the manual steps:")
    lines += [f"  {step.id:<28} {step.title}  ({step.status})" for step in manual]
    return "\n".join(lines)
