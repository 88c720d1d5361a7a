"""The JSON reports: score.json (the `Score` contract, DESIGN.md) for one run, and
training.json for many."""

from __future__ import annotations

import json

from gameday.report.content import RunReport
from gameday.report.training import TrainingReport


class RunJson:
    name = "json"
    filename = "score.json"

    def render(self, report: RunReport) -> str:
        return json.dumps(report.score.to_json(), indent=2, ensure_ascii=False) + "\n"


class TrainingJson:
    name = "json"
    filename = "training.json"

    def render(self, report: TrainingReport) -> str:
        return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"
