"""Runbooks as pytest tests: the `gameday_run` fixture plays a scenario against a runbook.

Installed with gameday (the `pytest11` entry point), so a team's own repository writes

    def test_our_runbook_contains_an_exported_key(gameday_run):
        assert gameday_run("scenarios/exported-keys.yaml", "runbooks/ours.py").passed

`gameday_run(scenario, runbook)` plays the scenario in virtual time, as `gameday run
--clock virtual --responder RUNBOOK` does, in a run directory under the test's `tmp_path`,
and returns a `GamedayRun`: `.passed`, `.score`, `.pass_mark`, `.steps`, `.missed`,
`.penalties`, `.run_dir` (its reports and journal), `.result` (the whole `Score`). Relative
paths are taken from pytest's root directory. Each test process starts one mock account
the first time a test needs it and reuses it for every later run (`gameday_mock`, session
scoped), so `pytest -n auto` (pytest-xdist) gives each worker one warm mock. When a test
that played runs fails, its report gets a section per run saying which steps were missed
and which penalties were incurred, and where the run's report is.

This module imports the framework only when a run is played: pytest loads it in every
session of an environment where gameday is installed.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from gameday.exercise.run import WarmMock
    from gameday.scoring.model import PenaltyResult, Score, StepResult

_PLAYED = pytest.StashKey[list["GamedayRun"]]()
_MISSED = ("failed", "pending")


@dataclass(frozen=True)
class GamedayRun:
    """One scenario played against one runbook: its score, and where its run directory is."""

    scenario: Path
    runbook: str
    run_dir: Path
    result: Score

    @property
    def passed(self) -> bool:
        return self.result.passed

    @property
    def score(self) -> float:
        return self.result.score

    @property
    def pass_mark(self) -> int:
        return self.result.pass_mark

    @property
    def steps(self) -> list[StepResult]:
        return self.result.steps

    @property
    def missed(self) -> list[StepResult]:
        """The steps the runbook did not do by their deadline (or at all).

        Manual steps are not among them: only a facilitator marks those (`unmarked`).
        """
        return [s for s in self.steps if s.status in _MISSED and not s.manual]

    @property
    def unmarked(self) -> list[StepResult]:
        """The manual steps, which no runbook can do: a facilitator marks them in a game day."""
        return [s for s in self.steps if s.status in _MISSED and s.manual]

    @property
    def late(self) -> list[StepResult]:
        """The steps done after their target, for part of their points."""
        return [step for step in self.steps if step.status == "partial"]

    @property
    def penalties(self) -> list[PenaltyResult]:
        """The penalties incurred (those the scenario defines but nobody incurred are left out)."""
        return [penalty for penalty in self.result.penalties if penalty.points > 0]

    def explain(self) -> str:
        """What the run came to, step by step: the text a failing test shows."""
        verdict = "passed" if self.passed else "FAILED"
        lines = [
            f"{self.result.scenario} × {self.runbook}: {verdict}, "
            f"{self.score:.1f}/100 (pass mark {self.pass_mark})"
        ]
        for step in self.missed:
            critical = " (critical)" if step.critical else ""
            why = f" — {step.reason}" if step.reason else ""
            lines.append(f"  missed  {step.id}{critical}: {step.title}{why}")
        for step in self.late:
            lines.append(
                f"  late    {step.id}: {step.title} — {step.awarded:g} of {step.points} points"
            )
        for step in self.unmarked:
            lines.append(f"  manual  {step.id}: {step.title} — not marked (no runbook can do it)")
        for penalty in self.penalties:
            what = penalty.title or penalty.reason
            lines.append(f"  penalty {penalty.id}: -{penalty.points:g} points — {what}")
        lines.append(f"  report: {self.run_dir / 'report.md'}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        missed = ", ".join(step.id for step in self.missed) or "none"
        return (
            f"<gameday {self.result.scenario} × {self.runbook}: {verdict} "
            f"{self.score:.1f}/100 (pass {self.pass_mark}); missed: {missed}>"
        )


class Play(Protocol):
    def __call__(
        self,
        scenario: str | os.PathLike[str],
        runbook: str | os.PathLike[str],
        *,
        seed: int = 0,
        team: str = "pytest",
        templates: str | os.PathLike[str] | None = None,
    ) -> GamedayRun: ...


@pytest.fixture(scope="session")
def gameday_mock() -> Iterator[WarmMock]:
    """This test process's mock account, started by its first run, reused by the next."""
    from gameday.exercise.run import WarmMock

    warm = WarmMock()
    try:
        yield warm
    finally:
        warm.stop()


@pytest.fixture
def gameday_run(gameday_mock: WarmMock, request: pytest.FixtureRequest, tmp_path: Path) -> Play:
    """`gameday_run(scenario, runbook, *, seed=0, team="pytest", templates=None)`: play the
    scenario against the runbook (a Python file, or `replay:FILE`) in virtual time."""
    root = request.config.rootpath
    played = request.node.stash.setdefault(_PLAYED, [])

    def play(
        scenario: str | os.PathLike[str],
        runbook: str | os.PathLike[str],
        *,
        seed: int = 0,
        team: str = "pytest",
        templates: str | os.PathLike[str] | None = None,
    ) -> GamedayRun:
        from rich.console import Console

        from gameday.exercise.run import RunOptions

        scenario_path = root / Path(scenario)
        responder = _responder(str(runbook), root)
        out = tmp_path / f"run-{len(played) + 1}-{scenario_path.stem}"
        options = RunOptions(
            team=team,
            out=out,
            clock="virtual",
            responder=responder,
            seed=seed,
            templates=None if templates is None else root / Path(templates),
            live=False,
        )
        result = gameday_mock.play(scenario_path, options, Console(quiet=True))
        runbook_name = Path(responder.removeprefix("replay:")).name
        run = GamedayRun(scenario_path, runbook_name, result.run_dir.path, result.score)
        played.append(run)
        return run

    return play


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test that played runs tells what each came to, missed steps first."""
    report = yield
    runs = item.stash.get(_PLAYED, [])
    if report.when == "call" and report.failed and runs:
        text = "\n\n".join(run.explain() for run in runs)
        report.sections.append(("gameday: what the runs came to", text))
    return report


def _responder(runbook: str, root: Path) -> str:
    """The runbook's path (or `replay:` file) taken from the root directory when relative."""
    if runbook.startswith("replay:"):
        return "replay:" + str(root / Path(runbook.removeprefix("replay:")))
    return str(root / Path(runbook))


__all__ = ["GamedayRun", "Play", "gameday_mock", "gameday_run"]
