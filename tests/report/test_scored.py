"""The reports against the real scorer: the hand-built scores of the test stories are what
`score_journal` gives for their journals, and its Score writes every report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from gameday.report import write_reports
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score
from gameday.scoring.score import score_journal

from .runs import careful_run, careless_run


def outcome(score: Score) -> dict[str, Any]:
    """What a report shows of a score (the scorer's reasons are its own words)."""
    return {
        "score": score.score,
        "passed": score.passed,
        "detected_at_s": score.detected_at_s,
        "ended_at_s": score.ended_at_s,
        "steps": [(s.id, s.status, s.satisfied_at_s, s.awarded, s.by) for s in score.steps],
        "penalties": [(p.id, p.points, p.at_s) for p in score.penalties],
        "contain": score.metrics.time_to_contain_s,
        "outage": score.metrics.outage_s,
    }


@pytest.mark.parametrize("story", [careless_run, careful_run])
def test_the_stories_are_scored_as_the_scorer_scores_them(scenario: Scenario, story: Any) -> None:
    events, expected = story(scenario)
    assert outcome(score_journal(scenario, events)) == outcome(expected)


def test_the_scorers_score_writes_every_report(tmp_path: Path, scenario: Scenario) -> None:
    events, _ = careless_run(scenario)
    score = score_journal(scenario, events)
    paths = write_reports(tmp_path, scenario, events, score)
    html = paths[0].read_text(encoding="utf-8")
    for step in score.steps:
        assert step.title in html
    # The scorer's evidence travels in score.json; the JUnit suite fails as the run does.
    assert Score.from_json(json.loads(paths[2].read_text())) == score
    suite = ElementTree.parse(paths[3]).getroot()[0]
    failing = [s for s in score.steps if s.status in ("failed", "pending")]
    incurred = [p for p in score.penalties if p.points > 0]
    assert int(suite.get("failures", "")) == len(failing) + len(incurred) + 1
