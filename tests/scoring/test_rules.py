"""The scoring rules one at a time: partial credit, undone fixes, penalties by the minute,
runs still going, runs with no notice, and re-scoring the same journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.journal import FixedClock, Journal, read_journal
from gameday.scoring.model import Score, StepResult
from gameday.scoring.score import score_journal

from .journals import T0, JournalBuilder, northwind
from .stories import careless, well_drilled


def step(score: Score, step_id: str) -> StepResult:
    return next(s for s in score.steps if s.id == step_id)


def penalty_points(score: Score, penalty_id: str) -> tuple[float, float | None]:
    found = next(p for p in score.penalties if p.id == penalty_id)
    return found.points, found.at_s


# disable-leaked-key: 20 points, target 10 m, deadline 40 m; detection at 110 s (the support
# case: the quarantine at 60 s is no notice).
@pytest.mark.parametrize(
    ("deactivated", "status", "at", "awarded"),
    [
        ("30s", "success", 0.0, 20.0),  # before the notice: counts as done at detection
        ("60s", "success", 0.0, 20.0),
        ("110s", "success", 0.0, 20.0),
        ("710s", "success", 600.0, 20.0),  # on the target
        ("1610s", "partial", 1500.0, 10.0),  # half-way to the deadline: half the points
        ("2210s", "partial", 2100.0, 3.33),
        ("2509s", "partial", 2399.0, 0.01),
        ("2510s", "failed", 2400.0, 0.0),  # on the deadline: nothing left
        ("3050s", "failed", 2940.0, 0.0),
    ],
)
def test_points_fall_linearly_from_the_target_to_the_deadline(
    deactivated: str, status: str, at: float, awarded: float
) -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at(deactivated).deactivate("leaked")
    result = step(score_journal(northwind(), story.end().events()), "disable-leaked-key")
    assert (result.status, result.satisfied_at_s, result.awarded) == (status, at, awarded)


def test_a_fix_undone_and_redone_counts_from_the_redo() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("8m").deactivate("leaked")
    story.at("12m").reactivate("leaked")  # "we need it for the deploy tonight"
    story.at("30m").deactivate("leaked")
    score = score_journal(northwind(), story.end().events())

    result = step(score, "disable-leaked-key")
    # 20 × (2400 − 1690) / (2400 − 600)
    assert (result.status, result.satisfied_at_s, result.awarded) == ("partial", 1690.0, 7.89)
    assert score.metrics.time_to_contain_s == 1690.0
    evidence = [
        (e["t"], e["holds"])
        for e in score.extra["evidence"]
        if e["subject"] == "step:disable-leaked-key"
    ]
    assert evidence == [(480.0, True), (720.0, False), (1800.0, True)]


def test_a_fix_undone_for_good_does_not_count() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("8m").deactivate("leaked")
    story.at("12m").reactivate("leaked")
    score = score_journal(northwind(), story.end().events())

    result = step(score, "disable-leaked-key")
    assert (result.status, result.satisfied_at_s, result.awarded) == ("failed", None, 0.0)
    assert "is Active" in result.reason
    assert score.metrics.time_to_contain_s is None
    assert not score.passed  # a critical step failed


def outage(*spans: tuple[str, str | None]) -> Score:
    """Billing probes fail over each span (None: until the end of the run)."""
    story = JournalBuilder(northwind()).aws_notices()
    story.at("0s").event("workload.probe", ok=True, access_key_id=story.workload_key)
    for start, end in spans:
        story.at(start).event("workload.probe", ok=False, access_key_id=story.workload_key)
        if end is not None:
            story.at(end).event("workload.probe", ok=True, access_key_id=story.workload_key)
    return score_journal(northwind(), story.end().events())


@pytest.mark.parametrize(
    ("spans", "points", "seconds"),
    [
        ([("10m", "10m59s")], 0.0, 59.0),  # not a whole minute yet
        ([("10m", "11m")], 1.0, 60.0),
        ([("10m", "17m30s")], 7.0, 450.0),
        ([("10m", "13m"), ("20m", "24m")], 7.0, 420.0),
        ([("100m", None)], 20.0, 1200.0),  # still down when the run ends
        ([("60m", None)], 20.0, 3600.0),  # 60 minutes, capped at max_points
    ],
)
def test_an_outage_costs_a_point_a_whole_minute_up_to_the_cap(
    spans: list[tuple[str, str | None]], points: float, seconds: float
) -> None:
    score = outage(*spans)
    assert penalty_points(score, "billing-outage")[0] == points
    assert score.metrics.outage_s == seconds


def test_a_one_off_penalty_counts_once_however_often_it_happens() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("10m").delete_key("billing-prod")
    story.at("12m")
    fresh = story.create_key("billing-api")
    story.put_secret("prod/billing-api/aws", fresh)
    story.at("20m").delete_key(fresh)  # and once more, with the replacement
    score = score_journal(northwind(), story.end().events())
    assert penalty_points(score, "production-key-deleted") == (15.0, 490.0)


def test_a_run_still_going_has_pending_steps() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("4m").deactivate("leaked")
    story.at("5m").note("still looking")
    events = story.events()

    now = score_journal(northwind(), events)
    assert now.ended_at_s is None
    assert step(now, "disable-leaked-key").status == "success"
    assert step(now, "acknowledge").status == "pending"
    # The attacker has not struck: nothing to remove, and nothing earned for it.
    leftovers = step(now, "remove-leftovers")
    assert (leftovers.status, leftovers.awarded) == ("pending", 0.0)
    assert "it already held at detection" in leftovers.reason
    assert not now.passed  # pending points do not reach the pass mark

    later = score_journal(northwind(), events, now=50 * 60)
    assert step(later, "acknowledge").status == "failed"  # deadline 30 m has passed
    assert step(later, "investigate-first").status == "failed"  # 45 m
    assert step(later, "repository-private").status == "pending"  # 60 m


def test_without_any_notice_times_count_from_the_push() -> None:
    story = JournalBuilder(northwind())
    story.at("5m").deactivate("leaked")
    running = score_journal(northwind(), story.events(), now=3600)
    assert running.detected_at_s is None
    assert step(running, "acknowledge").status == "pending"  # no notice, no deadline yet

    ended = score_journal(northwind(), story.end().events())
    assert step(ended, "disable-leaked-key").satisfied_at_s == 300.0
    assert step(ended, "acknowledge").status == "failed"


def test_the_team_in_the_journal_can_be_overridden() -> None:
    events = well_drilled().events()
    assert score_journal(northwind(), events).team == "red"
    assert score_journal(northwind(), events, team="purple").team == "purple"


def test_rescoring_a_journal_from_disk_gives_the_same_score(tmp_path: Path) -> None:
    events = careless().events()
    path = tmp_path / "journal.jsonl"
    with Journal(path, FixedClock(T0), durable=False) as journal:
        for event in events:
            fields = {
                k: v for k, v in event.items() if k not in ("seq", "t", "time", "kind", "wall")
            }
            journal.append(event["kind"], t=event["t"], **fields)

    first = score_journal(northwind(), read_journal(path))
    second = score_journal(northwind(), read_journal(path))
    assert first == second == score_journal(northwind(), events)
    document = json.loads(json.dumps(first.to_json()))
    assert Score.from_json(document) == first


def test_time_to_acknowledge_is_the_acknowledge_step() -> None:
    story = JournalBuilder(northwind())
    story.at("30s").note("setting up the CLI profile")  # before AWS has said anything
    story.aws_notices()
    story.at("5m").deactivate("leaked")
    story.at("6m").mark("acknowledge")
    score = score_journal(northwind(), story.end().events())
    assert score.metrics.time_to_acknowledge_s == 250.0 == step(score, "acknowledge").satisfied_at_s

    unmarked = JournalBuilder(northwind()).aws_notices()
    unmarked.at("5m").deactivate("leaked")
    score = score_journal(northwind(), unmarked.end().events())
    assert score.metrics.time_to_acknowledge_s is None  # as the acknowledge step says: missed


def test_without_an_acknowledge_step_the_first_act_after_the_notice_acknowledges() -> None:
    scenario = northwind().model_copy(
        update={"steps": [s for s in northwind().steps if s.phase != "acknowledge"]}
    )
    story = JournalBuilder(scenario)
    story.at("30s").note("setting up the CLI profile")  # before AWS has said anything
    story.aws_notices()
    story.at("5m").deactivate("leaked")
    score = score_journal(scenario, story.end().events())
    assert score.metrics.time_to_acknowledge_s == 190.0
