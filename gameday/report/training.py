"""The training report: many runs — several teams, several game days — read together.

`load_run(run_dir)` reads what one run left (scenario.yaml, journal.jsonl, score.json) into
a `RunSummary`; `build_training_report(runs)` compares them: teams side by side, a
leaderboard, how long each step took across runs, the steps most often missed, and each
team's trend across dates (from the runs' start times).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gameday.errors import RunDirError, ScenarioError
from gameday.journal import Event, read_journal
from gameday.report.content import SIMULATION_MARKER
from gameday.report.evidence import RunInfo, run_info
from gameday.scenario import load_scenario
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

Scorer = Callable[[Scenario, list[Event], str | None], Score]

TEAM_COLOURS = (
    "#1849a9",
    "#c05600",
    "#237a45",
    "#6941c6",
    "#b42318",
    "#0e7490",
    "#a15c07",
    "#475467",
)


@dataclass(frozen=True)
class RunSummary:
    """One finished run, as its run directory holds it."""

    run_dir: Path
    scenario: Scenario
    score: Score
    events: tuple[Event, ...]
    info: RunInfo

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def team(self) -> str:
        return self.score.team or self.info.team

    @property
    def started(self) -> datetime | None:
        """When the exercise was played (the wall clock at its start), not the scenario's
        own date: a virtual run replays a fictional day in seconds, today. A journal that
        kept no wall clock falls back to T0."""
        return self.info.played or self.info.t0


def summarise_run(
    run_dir: Path, scenario: Scenario, events: Sequence[Event], score: Score
) -> RunSummary:
    journal = tuple(events)
    return RunSummary(run_dir, scenario, score, journal, run_info(journal, scenario, score))


def load_run(run_dir: Path, scorer: Scorer | None = None) -> RunSummary:
    """Read a run directory. Without a score.json, `scorer` (scenario, events, team) → Score
    scores it from the journal; with neither, the run cannot be reported."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    for name in ("scenario.yaml", "journal.jsonl"):
        if not (run_dir / name).is_file():
            raise RunDirError(f"{run_dir}: no {name} here — is this a run directory?")
    try:
        scenario = load_scenario(run_dir / "scenario.yaml")
    except ScenarioError as error:
        raise RunDirError(f"{run_dir}: its scenario.yaml does not load:\n{error}") from error
    events = read_journal(run_dir / "journal.jsonl")
    score_path = run_dir / "score.json"
    if score_path.is_file():
        score = _read_score(score_path)
    elif scorer is not None:
        started = next((e for e in events if e.get("kind") == "run.started"), {})
        score = scorer(scenario, events, started.get("team"))
    else:
        raise RunDirError(f"{run_dir}: no score.json — score the run before reporting on it")
    return summarise_run(run_dir, scenario, events, score)


def _read_score(path: Path) -> Score:
    try:
        return Score.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as error:
        raise RunDirError(f"{path}: not a score file this version can read ({error})") from error


# ── comparing runs ────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class StepSample:
    team: str
    run: str
    status: str
    taken_s: float | None  # from detection; None when the step was not met


@dataclass(frozen=True)
class TeamCell:
    """How one team did on one step across its runs."""

    runs: int
    met: int
    median_s: float | None


@dataclass(frozen=True)
class StepStats:
    """One expected step across every run of its scenario."""

    scenario: str
    id: str
    title: str
    target_s: float
    deadline_s: float
    critical: bool
    samples: tuple[StepSample, ...]

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def met(self) -> int:
        return sum(1 for s in self.samples if s.status in ("success", "partial"))

    @property
    def late(self) -> int:
        return sum(1 for s in self.samples if s.status == "partial")

    @property
    def missed(self) -> int:
        return self.runs - self.met

    @property
    def missed_by(self) -> list[str]:
        """The teams that missed the step in at least one run."""
        return sorted({s.team for s in self.samples if s.status not in ("success", "partial")})

    @property
    def miss_rate(self) -> float:
        return self.missed / self.runs if self.runs else 0.0

    @property
    def times(self) -> list[float]:
        return sorted(s.taken_s for s in self.samples if s.taken_s is not None)

    @property
    def quartiles(self) -> tuple[float, float, float] | None:
        """First quartile, median and third quartile of the times taken, when any."""
        times = self.times
        if not times:
            return None
        if len(times) == 1:
            return times[0], times[0], times[0]
        q1, median, q3 = statistics.quantiles(times, n=4, method="inclusive")
        return q1, median, q3

    def for_team(self, team: str) -> TeamCell:
        mine = [s for s in self.samples if s.team == team]
        times = [s.taken_s for s in mine if s.taken_s is not None]
        return TeamCell(
            runs=len(mine),
            met=sum(1 for s in mine if s.status in ("success", "partial")),
            median_s=statistics.median(times) if times else None,
        )


@dataclass(frozen=True)
class TeamSummary:
    team: str
    colour: str
    runs: int
    passed: int
    best: float
    mean: float
    latest: float
    mean_time_to_acknowledge_s: float | None
    mean_time_to_contain_s: float | None
    mean_time_to_eradicate_s: float | None
    mean_time_to_recover_s: float | None
    outage_s: float
    penalty_points: float


@dataclass(frozen=True)
class LeaderRow:
    rank: int
    run: RunSummary

    @property
    def score(self) -> Score:
        return self.run.score


@dataclass(frozen=True)
class TrendPoint:
    run: str
    started: datetime | None
    score: float
    passed: bool


@dataclass(frozen=True)
class TrainingReport:
    runs: tuple[RunSummary, ...]
    scenarios: tuple[Scenario, ...]
    teams: tuple[TeamSummary, ...]
    leaderboard: tuple[LeaderRow, ...]
    steps: tuple[StepStats, ...]
    trends: tuple[tuple[str, tuple[TrendPoint, ...]], ...]
    marker: str = SIMULATION_MARKER

    @property
    def team_names(self) -> tuple[str, ...]:
        return tuple(t.team for t in self.teams)

    @property
    def colours(self) -> dict[str, str]:
        return {t.team: t.colour for t in self.teams}

    @property
    def pass_mark(self) -> int:
        """The pass mark the runs share (the highest, when scenarios differ)."""
        return max((r.score.pass_mark for r in self.runs), default=0)

    @property
    def most_missed(self) -> tuple[StepStats, ...]:
        """Steps not met (or met late) in some run, the most often missed first."""
        troubled = [s for s in self.steps if s.missed or s.late]
        return tuple(sorted(troubled, key=lambda s: (-s.miss_rate, -s.late, s.scenario, s.id)))

    @property
    def first_day(self) -> datetime | None:
        days = [r.started for r in self.runs if r.started is not None]
        return min(days) if days else None

    @property
    def last_day(self) -> datetime | None:
        days = [r.started for r in self.runs if r.started is not None]
        return max(days) if days else None

    def steps_of(self, scenario_id: str) -> tuple[StepStats, ...]:
        return tuple(s for s in self.steps if s.scenario == scenario_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "marker": self.marker,
            "runs": [
                {
                    "run": r.name,
                    "team": r.team,
                    "scenario": r.scenario.id,
                    "started": r.started.isoformat() if r.started else None,
                    "score": r.score.score,
                    "passed": r.score.passed,
                    "pass_mark": r.score.pass_mark,
                }
                for r in self.runs
            ],
            "teams": [{k: v for k, v in vars(t).items() if k != "colour"} for t in self.teams],
            "leaderboard": [
                {
                    "rank": row.rank,
                    "run": row.run.name,
                    "team": row.run.team,
                    "score": row.score.score,
                    "passed": row.score.passed,
                }
                for row in self.leaderboard
            ],
            "steps": [
                {
                    "scenario": s.scenario,
                    "step": s.id,
                    "title": s.title,
                    "target_s": s.target_s,
                    "deadline_s": s.deadline_s,
                    "runs": s.runs,
                    "met": s.met,
                    "late": s.late,
                    "missed": s.missed,
                    "quartiles_s": list(s.quartiles) if s.quartiles else None,
                    "samples": [vars(sample) for sample in s.samples],
                }
                for s in self.steps
            ],
            "most_missed": [f"{s.scenario}/{s.id}" for s in self.most_missed],
            "trends": {
                team: [
                    {
                        "run": p.run,
                        "started": p.started.isoformat() if p.started else None,
                        "score": p.score,
                        "passed": p.passed,
                    }
                    for p in points
                ]
                for team, points in self.trends
            },
        }


def build_training_report(runs: Sequence[RunSummary]) -> TrainingReport:
    ordered = tuple(sorted(runs, key=_chronological))
    scenarios: dict[str, Scenario] = {}
    for run in ordered:
        scenarios.setdefault(run.scenario.id, run.scenario)
    team_names = sorted({r.team for r in ordered})
    colours = {team: TEAM_COLOURS[i % len(TEAM_COLOURS)] for i, team in enumerate(team_names)}
    return TrainingReport(
        runs=ordered,
        scenarios=tuple(scenarios.values()),
        teams=tuple(
            _team_summary(t, colours[t], [r for r in ordered if r.team == t]) for t in team_names
        ),
        leaderboard=_leaderboard(ordered),
        steps=tuple(_step_stats(ordered, scenarios)),
        trends=tuple(
            (
                team,
                tuple(
                    TrendPoint(r.name, r.started, r.score.score, r.score.passed)
                    for r in ordered
                    if r.team == team
                ),
            )
            for team in team_names
        ),
    )


def _chronological(run: RunSummary) -> tuple[float, str]:
    return (run.started.timestamp() if run.started else 0.0, run.name)


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _team_summary(team: str, colour: str, runs: list[RunSummary]) -> TeamSummary:
    scores = [r.score.score for r in runs]
    metrics = [r.score.metrics for r in runs]
    return TeamSummary(
        team=team,
        colour=colour,
        runs=len(runs),
        passed=sum(1 for r in runs if r.score.passed),
        best=max(scores),
        mean=statistics.fmean(scores),
        latest=scores[-1],
        mean_time_to_acknowledge_s=_mean([m.time_to_acknowledge_s for m in metrics]),
        mean_time_to_contain_s=_mean([m.time_to_contain_s for m in metrics]),
        mean_time_to_eradicate_s=_mean([m.time_to_eradicate_s for m in metrics]),
        mean_time_to_recover_s=_mean([m.time_to_recover_s for m in metrics]),
        outage_s=sum(m.outage_s for m in metrics),
        penalty_points=sum(p.points for r in runs for p in r.score.penalties),
    )


def _leaderboard(runs: Sequence[RunSummary]) -> tuple[LeaderRow, ...]:
    # Higher score first; on a tie, whoever contained faster, then whoever ran first.
    def order(run: RunSummary) -> tuple[float, float, float]:
        contain = run.score.metrics.time_to_contain_s
        return (
            -run.score.score,
            contain if contain is not None else float("inf"),
            _chronological(run)[0],
        )

    return tuple(LeaderRow(i, run) for i, run in enumerate(sorted(runs, key=order), start=1))


def _step_stats(runs: Sequence[RunSummary], scenarios: dict[str, Scenario]) -> list[StepStats]:
    stats = []
    for scenario_id, scenario in scenarios.items():
        mine = [r for r in runs if r.scenario.id == scenario_id]
        for step in scenario.steps:
            samples = []
            for run in mine:
                result = next((s for s in run.score.steps if s.id == step.id), None)
                if result is None:
                    continue
                # Times in score.json already count from detection.
                met = result.status in ("success", "partial")
                taken = result.satisfied_at_s if met else None
                samples.append(StepSample(run.team, run.name, result.status, taken))
            stats.append(
                StepStats(
                    scenario=scenario_id,
                    id=step.id,
                    title=step.title,
                    target_s=step.target,
                    deadline_s=step.deadline,
                    critical=step.critical,
                    samples=tuple(samples),
                )
            )
    return stats
