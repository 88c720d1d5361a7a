"""The JSON reports: score.json (the `Score` contract, DESIGN.md) for one run, and
training.json for many."""

from __future__ import annotations

import json
from typing import Any

from gameday.report.content import RunReport
from gameday.report.drill import DrillReport
from gameday.report.training import TrainingReport
from gameday.scoring.model import Score


class RunJson:
    name = "json"
    filename = "score.json"

    def render(self, report: RunReport) -> str:
        data = score_json(report.score, report.drill)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def score_json(score: Score, drill: DrillReport | None) -> dict[str, Any]:
    """score.json's content: the Score contract, plus `drill` when the run has a drill phase
    (an addition: the contract's fields are unchanged)."""
    data = score.to_json()
    if drill is not None:
        data["drill"] = drill.to_json()
    return data


class TrainingJson:
    name = "json"
    filename = "training.json"

    def render(self, report: TrainingReport) -> str:
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
