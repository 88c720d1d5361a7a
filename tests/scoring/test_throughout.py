"""A step with `throughout` keeps the promise of its title: "deactivate the key without an
outage" is met only when the workload stayed up over the step's window (detection to
deadline), whenever in that window it went down."""

from __future__ import annotations

from gameday.scoring.score import score_journal

from .journals import JournalBuilder
from .test_credit import DISABLE, step, with_steps

UNBROKEN = {**DISABLE, "throughout": {"type": "workload-healthy"}}


def _scored(down: tuple[str, str] | None) -> tuple[str, float, str]:
    scenario = with_steps(UNBROKEN)
    story = JournalBuilder(scenario).aws_notices()
    if down is None:
        story.probes("0s", "2h", ok=True)
    else:
        story.probes("0s", down[0], ok=True)
        story.probes(down[0], down[1], ok=False)
        story.probes(down[1], "2h", ok=True)
    story.at("5m").deactivate("leaked")
    result = step(score_journal(scenario, story.end().events()), "disable")
    return result.status, result.awarded, result.reason


def test_a_step_whose_window_held_is_met() -> None:
    status, awarded, _ = _scored(None)
    assert (status, awarded) == ("success", 10.0)


def test_an_outage_inside_the_window_loses_the_step_even_after_it_was_done() -> None:
    status, awarded, reason = _scored(("8m", "10m"))
    assert (status, awarded) == ("failed", 0.0)
    assert "its window required that the workload is healthy, and that broke at T+8:00" in reason
    assert "the workload's last probe failed" in reason


def test_an_outage_before_the_step_was_done_loses_it_too() -> None:
    status, _, reason = _scored(("3m", "4m"))
    assert status == "failed"
    assert "broke at T+3:00" in reason


def test_an_outage_after_the_deadline_is_outside_the_window() -> None:
    # detection is AWS's first notice; the deadline is 40 min after it
    status, awarded, _ = _scored(("1h", "1h10m"))
    assert (status, awarded) == ("success", 10.0)
