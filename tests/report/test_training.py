"""The training report: loading run directories, comparing runs, and writing it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import RunDirError
from gameday.report import RunSummary, load_run, summarise_run, write_training_report
from gameday.report.training import build_training_report
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

from .runs import T0, careful_run, careless_run, save_run

Saver = Callable[[str, list[dict[str, Any]], Score | None], Path]


@pytest.fixture()
def three_runs(scenario: Scenario, run_saver: Saver) -> list[RunSummary]:
    """Team blue twice (careless, then two weeks later careful and faster), red once."""
    dirs = [
        run_saver("report-fixture-blue-20260302T123312Z", *careless_run(scenario, "blue", T0)),
        run_saver(
            "report-fixture-blue-20260316T123312Z",
            *careful_run(scenario, "blue", T0 + timedelta(days=14), speed=1.5),
        ),
        run_saver(
            "report-fixture-red-20260303T123312Z",
            *careful_run(scenario, "red", T0 + timedelta(days=1)),
        ),
    ]
    return [load_run(d) for d in dirs]


def test_a_run_directory_loads_with_its_scenario_journal_and_score(
    scenario: Scenario, run_saver: Saver
) -> None:
    events, score = careless_run(scenario)
    run = load_run(run_saver("run-1", events, score))
    assert run.scenario == scenario
    assert run.score == score
    assert list(run.events) == events
    assert run.team == "blue"
    assert run.started == T0


def test_a_run_without_a_score_is_scored_by_the_scorer_given(
    scenario: Scenario, run_saver: Saver
) -> None:
    events, score = careless_run(scenario)
    run_dir = run_saver("run-1", events, None)
    with pytest.raises(RunDirError, match=re.escape("no score.json — score the run")):
        load_run(run_dir)
    seen: list[tuple[str, int, str | None]] = []

    def scorer(s: Scenario, e: list[dict[str, Any]], team: str | None) -> Score:
        seen.append((s.id, len(e), team))
        return score

    assert load_run(run_dir, scorer).score == score
    assert seen == [(scenario.id, len(events), "blue")]


def test_what_is_not_a_run_directory_is_said_plainly(tmp_path: Path, run_saver: Saver) -> None:
    with pytest.raises(RunDirError, match="no such run directory"):
        load_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirError, match=re.escape("no scenario.yaml here")):
        load_run(tmp_path / "empty")
    run_dir = run_saver("broken", [], None)
    (run_dir / "score.json").write_text('{"scenario": "x"}')
    with pytest.raises(RunDirError, match="not a score file"):
        load_run(run_dir)
    (run_dir / "scenario.yaml").write_text("id: [unclosed\n")
    with pytest.raises(RunDirError, match=re.escape("its scenario.yaml does not load")):
        load_run(run_dir)


def test_runs_are_compared_team_by_team_and_step_by_step(three_runs: list[RunSummary]) -> None:
    report = build_training_report(three_runs)
    assert [r.team for r in report.runs] == ["blue", "red", "blue"]  # by date
    assert report.team_names == ("blue", "red")
    blue, red = report.teams
    assert (blue.runs, blue.passed, blue.best, blue.latest) == (2, 1, 90, 90)
    assert blue.mean == pytest.approx((12.89 + 90) / 2)
    assert blue.outage_s == 600 and red.outage_s == 0
    assert blue.penalty_points == 25
    # Equal scores: the faster containment ranks first.
    assert [(row.rank, row.run.team, row.score.score) for row in report.leaderboard] == [
        (1, "blue", 90),
        (2, "red", 90),
        (3, "blue", 12.89),
    ]
    disable = next(s for s in report.steps if s.id == "disable-leaked-key")
    assert (disable.runs, disable.met, disable.late, disable.missed) == (3, 3, 1, 0)
    assert disable.times == [260, 390, 790]
    assert disable.quartiles == (325, 390, 590)
    assert disable.for_team("blue").median_s == 525
    assert disable.for_team("red").met == 1
    rotate = next(s for s in report.steps if s.id == "rotate-workload-key")
    assert rotate.missed_by == ["blue", "red"]
    assert report.most_missed[0] is rotate
    assert report.most_missed[-1] is disable  # met late once, never missed
    assert dict(report.trends)["blue"][0].score == 12.89
    assert [p.passed for p in dict(report.trends)["blue"]] == [False, True]


def test_a_training_report_over_three_runs_of_two_teams_renders_in_every_format(
    tmp_path: Path, three_runs: list[RunSummary]
) -> None:
    paths = write_training_report(three_runs, tmp_path / "training")
    assert [p.name for p in paths] == ["training.html", "training.md", "training.json"]
    html, md, raw = (p.read_text(encoding="utf-8") for p in paths)
    assert "SIMULATION — game day exercise" in html and "<script" not in html
    assert html.count("<svg ") == 2  # step times, trend
    for section in ("Leaderboard", "Teams side by side", "How long each step took",
                    "Steps most often missed", "Trend"):  # fmt: skip
        assert f">{section}</h2>" in html and f"## {section}" in md
    assert 'class="step-times-row"' in html and 'class="trend-team"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "| 1 | **blue** | `report-fixture-blue-20260316T123312Z` |" in md
    assert "- **blue**: 2026-03-02 12.9 (failed) → 2026-03-16 90 (passed)" in md
    leaderboard = md.split("## Leaderboard", 1)[1].split("##", 1)[0]
    assert len(re.findall(r"^\| \d ", leaderboard, flags=re.M)) == 3
    data = json.loads(raw)
    assert [t["team"] for t in data["teams"]] == ["blue", "red"]
    assert data["most_missed"][0] == "report-fixture/rotate-workload-key"
    assert [p["score"] for p in data["trends"]["blue"]] == [12.89, 90]
    assert data["marker"] == "SIMULATION — game day exercise"


def test_runs_of_different_scenarios_are_kept_apart(
    scenario: Scenario, three_runs: list[RunSummary], tmp_path: Path
) -> None:
    other = scenario.model_copy(update={"id": "other-scenario", "title": "Another day"})
    events, score = careful_run(scenario, "green")
    run_dir = save_run(tmp_path / "more", "other-green", events, None)
    moved = summarise_run(run_dir, other, events, replace(score, scenario=other.id))
    report = build_training_report([*three_runs, moved])
    assert {s.id for s in report.scenarios} == {"report-fixture", "other-scenario"}
    assert {s.runs for s in report.steps_of("report-fixture")} == {3}
    assert {s.runs for s in report.steps_of("other-scenario")} == {1}
    html = write_training_report([*three_runs, moved], tmp_path / "out")[0].read_text()
    assert html.count('class="step-times"') == 2
