"""Runbooks written to game the score, over the whole library: none of them may win.

Each runbook in `tests/adversarial/runbooks/` is a real attempt to earn points without the
remediation they stand for (doing nothing, calling and claiming — with or without one real
deactivation —, marking its own manual steps, destroying everything, faking rotation, acting
an hour late, acting with the leaked key or a borrowed one). Every scenario of the library
is played, in virtual time with a fixed seed, by each of them and by the library's reference
and careless runbooks, and the scores must hold a facilitator's scrutiny (issue 10's
acceptance):
- no adversarial runbook passes any scenario (but the self-marking one, which does all of the
  reference's work and is held to the reference's score instead);
- doing nothing scores at most 10;
- reference > late by an hour > careless ≥ the box-ticker (call and claim, which changes
  nothing in the account);
- the self-marking team scores no more than the reference: its marks are not credited, and
  every attempt is journaled (a refused command, or the lines it wrote into the journal
  caught as foreign);
- and no runbook stops before its end: each adversary is written to carry on when AWS
  refuses it, so a crash means part of the attempt went untested (and a crashed reference
  or careless run makes the ranking meaningless).

A scenario's runbooks are played in one test, one after another on the test process's warm
mock (`mock_server`, from tests/conftest.py), so under `pytest -n 2` each worker plays whole
scenarios and pays the mock's start-up once. A failure shows the scenario's table — every
runbook's score, whether it passed, the steps it was credited with and the penalties it
incurred — under the list of what broke, so the gaming path reads off the message.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sweeps import library_params

from gameday.exercise.run import RunOptions, RunResult, run_exercise
from gameday.journal import read_journal
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.scenario.library import load_library
from gameday.scenario.model import Scenario
from gameday.world.account import MockAccount

SEED = 7
HERE = Path(__file__).parent / "runbooks"
ADVERSARIES = (
    "do_nothing",
    "call_and_claim",
    "call_and_deactivate",
    "self_marking",
    "scorched_earth",
    "fake_rotation",
    "late_by_an_hour",
    "leaked_key_user",
)
RUNBOOKS: dict[str, Path] = {
    "reference": PROJECT_ROOT / "runbooks" / "reference.py",
    "careless": PROJECT_ROOT / "runbooks" / "careless.py",
    **{name: HERE / f"{name}.py" for name in ADVERSARIES},
}
DO_NOTHING_AT_MOST = 10.0
FINISHED = ("returned", "run-ended", "exited")  # how a runbook that did not crash ends
LIBRARY = {entry.path.stem: entry for entry in load_library(SCENARIOS)}
SCENARIO_IDS = sorted(LIBRARY)


@dataclass(frozen=True)
class Played:
    """What one runbook got on one scenario, and the journal facts the rules look at."""

    runbook: str
    score: float
    passed: bool
    credited: dict[str, float]  # step id → points awarded (only steps with points)
    manual_credited: list[str]  # manual steps awarded points
    penalties: dict[str, float]  # penalty id → points taken (only those incurred)
    crash: str | None  # why it stopped before its end, as journaled
    refused: list[dict[str, Any]]  # facilitator commands the run refused
    foreign: int  # lines someone else wrote into the journal, caught and set aside

    @classmethod
    def of(cls, runbook: str, result: RunResult) -> Played:
        events = read_journal(result.run_dir.journal)
        return cls(
            runbook=runbook,
            score=float(result.score.score),
            passed=bool(result.score.passed),
            credited={s.id: s.awarded for s in result.score.steps if s.awarded > 0},
            manual_credited=[s.id for s in result.score.steps if s.manual and s.awarded > 0],
            penalties={p.id: p.points for p in result.score.penalties if p.points},
            crash=crash_of(events),
            refused=[e for e in events if "refused" in str(e.get("kind", ""))],
            foreign=sum(1 for e in events if e.get("kind") == "journal.foreign"),
        )


def crash_of(events: list[dict[str, Any]]) -> str | None:
    """Why the runbook stopped before its end — its exception, or its host's death — if so."""
    for event in events:
        if event.get("kind") == "responder.error":
            return str(event.get("message")).splitlines()[0]
        if event.get("kind") == "responder.finished" and event.get("outcome") not in FINISHED:
            return f"the runbook finished {event.get('outcome')}"
    return None


def scenario(scenario_id: str) -> Scenario:
    loaded = LIBRARY[scenario_id].scenario
    assert loaded is not None, LIBRARY[scenario_id].error
    return loaded


def play(scenario_id: str, runbook: str, out: Path, mock: MockAccount) -> RunResult:
    options = RunOptions(
        team=runbook,
        out=out,
        clock="virtual",
        responder=str(RUNBOOKS[runbook]),
        seed=SEED,
        live=False,
        account=mock,
    )
    return run_exercise(SCENARIOS / f"{scenario_id}.yaml", options, Console(file=io.StringIO()))


@pytest.fixture(scope="module")
def plays(
    mock_server: MockAccount, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, Played]]:
    """Every runbook on a scenario, played once per test process and kept."""
    cache: dict[str, dict[str, Played]] = {}

    def every_runbook_on(scenario_id: str) -> dict[str, Played]:
        if scenario_id not in cache:
            root = tmp_path_factory.mktemp(scenario_id)
            cache[scenario_id] = {
                name: Played.of(name, play(scenario_id, name, root / name, mock_server))
                for name in RUNBOOKS
            }
        return cache[scenario_id]

    return every_runbook_on


# ── the rules ─────────────────────────────────────────────────────────────────────────────


def broken_rules(loaded: Scenario, played: dict[str, Played]) -> list[str]:
    """Every way the scenario's scores can be gamed, in words; empty when none can."""
    broken: list[str] = [
        f"{name}, a yardstick of the ranking, did not run to its end: {played[name].crash}"
        for name in ("reference", "careless")
        if played[name].crash is not None
    ]
    for name in ADVERSARIES:
        run = played[name]
        # The self-marking team does all of the reference's work: its bar is the reference's
        # score (below), not failing.
        if run.passed and name != "self_marking":
            broken.append(f"{name} PASSED with {run.score:g} (pass mark {loaded.pass_mark})")
        if run.crash is not None:
            broken.append(f"{name} stopped with a traceback: {run.crash}")

    nothing = played["do_nothing"]
    if nothing.score > DO_NOTHING_AT_MOST:
        broken.append(
            f"do_nothing scored {nothing.score:g} > {DO_NOTHING_AT_MOST:g} for {credit_of(nothing)}"
        )

    ladder = ("reference", "late_by_an_hour", "careless", "call_and_claim")
    for better, worse in itertools.pairwise(ladder):
        high, low = played[better], played[worse]
        strictly = worse != "call_and_claim"  # careless ≥ box-ticker; the rest strictly
        if high.score < low.score or (strictly and high.score == low.score):
            broken.append(
                f"{better} {high.score:g} is not {'>' if strictly else '≥'} "
                f"{worse} {low.score:g} ({worse} was credited {credit_of(low)})"
            )

    marking, reference = played["self_marking"], played["reference"]
    if marking.score > reference.score:
        extra = {
            step: points
            for step, points in marking.credited.items()
            if points > reference.credited.get(step, 0.0)
        }
        broken.append(
            f"self_marking {marking.score:g} > reference {reference.score:g}: more credit for "
            f"{shown(extra)}"
        )
    if marking.manual_credited:
        broken.append(
            "self_marking's own marks were credited: "
            + ", ".join(f"{step} (+{marking.credited[step]:g})" for step in marking.manual_credited)
        )
    manual = [step.id for step in loaded.steps if step.check.type == "manual"]
    refused = {str(e.get("step")) for e in marking.refused if e.get("command") == "mark"}
    unrecorded = [step for step in manual if step not in refused]
    if unrecorded:
        broken.append(
            "self_marking's `gameday mark` of "
            + ", ".join(unrecorded)
            + " left no refusal in the journal"
        )
    if not any(e.get("command") == "note" for e in marking.refused):
        broken.append("self_marking's `gameday note --as facilitator` left no refusal")
    if not marking.foreign:
        broken.append("self_marking's mark lines written into journal.jsonl left no trace")
    return broken


def credit_of(run: Played) -> str:
    penalties = f"; penalties {shown(run.penalties)}" if run.penalties else ""
    return shown(run.credited) + penalties


def shown(points: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in points.items()) or "nothing"


def table(loaded: Scenario, played: Iterable[Played]) -> str:
    rows = [
        f"{loaded.id} (pass mark {loaded.pass_mark})",
        f"  {'runbook':<20} {'score':>6}  {'passed':<6}  credited steps | penalties",
    ]
    for run in played:
        penalties = f" | {shown(run.penalties)}" if run.penalties else ""
        rows.append(
            f"  {run.runbook:<20} {run.score:>6g}  {'PASS' if run.passed else 'fail':<6}  "
            f"{shown(run.credited)}{penalties}"
        )
    return "\n".join(rows)


# ── the test ──────────────────────────────────────────────────────────────────────────────


# The quick suite plays the seed scenario; the sweep (CI) plays the whole library.
@pytest.mark.parametrize(
    "scenario_id", library_params(SCENARIO_IDS, quick={"exported-keys-in-script"})
)
def test_no_runbook_games_the_score(
    scenario_id: str, plays: Callable[[str], dict[str, Played]]
) -> None:
    loaded = scenario(scenario_id)
    played = plays(scenario_id)
    broken = broken_rules(loaded, played)
    assert not broken, (
        f"{len(broken)} way(s) to game {scenario_id}:\n- "
        + "\n- ".join(broken)
        + "\n\n"
        + table(loaded, played.values())
    )
