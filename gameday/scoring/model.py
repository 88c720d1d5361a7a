"""The score of one run, exactly as `score.json` carries it (DESIGN.md, "Score").

Plain frozen dataclasses, so the scoring core and every report writer share one shape and
`to_json()` / `from_json()` are the only places that know the file's field names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

StepStatus = Literal["success", "partial", "failed", "pending"]
Phase = Literal["acknowledge", "contain", "eradicate", "recover", "communicate"]


@dataclass(frozen=True)
class StepResult:
    id: str
    title: str
    phase: Phase
    status: StepStatus
    satisfied_at_s: float | None
    target_s: float
    deadline_s: float
    points: int
    awarded: float
    critical: bool = False
    manual: bool = False
    reason: str = ""
    # Whose act made its check hold — team, facilitator, attacker, aws, "team with the attacker's
    # key" …, or kept (a keep step held since detection); None when nobody's act did.
    by: str | None = None
    keep: bool = False


@dataclass(frozen=True)
class PenaltyResult:
    id: str
    points: float
    at_s: float | None
    title: str = ""
    reason: str = ""
    # For collateral damage: each thing damaged, {kind, name, detail, at_s, by}.
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Metrics:
    time_to_acknowledge_s: float | None = None
    time_to_contain_s: float | None = None
    time_to_eradicate_s: float | None = None
    time_to_recover_s: float | None = None
    outage_s: float = 0.0


@dataclass(frozen=True)
class Score:
    scenario: str
    team: str
    score: float
    passed: bool
    pass_mark: int
    steps: list[StepResult]
    penalties: list[PenaltyResult]
    metrics: Metrics
    detected_at_s: float | None = None
    ended_at_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Score:
        return cls(
            scenario=data["scenario"],
            team=data["team"],
            score=data["score"],
            passed=data["passed"],
            pass_mark=data["pass_mark"],
            steps=[StepResult(**s) for s in data["steps"]],
            penalties=[PenaltyResult(**p) for p in data["penalties"]],
            metrics=Metrics(**data["metrics"]),
            detected_at_s=data.get("detected_at_s"),
            ended_at_s=data.get("ended_at_s"),
            extra=data.get("extra", {}),
        )
