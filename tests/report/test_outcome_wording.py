"""How the report words a step that missed: out of order is not "too late"."""

from __future__ import annotations

from gameday.report.content import StepRow
from gameday.report.recommendations import _step_outcome
from gameday.scoring.model import StepResult


def row(reason: str) -> StepRow:
    result = StepResult(
        id="remove-lambda",
        title="Delete the attacker's Lambda function",
        phase="eradicate",
        status="failed",
        satisfied_at_s=None,
        target_s=1800.0,
        deadline_s=5400.0,
        points=20,
        awarded=0.0,
        reason=reason,
    )
    return StepRow(result=result, check=None, hint="", origin_s=110.0)


def test_a_step_held_back_by_its_order_says_so() -> None:
    reason = (
        "nothing the attacker created remains (1 removed) — but before step disable-leaked-key "
        "was done; it counts only after"
    )
    assert _step_outcome(row(reason)) == (
        "“Delete the attacker's Lambda function” did not count: before step "
        "disable-leaked-key was done; it counts only after"
    )


def test_a_step_never_done_is_not_done_by_its_deadline() -> None:
    outcome = _step_outcome(row("nothing the attacker created was removed"))
    assert outcome.startswith(
        "“Delete the attacker's Lambda function” was not done by its deadline"
    )
