"""Scoring: a scenario and its journal in, a `Score` out — a pure function, no I/O.

An `Evaluator` folds the journal, event by event, into the `State` the checks read and keeps
each step's and penalty's check up to date. It evaluates a check only when an event touches
one of the check's topics (a mutating call to a service it reads, an event kind it reads, or
another step it depends on), so the cost of an event does not grow with the journal: a read
call nobody's check reads costs a dictionary lookup. Every change of a check's value is kept
as a `Transition` — append-only evidence, with whose act made the check hold — and the
statuses are computed from that evidence when the score is asked for, so re-scoring the same
journal always gives the same score.

The rules (DESIGN.md, "Scoring model"):

- Detection is the first notice a customer receives (an email, the Health event, a delivered
  webhook, the phone call, the support case — not the quarantine, which only IAM shows, and
  not the facilitator's console cues); targets, deadlines and every time reported count from
  it. A run in which no such notice was delivered counts from T0.
- Credit follows the principal. A step is satisfied at the moment its check last became true,
  if it stayed true to the end (a fix that is undone does not count) and the act that made it
  true was the team's — a call signed with a key the team holds, a code-host action of the
  team — or, for a manual step, the facilitator's mark. A check that holds because nothing
  happened, or because somebody else acted (the attacker, AWS, a responder with the leaked
  key), earns nothing. A step done before detection counts as done at detection (0 s).
- A `keep` step is something the team must not break: it is met, at detection, when its check
  held at detection and never stopped holding; once it breaks it is lost, whatever happens
  next. (A keep step that did not hold at detection is an ordinary step.)
- A step with `after` counts only when its check became true after each step it names was
  satisfied (lifting the quarantine pays only once the leaked key is dead).
- A step with `throughout` is met only if that second check held over the step's window,
  from detection to its deadline: "rotate the key without an outage" is lost the moment the
  workload goes down inside the window (or was down when the team was told).
- Full points by the target, falling linearly to nothing at the deadline (`partial` between);
  `failed` at or after the deadline, or never satisfied; `pending` while the run goes on and
  the deadline has not passed.
- A penalty costs its points once, when its check first becomes true; a `per_minute` penalty
  costs its points for each whole minute its check held, up to `max_points`. Collateral
  damage (`gameday.scoring.collateral`) costs its points per item, up to its cap, in every
  scenario that does not waive it.
- The score is (points awarded − penalty points) as a share of all the steps' points, clamped
  to 0–100; the run passes when the score reaches the pass mark and no critical step failed
  (or is still pending).
- Metrics: time to acknowledge = when the first acknowledge-phase step was satisfied (with no
  such step in the scenario: the team's first act after detection — an API call, a note, a
  code-host action); time to contain = the leaked key disabled (deactivated or deleted, and
  kept so); time to eradicate / recover = every step of that phase satisfied (keep steps,
  held rather than done, do not count); outage = the seconds the workload's probes failed.

No check changes value without an event, so the evaluator needs no clock ticks: a per-minute
penalty and the outage are measured between the timestamps of the evidence, up to the end of
the run (or `now` for a run still going).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel

from gameday.journal import Event
from gameday.scenario.model import AccessKeyDisabled, Penalty, Scenario, Step
from gameday.scoring.checks import CHECKS, STEPS_TOPIC, CheckType
from gameday.scoring.collateral import PENALTY_ID, TITLE, collateral_damage, collateral_policy
from gameday.scoring.model import Metrics, PenaltyResult, Score, StepResult, StepStatus
from gameday.scoring.moments import run_time
from gameday.scoring.state import ALL_TOPICS, CREDITED, Moment, State

CONTAINED = "metric:contained"
THROUGHOUT = "throughout:"  # the subject of a step's `throughout` check: "throughout:STEP"
_LEAKED_KEY_DISABLED = AccessKeyDisabled(type="access-key-disabled", key="leaked", state="any")

# How a reason says the check held but the step's `after` order did not (read back by
# `validate --deep` and the report's advice, which word such a step differently).
NOT_DONE, DONE_BEFORE = " — but step", " — but before step"
HELD_BY_ORDER = (NOT_DONE, DONE_BEFORE)


@dataclass(frozen=True)
class Transition:
    """A check changed value: evidence, never rewritten."""

    subject: str  # "step:ID", "penalty:ID" or "metric:contained"
    t: float
    seq: int
    holds: bool
    reason: str
    by: str | None = None  # whose act made it hold

    @property
    def moment(self) -> Moment:
        return (self.t, self.seq)


@dataclass
class Watch:
    """One check bound to the step or penalty that owns it, with its evidence so far."""

    subject: str
    owner: str
    check: CheckType[Any]
    params: BaseModel
    topics: frozenset[str]
    is_step: bool
    holds: bool = False
    reason: str = ""
    evidence: list[Transition] = field(default_factory=list)

    def since(self) -> float | None:
        """When the check last became true, if it holds now."""
        return self.evidence[-1].t if self.holds and self.evidence else None

    def first_true(self) -> Transition | None:
        return next((e for e in self.evidence if e.holds), None)

    def last_true(self) -> Transition | None:
        """The change that made the check hold now, if it does."""
        return self.evidence[-1] if self.holds and self.evidence else None

    def held_at(self, moment: Moment) -> bool:
        """The check's value just after the event at `moment`."""
        held = False
        for change in self.evidence:
            if change.moment > moment:
                break
            held = change.holds
        return held

    def broken_after(self, moment: Moment) -> Transition | None:
        """The first time the check stopped holding after `moment`."""
        return next((e for e in self.evidence if e.moment > moment and not e.holds), None)

    def held_seconds(self, until: float) -> float:
        total, start = 0.0, None
        for change in self.evidence:
            if change.holds and start is None:
                start = change.t
            elif not change.holds and start is not None:
                total += change.t - start
                start = None
        if start is not None:
            total += max(0.0, until - start)
        return total


class Evaluator:
    """The checks of one scenario, kept current as the journal's events arrive.

    `selective=False` evaluates every check after every event: the naive baseline the
    benchmark compares against, and a cross-check in the tests.
    """

    def __init__(self, scenario: Scenario, *, selective: bool = True) -> None:
        self.scenario = scenario
        self.state = State(scenario)
        self.selective = selective
        self.evaluations = 0
        self.watches: list[Watch] = [
            self._watch(f"step:{s.id}", s.id, s.check, True) for s in scenario.steps
        ]
        self.watches += [
            self._watch(f"penalty:{p.id}", p.id, p.check, False) for p in scenario.penalties
        ]
        self.watches += [
            self._watch(f"{THROUGHOUT}{s.id}", s.id, s.throughout, False)
            for s in scenario.steps
            if s.throughout is not None
        ]
        self.watches.append(self._watch(CONTAINED, CONTAINED, _LEAKED_KEY_DISABLED, False))
        self._by_topic: dict[str, list[int]] = {}
        for index, watch in enumerate(self.watches):
            for topic in watch.topics:
                self._by_topic.setdefault(topic, []).append(index)
        self._step_readers = [w for w in self.watches if STEPS_TOPIC in w.topics]
        self._by_subject = {w.subject: w for w in self.watches}
        for step in scenario.steps:
            self.state.step_since[step.id] = None

    def _watch(self, subject: str, owner: str, params: BaseModel, is_step: bool) -> Watch:
        check = CHECKS.get(str(getattr(params, "type", "")))
        return Watch(subject, owner, check, params, check.topics_for(params), is_step)

    def watch(self, subject: str) -> Watch:
        return self._by_subject[subject]

    def observe(self, event: Event) -> list[Transition]:
        """Apply one event; the checks that changed value because of it."""
        topics = self.state.apply(event)
        due = self._due(topics)
        changed: list[Transition] = []
        # Steps that depend on other steps settle within as many rounds as there are steps.
        for _ in range(len(self.watches) + 1):
            if not due:
                break
            steps_moved = False
            for watch in due:
                transition = self._evaluate(watch)
                if transition is not None:
                    changed.append(transition)
                    steps_moved = steps_moved or watch.is_step
            due = self._step_readers if steps_moved else []
        return changed

    def _due(self, topics: frozenset[str]) -> list[Watch]:
        if not self.selective or ALL_TOPICS in topics:
            return self.watches
        found = {i for topic in topics for i in self._by_topic.get(topic, ())}
        return [self.watches[i] for i in sorted(found)]

    def _evaluate(self, watch: Watch) -> Transition | None:
        self.evaluations += 1
        verdict = watch.check.evaluate(watch.params, self.state, watch.owner)
        watch.reason = verdict.reason
        if verdict.holds == watch.holds:
            return None
        watch.holds = verdict.holds
        transition = Transition(
            watch.subject,
            self.state.t,
            self.state.seq,
            verdict.holds,
            verdict.reason,
            verdict.by if verdict.holds else None,
        )
        watch.evidence.append(transition)
        if watch.is_step:
            self.state.step_since[watch.owner] = self.state.moment if verdict.holds else None
        return transition

    # ── the score, computed from the evidence ──

    def score(self, team: str | None = None, *, now: float | None = None) -> Score:
        state = self.state
        origin = state.detected_t if state.detected_t is not None else 0.0
        ended = state.ended_t is not None
        # A run still going is judged as of `now` (default: its last event).
        until = next(t for t in (state.ended_t, now, state.t) if t is not None)
        steps = self._step_results(origin, until, ended)
        penalties = [
            self._penalty_result(penalty, self.watch(f"penalty:{penalty.id}"), origin, until)
            for penalty in self.scenario.penalties
        ]
        collateral = self._collateral_result(origin)
        if collateral is not None:
            penalties.append(collateral)
        total = sum(step.points for step in self.scenario.steps)
        earned = sum(step.awarded for step in steps) - sum(p.points for p in penalties)
        value = round(min(100.0, max(0.0, earned / total * 100.0)), 2) if total else 0.0
        critical_ok = all(s.status in ("success", "partial") for s in steps if s.critical)
        return Score(
            scenario=self.scenario.id,
            team=team if team is not None else state.team,
            score=value,
            passed=critical_ok and value >= self.scenario.pass_mark,
            pass_mark=self.scenario.pass_mark,
            steps=steps,
            penalties=penalties,
            metrics=self._metrics(steps, origin, until),
            detected_at_s=state.detected_t,
            ended_at_s=state.ended_t,
            extra={
                "evidence": [
                    asdict(change)
                    for change in sorted(
                        (e for w in self.watches for e in w.evidence), key=lambda e: e.seq
                    )
                ]
            },
        )

    # ── steps: what the team earned ──

    def _step_results(self, origin: float, until: float, ended: bool) -> list[StepResult]:
        steps = {step.id: step for step in self.scenario.steps}
        credits: dict[str, Credit] = {}

        def credit_of(step: Step, waiting: tuple[str, ...]) -> Credit:
            if step.id not in credits:
                before = {
                    other: credit_of(steps[other], (*waiting, step.id))
                    for other in step.after
                    if other in steps and other not in waiting and other != step.id
                }
                credits[step.id] = self._credit(step, before)
            return credits[step.id]

        return [
            self._step_result(step, credit_of(step, ()), origin, until, ended)
            for step in self.scenario.steps
        ]

    def _detection(self) -> Moment:
        """The moment of detection; without a notice, the start of the run."""
        return self.state.detected or self.state.seeded or (0.0, 0)

    def _credit(self, step: Step, before: dict[str, Credit]) -> Credit:
        """When the team earned the step, and whose act it was — or why it has not; a step
        whose `throughout` check broke in its window is lost, whatever its own check says."""
        credit = self._credit_of_check(step, before)
        if step.throughout is None:
            return credit
        broken = self._broken_in_window(step)
        if broken is None:
            return credit
        title = CHECKS.get(step.throughout.type).title.lower()
        return Credit(
            None,
            credit.by,
            f"{credit.reason} — but its window required that {title}, and that broke at "
            f"{run_time(broken.t)}: {broken.reason}",
            lost=True,
        )

    def _broken_in_window(self, step: Step) -> Transition | None:
        """When the step's `throughout` check stopped holding between detection and the
        step's deadline (already broken at detection counts), if it did."""
        watch = self.watch(f"{THROUGHOUT}{step.id}")
        detected = self._detection()
        origin = self.state.detected_t if self.state.detected_t is not None else 0.0
        if not watch.held_at(detected):
            before = [e for e in watch.evidence if e.moment <= detected]
            if any(e.holds for e in before):
                return before[-1]  # it had held, and was broken when the team was told
        broken = watch.broken_after(detected)
        if broken is not None and broken.t <= origin + step.deadline:
            return broken
        return None

    def _credit_of_check(self, step: Step, before: dict[str, Credit]) -> Credit:
        """When the team earned the step's check, and whose act it was — or why not."""
        watch = self.watch(f"step:{step.id}")
        detected = self._detection()
        if step.keep and watch.held_at(detected):
            broken = watch.broken_after(detected)
            if broken is not None:
                return Credit(
                    None,
                    None,
                    f"kept until {run_time(broken.t)}, then broken: {broken.reason}",
                    lost=True,
                )
            return Credit(detected, "kept", f"kept from detection on: {watch.reason}")
        change = watch.last_true()
        if change is None:
            return Credit(None, None, watch.reason)
        if change.by not in CREDITED:
            if change.by is None:
                why = (
                    "it already held at detection"
                    if change.moment <= detected
                    else ("nobody's act made it so")
                )
            else:
                why = f"it was the doing of {change.by}, not the team"
            return Credit(None, change.by, f"holds, but {why}: {change.reason}")
        for other, prior in before.items():
            if prior.moment is None:
                return Credit(None, change.by, f"{change.reason}{NOT_DONE} {other} is not done")
            if change.moment < prior.moment:
                return Credit(
                    None,
                    change.by,
                    f"{change.reason}{DONE_BEFORE} {other} was done; it counts only after",
                )
        return Credit(change.moment, change.by, change.reason)

    def _step_result(
        self, step: Step, credit: Credit, origin: float, until: float, ended: bool
    ) -> StepResult:
        since = credit.moment[0] if credit.moment is not None else None
        at = None if since is None else round(max(0.0, since - origin), 3)
        status: StepStatus
        awarded = 0.0
        reason = credit.reason
        if at is not None:
            if at <= step.target:
                status, awarded = "success", float(step.points)
            elif at < step.deadline:
                status = "partial"
                awarded = step.points * (step.deadline - at) / (step.deadline - step.target)
                reason = f"satisfied after the target: {reason}"
            else:
                status = "failed"
                reason = f"satisfied only at or after the deadline: {reason}"
        elif (
            credit.lost
            or ended
            or (self.state.detected_t is not None and until - origin >= step.deadline)
        ):
            status = "failed"
        else:
            status = "pending"
        return StepResult(
            id=step.id,
            title=step.title,
            phase=step.phase,
            status=status,
            satisfied_at_s=at,
            target_s=step.target,
            deadline_s=step.deadline,
            points=step.points,
            awarded=round(awarded, 2),
            critical=step.critical,
            manual=step.check.type == "manual",
            reason=reason,
            by=credit.by,
            keep=step.keep,
        )

    # ── penalties ──

    def _penalty_result(
        self, penalty: Penalty, watch: Watch, origin: float, until: float
    ) -> PenaltyResult:
        first = watch.first_true()
        if first is None:
            return PenaltyResult(penalty.id, 0.0, None, penalty.title, watch.reason)
        points = float(penalty.points)
        reason = first.reason  # what happened, not how things stand at the end
        if penalty.per_minute:
            # A small epsilon so that 600.0 s held, stored as 599.9999…, is ten minutes.
            minutes = int((watch.held_seconds(until) + 1e-6) // 60)
            points = float(penalty.points * minutes)
            reason = f"{minutes} minute(s): {reason}"
        if penalty.max_points is not None:
            points = min(points, float(penalty.max_points))
        return PenaltyResult(
            penalty.id, points, round(max(0.0, first.t - origin), 3), penalty.title, reason
        )

    def _collateral_result(self, origin: float) -> PenaltyResult | None:
        policy = collateral_policy(self.scenario)
        if policy is None:
            return None
        items = collateral_damage(self.state)
        if not items:
            return PenaltyResult(PENALTY_ID, 0.0, None, TITLE, "nothing was damaged")
        listed: list[dict[str, Any]] = [
            {
                "kind": item.kind,
                "name": item.name,
                "detail": item.detail,
                "at_s": round(max(0.0, item.t - origin), 3),
                "by": item.by,
            }
            for item in items
        ]
        shown = "; ".join(f"{item.detail} ({item.by})" for item in items[:6])
        more = f"; and {len(items) - 6} more" if len(items) > 6 else ""
        return PenaltyResult(
            PENALTY_ID,
            float(min(policy.points * len(items), policy.max_points)),
            round(max(0.0, items[0].t - origin), 3),
            TITLE,
            f"{len(items)} item(s): {shown}{more}",
            listed,
        )

    # ── metrics ──

    def _metrics(self, steps: list[StepResult], origin: float, until: float) -> Metrics:
        def all_done(phase: str) -> float | None:
            # A keep step is held, not done: it does not complete a phase.
            times = [s.satisfied_at_s for s in steps if s.phase == phase and not s.keep]
            if not times or any(t is None for t in times):
                return None
            return max(t for t in times if t is not None)

        acknowledging = [s for s in steps if s.phase == "acknowledge" and not s.keep]
        acknowledged: float | None
        if acknowledging:
            # The acknowledge step says when the team acknowledged: the tile agrees with it.
            times = [s.satisfied_at_s for s in acknowledging if s.satisfied_at_s is not None]
            acknowledged = min(times) if times else None
        else:
            # With no notice at all, times count from T0 and any act of the responders counts.
            responded = (
                self.state.first_response_t
                if self.state.detected_t is not None
                else self.state.first_action_t
            )
            acknowledged = None if responded is None else round(max(0.0, responded - origin), 3)
        contained = self.watch(CONTAINED).since()
        return Metrics(
            time_to_acknowledge_s=acknowledged,
            time_to_contain_s=None if contained is None else round(max(0.0, contained - origin), 3),
            time_to_eradicate_s=all_done("eradicate"),
            time_to_recover_s=all_done("recover"),
            outage_s=round(self.state.workload.outage_until(until), 3),
        )


@dataclass(frozen=True)
class Credit:
    """A step's earning: the moment (None when not earned), whose act made its check hold
    (`kept` for a keep step held since detection; None when nobody's did), and why."""

    moment: Moment | None
    by: str | None
    reason: str
    lost: bool = False  # a keep step that broke, or a `throughout` that did: lost for good


def score_journal(
    scenario: Scenario,
    events: Iterable[Event],
    team: str | None = None,
    *,
    now: float | None = None,
) -> Score:
    """The score of a run: its scenario and its journal's events, in journal order.

    `team` overrides the team named in `run.started`; `now` (seconds since T0) is how far a
    run still going has got — by default its last event.
    """
    evaluator = Evaluator(scenario)
    for event in events:
        evaluator.observe(event)
    return evaluator.score(team, now=now)
