"""The content of one run's report, computed once and shared by every writer.

`build_run_report(scenario, events, score)` joins the three inputs — the scenario (what was
expected), the journal (what happened) and the score (how it was judged) — into a
`RunReport`: rows ready for a table, the attacker's footprint, the outages and the
recommendations. Writers only lay it out; none of them computes anything of its own, so the
HTML, the Markdown and the JUnit file can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gameday.journal import Event
from gameday.report import evidence
from gameday.report.consequences import Changes, key_owners, stopping_acts, what_changed
from gameday.report.drill import DrillReport
from gameday.report.evidence import CallSummary, Resource, RunInfo, Span
from gameday.report.formatting import after_notice, clock, minutes, points
from gameday.report.proof import Happening, StepProof, prove_steps
from gameday.scenario.model import Check, Collateral, Scenario
from gameday.scoring.model import PenaltyResult, Score, StepResult

SIMULATION_MARKER = "SIMULATION — game day exercise"

STATUS_LABELS = {
    "success": "Met",
    "partial": "Late",
    "failed": "Missed",
    "pending": "Not met",
}
# Who made a step's check hold, in words (score.json's `by`; see gameday.scoring.state.doer).
DOER_LABELS = {
    "team": "team",
    "facilitator": "facilitator",
    "kept": "kept (nobody broke it)",
    "attacker": "attacker",
    "aws": "AWS",
    "workload": "workload",
}
COLLATERAL_PENALTY = "collateral-damage"


def doer_label(by: str | None) -> str:
    """`team`, `attacker`, `AWS` …; a responder with someone else's key says whose."""
    if by is None:
        return "—"
    return DOER_LABELS.get(by, by)


@dataclass(frozen=True)
class StepRow:
    """An expected step: the scenario's check joined with the score's result.

    Every time in score.json counts from detection (the first notice a customer receives), or
    from T0 when there was none: `origin_s` is that moment on the run clock. The `*_t`
    properties put the step's times on the run clock (seconds since T0), where the timeline
    draws them.
    """

    result: StepResult
    check: Check | None
    hint: str
    origin_s: float
    proof: StepProof = field(default_factory=StepProof)

    @property
    def id(self) -> str:
        return self.result.id

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.result.status, self.result.status)

    @property
    def check_type(self) -> str:
        return self.check.type if self.check is not None else ""

    @property
    def met(self) -> bool:
        return self.result.status in ("success", "partial")

    @property
    def target_t(self) -> float:
        return self.origin_s + self.result.target_s

    @property
    def deadline_t(self) -> float:
        return self.origin_s + self.result.deadline_s

    @property
    def satisfied_t(self) -> float | None:
        if self.result.satisfied_at_s is None:
            return None
        return self.origin_s + self.result.satisfied_at_s

    @property
    def taken_s(self) -> float | None:
        """How long after detection the step was satisfied."""
        return self.result.satisfied_at_s

    @property
    def target_label(self) -> str:
        """The target, said as what it is: a time after the first notice."""
        return after_notice(self.result.target_s)

    @property
    def deadline_label(self) -> str:
        return after_notice(self.result.deadline_s)

    @property
    def done_at(self) -> str:
        """When the step was met, on the run clock (`T+5:10`), or — when it was not."""
        return clock(self.satisfied_t) if self.met else "—"

    @property
    def done_after(self) -> str:
        """How long after the first notice it was met, in words."""
        return after_notice(self.taken_s) if self.met else ""

    @property
    def evidence_lines(self) -> tuple[str, ...]:
        """The step's evidence as it was: what met it (who, which call, when), what later
        broke it, what broke the condition its window required; for a step not met, why not."""
        lines = []
        done, undone, broken = self.proof.done, self.proof.undone, self.proof.condition_broken
        if done is not None and self.met:
            lines.append(f"Met at {done.when}: {done.text}.")
        elif done is not None:
            lines.append(f"Its check held from {done.when}: {done.text}.")
        if undone is not None:
            lines.append(f"Broken at {undone.when}: {undone.text}.")
        if broken is not None:
            lines.append(f"Its window's condition broke at {broken.when}: {broken.text}.")
        if not self.met:
            lines.append(f"Not met: {self.why_not}.")
        return tuple(lines)

    @property
    def why_not(self) -> str:
        """The score's reason for a step not met, without what the evidence already says."""
        reason = self.result.reason
        for prefix in ("satisfied only at or after the deadline: ",):
            if reason.startswith(prefix):
                return f"done only after its deadline ({self.deadline_label})"
        if " — but its window required that " in reason:
            condition = reason.split(" — but its window required that ", 1)[1]
            return "its window required that " + condition.split(", and that broke", 1)[0]
        return reason or "not done"

    @property
    def awarded_label(self) -> str:
        return f"{points(self.result.awarded)} / {self.result.points}"

    @property
    def done_by(self) -> str:
        """Whose act made the step's check hold — credited or not (the reason says which)."""
        return doer_label(self.result.by)


@dataclass(frozen=True)
class PenaltyRow:
    """A penalty the scenario defines (or the score applied), and whether it was incurred."""

    id: str
    title: str
    points: float
    possible: int
    at_t: float | None  # on the run clock (score.json counts it from detection)
    reason: str
    check_type: str
    incurred: bool
    per_minute: bool = False


@dataclass(frozen=True)
class DamageRow:
    """One item of collateral damage: what was destroyed or disabled, when and by whom."""

    kind: str
    name: str
    detail: str
    t: float  # on the run clock
    by: str

    @property
    def by_label(self) -> str:
        return doer_label(self.by)


@dataclass(frozen=True)
class TechniqueRow:
    t: float
    technique: str
    status: str
    created: tuple[str, ...]
    error_codes: tuple[str, ...]
    repeat: bool = False


@dataclass(frozen=True)
class ActivityRow:
    """Something a responder or the facilitator did outside the AWS API."""

    t: float
    kind: str  # note | mark | repo.private | repo.deleted | repo.pushed
    actor: str
    text: str


@dataclass(frozen=True)
class Advice:
    """A recommendation as given to one run: what to do, and why it applies here."""

    id: str
    title: str
    body: str
    evidence: str
    standing: bool


@dataclass(frozen=True)
class RunReport:
    scenario: Scenario
    score: Score
    info: RunInfo
    events: tuple[Event, ...]
    end_s: float
    detected_s: float | None
    steps: tuple[StepRow, ...]
    penalties: tuple[PenaltyRow, ...]
    outages: tuple[Span, ...]
    techniques: tuple[TechniqueRow, ...]
    attacker_calls: tuple[CallSummary, ...]
    responder_calls: tuple[CallSummary, ...]
    footprint: tuple[Resource, ...]
    activity: tuple[ActivityRow, ...]
    collateral: tuple[DamageRow, ...] = ()
    recommendations: tuple[Advice, ...] = ()
    changes: Changes = field(default_factory=lambda: Changes((), ()))
    outage_cause: Happening | None = None
    debrief: tuple[Any, ...] = ()  # gameday.report.debrief.Moment, read from this report
    drill: DrillReport | None = None  # the scenario's drill phase, kept in RUN_DIR/drill/
    marker: str = SIMULATION_MARKER

    @property
    def verdict(self) -> str:
        return "PASSED" if self.score.passed else "FAILED"

    @property
    def missed_critical(self) -> tuple[StepRow, ...]:
        return tuple(s for s in self.steps if s.result.critical and not s.met)

    @property
    def verdict_reasons(self) -> tuple[str, ...]:
        score = points(self.score.score)
        reasons = []
        if self.score.score >= self.score.pass_mark:
            reasons.append(f"Score {score} reaches the pass mark of {self.score.pass_mark}.")
        else:
            reasons.append(f"Score {score} is below the pass mark of {self.score.pass_mark}.")
        reasons.extend(
            f"Critical step not met: {s.result.title} ({s.id})." for s in self.missed_critical
        )
        return tuple(reasons)

    @property
    def incurred_penalties(self) -> tuple[PenaltyRow, ...]:
        return tuple(p for p in self.penalties if p.incurred)

    @property
    def penalty_points(self) -> float:
        return sum(p.points for p in self.incurred_penalties)

    @property
    def step_points(self) -> tuple[float, int]:
        return (
            sum(s.result.awarded for s in self.steps),
            sum(s.result.points for s in self.steps),
        )

    @property
    def outage_s(self) -> float:
        return self.score.metrics.outage_s or sum(s.length_s for s in self.outages)

    @property
    def leftovers(self) -> tuple[Resource, ...]:
        return tuple(r for r in self.footprint if r.left_behind)

    @property
    def attacker_successful_calls(self) -> int:
        return sum(c.succeeded for c in self.attacker_calls)

    @property
    def attacker_last_success_s(self) -> float | None:
        times = [
            float(e["t"])
            for e in evidence.api_calls(self.events, "attacker")
            if evidence.succeeded(e)
        ]
        return max(times) if times else None

    @property
    def unused_regions(self) -> tuple[str, ...]:
        """Regions where the attacker left something and the company runs nothing."""
        used = set(self.scenario.account.regions)
        return tuple(
            sorted({r.region for r in self.leftovers if r.region and r.region not in used})
        )

    @property
    def tiles(self) -> tuple[tuple[str, str, str], ...]:
        """The headline times, each as (label, value, what it counts from). Acknowledged
        says what the acknowledge step says: no time when that step was not met."""
        tiles = []
        for label, value in self.metrics:
            if label == "Acknowledged":
                acknowledging = [
                    s for s in self.steps if s.result.phase == "acknowledge" and not s.result.keep
                ]
                if acknowledging and not any(s.met for s in acknowledging):
                    step = acknowledging[0]
                    tiles.append((label, step.status_label, f"step {step.id}"))
                    continue
            if value is None:
                tiles.append((label, "—", "not reached"))
            else:
                moment = clock((self.detected_s or 0.0) + value)
                tiles.append((label, minutes(value), f"after the first notice · {moment}"))
        return tuple(tiles)

    @property
    def metrics(self) -> tuple[tuple[str, float | None], ...]:
        m = self.score.metrics
        return (
            ("Acknowledged", m.time_to_acknowledge_s),
            ("Contained", m.time_to_contain_s),
            ("Eradicated", m.time_to_eradicate_s),
            ("Recovered", m.time_to_recover_s),
        )

    def steps_checking(self, *check_types: str) -> tuple[StepRow, ...]:
        return tuple(s for s in self.steps if s.check_type in check_types)

    def penalties_checking(self, *check_types: str) -> tuple[PenaltyRow, ...]:
        return tuple(p for p in self.incurred_penalties if p.check_type in check_types)


def build_run_report(scenario: Scenario, events: Sequence[Event], score: Score) -> RunReport:
    # Imported here: the recommendation rules read a RunReport, so they depend on this module.
    from gameday.report.recommendations import advise

    journal = tuple(events)
    end_s = evidence.run_end_s(journal, scenario, score)
    detected_s = evidence.detection_s(score)
    report = RunReport(
        scenario=scenario,
        score=score,
        info=evidence.run_info(journal, scenario, score),
        events=journal,
        end_s=end_s,
        detected_s=detected_s,
        steps=_step_rows(scenario, score, detected_s or 0.0, prove_steps(score, journal)),
        penalties=_penalty_rows(scenario, score.penalties, detected_s or 0.0),
        outages=tuple(evidence.outage_spans(journal, end_s)),
        techniques=tuple(_technique_rows(journal)),
        attacker_calls=tuple(evidence.summarise_calls(journal, "attacker")),
        responder_calls=tuple(evidence.summarise_calls(journal, "responder")),
        footprint=tuple(evidence.attacker_footprint(journal)),
        activity=tuple(_activity_rows(journal)),
        collateral=tuple(_damage_rows(score.penalties, detected_s or 0.0)),
    )
    report = replace(
        report,
        recommendations=tuple(advise(report)),
        changes=what_changed(journal, report.footprint, end_s),
        outage_cause=_outage_cause(journal, report.outages),
    )
    # Imported here: the debrief guide reads a finished RunReport.
    from gameday.report.debrief import debrief_moments

    return replace(report, debrief=debrief_moments(report))


def _outage_cause(events: Sequence[Event], outages: Sequence[Span]) -> Happening | None:
    """The team's act that stopped the key the workload was running on when it first went
    down: the probe that failed names the key, the journal names who stopped it."""
    if not outages:
        return None
    start = outages[0].start_s
    probe = next(
        (e for e in events if e.get("kind") == "workload.probe" and float(e["t"]) == start), None
    )
    if probe is None:
        return None
    act = stopping_acts(events, key_owners(events, ())).get(str(probe.get("access_key_id")))
    if act is None or act.t > start:
        return None
    return Happening(act.t, f"the team's {act.action}: it {act.what}")


def _step_rows(
    scenario: Scenario, score: Score, origin_s: float, proofs: dict[str, StepProof]
) -> tuple[StepRow, ...]:
    expected = {step.id: step for step in scenario.steps}
    rows = []
    for result in score.steps:
        step = expected.get(result.id)
        rows.append(
            StepRow(
                result=result,
                check=step.check if step else None,
                hint=step.hint if step else "",
                origin_s=origin_s,
                proof=proofs.get(result.id, StepProof()),
            )
        )
    return tuple(rows)


def _penalty_rows(
    scenario: Scenario, applied: Sequence[PenaltyResult], origin_s: float
) -> tuple[PenaltyRow, ...]:
    def on_run_clock(result: PenaltyResult | None) -> float | None:
        return None if result is None or result.at_s is None else origin_s + result.at_s

    by_id = {p.id: p for p in applied}
    rows = []
    for penalty in scenario.penalties:
        result = by_id.pop(penalty.id, None)
        incurred = result is not None and result.points > 0
        rows.append(
            PenaltyRow(
                id=penalty.id,
                title=(result.title if result and result.title else penalty.title),
                points=result.points if result else 0.0,
                possible=penalty.max_points if penalty.max_points is not None else penalty.points,
                at_t=on_run_clock(result),
                reason=result.reason if result else "",
                check_type=penalty.check.type,
                incurred=incurred,
                per_minute=penalty.per_minute,
            )
        )
    # A penalty the score applied that the scenario does not list (collateral damage).
    for result in by_id.values():
        possible = round(result.points)
        if result.id == COLLATERAL_PENALTY and scenario.collateral is not False:
            terms = scenario.collateral if not isinstance(scenario.collateral, bool) else None
            possible = terms.max_points if terms is not None else Collateral().max_points
        rows.append(
            PenaltyRow(
                id=result.id,
                title=result.title or result.id,
                points=result.points,
                possible=possible,
                at_t=on_run_clock(result),
                reason=result.reason,
                check_type="",
                incurred=result.points > 0,
            )
        )
    return tuple(rows)


def _damage_rows(applied: Sequence[PenaltyResult], origin_s: float) -> list[DamageRow]:
    """The collateral-damage penalty's items, on the run clock."""
    rows = []
    for result in applied:
        if result.id != COLLATERAL_PENALTY:
            continue
        for item in result.items:
            rows.append(
                DamageRow(
                    kind=str(item.get("kind", "")),
                    name=str(item.get("name", "")),
                    detail=str(item.get("detail", "")),
                    t=origin_s + float(item.get("at_s") or 0.0),
                    by=str(item.get("by", "")),
                )
            )
    return rows


def _technique_rows(events: Sequence[Event]) -> list[TechniqueRow]:
    rows = []
    for event in events:
        if event.get("kind") != "attacker.technique":
            continue
        codes = event.get("error_codes") or []
        rows.append(
            TechniqueRow(
                t=float(event["t"]),
                technique=str(event.get("technique", "?")),
                status=str(event.get("status", "")),
                created=tuple(evidence.technique_created(event)),
                error_codes=tuple(str(c) for c in codes),
                repeat=bool(event.get("repeat")),
            )
        )
    return rows


def _activity_rows(events: Sequence[Event]) -> list[ActivityRow]:
    rows = []
    for event in events:
        kind = str(event.get("kind", ""))
        t = float(event.get("t", 0.0))
        if kind == "note":
            rows.append(ActivityRow(t, kind, _text(event.get("actor")), _text(event.get("text"))))
        elif kind == "mark":
            step = _text(event.get("step"))
            rows.append(ActivityRow(t, kind, _text(event.get("by")), f"marked step {step} done"))
        elif kind in ("repo.private", "repo.deleted", "repo.pushed"):
            rows.append(ActivityRow(t, kind, _text(event.get("actor")), _repo_text(event)))
    return rows


def _repo_text(event: Event) -> str:
    kind = event["kind"]
    if kind == "repo.private":
        return "made the repository private"
    if kind == "repo.deleted":
        return "deleted the repository"
    pushed = "force-pushed to the repository" if event.get("forced") else "pushed to the repository"
    if "key_in_history" not in event:
        return pushed
    if event["key_in_history"]:
        return f"{pushed}; the key is still in its history"
    return f"{pushed}; the key is gone from its history"


def _text(value: Any) -> str:
    return "" if value is None else str(value)
