"""Who earns a step: the team with its own keys, the facilitator for manual steps — and nobody
for what was already so at detection, unless the step is one to keep.

Detection is the first notice a customer receives; `keep` steps are met by not breaking them;
`after` steps pay only once the steps they name are done.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.errors import UserError
from gameday.scenario import load_scenario
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score, StepResult
from gameday.scoring.score import score_journal

from .journals import HERE, QUARANTINE_V3, JournalBuilder, northwind

NORTHWIND = HERE / "northwind.yaml"


def step(score: Score, step_id: str) -> StepResult:
    return next(s for s in score.steps if s.id == step_id)


def with_steps(*steps: dict[str, Any], collateral: Any = True) -> Scenario:
    """Northwind with these steps instead of its own."""
    data = northwind().model_dump()
    data.update(steps=list(steps), penalties=[], collateral=collateral)
    return Scenario.model_validate(data)


def a_step(step_id: str, check: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": step_id,
        "title": step_id,
        "phase": "contain",
        "check": check,
        "points": 10,
        "target": "10m",
        "deadline": "40m",
        **fields,
    }


DISABLE = a_step("disable", {"type": "access-key-disabled", "key": "leaked"})


# ── credit follows the principal ─────────────────────────────────────────────────────────


def test_a_responder_signing_with_someone_elses_key_earns_nothing() -> None:
    scenario = with_steps(DISABLE)
    story = JournalBuilder(scenario).aws_notices()
    story.at("5m").call(
        "responder",
        "iam:UpdateAccessKey",
        {"AccessKeyId": story.leaked, "Status": "Inactive"},
        key=story.workload_key,  # billing-api's key, copied out of its secret
    )
    result = step(score_journal(scenario, story.end().events()), "disable")
    assert (result.status, result.awarded, result.by) == (
        "failed",
        0.0,
        "team with the workload's key",
    )
    assert "the doing of team with the workload's key, not the team" in result.reason


def test_a_call_with_an_unknown_key_earns_nothing() -> None:
    scenario = with_steps(DISABLE)
    story = JournalBuilder(scenario).aws_notices()
    event = story.at("5m").deactivate("leaked")._events[-1][2]
    event["key_actor"] = None  # the gateway did not know the key
    assert step(score_journal(scenario, story.end().events()), "disable").status == "failed"


def test_only_the_facilitators_marks_count() -> None:
    scenario = with_steps(a_step("root", {"type": "manual"}))
    story = JournalBuilder(scenario).aws_notices()
    story.at("4m").event("mark", step="root", by="team")
    story.at("5m").event("mark", step="root", by="facilitator", status="refused")
    assert step(score_journal(scenario, story.events()), "root").status == "pending"
    story.at("6m").mark("root")
    result = step(score_journal(scenario, story.end().events()), "root")
    assert (result.status, result.satisfied_at_s, result.by) == ("success", 250.0, "facilitator")


def test_what_the_attacker_does_is_not_the_teams() -> None:
    scenario = with_steps(
        a_step("no-backdoor", {"type": "attacker-leftovers-removed", "kinds": ["users"]})
    )
    story = JournalBuilder(scenario).aws_notices()
    story.at("4m").attacker_backdoor_user("svc-backup-admin")
    story.at("5m").call("attacker", "iam:DeleteUser", {"UserName": "svc-backup-admin"})
    result = step(score_journal(scenario, story.end().events()), "no-backdoor")
    assert (result.status, result.awarded, result.by) == ("failed", 0.0, "attacker")
    assert "the doing of attacker" in result.reason


# ── no free points ───────────────────────────────────────────────────────────────────────


def test_a_check_that_holds_at_detection_earns_nothing() -> None:
    scenario = with_steps(
        a_step("dead-key", {"type": "access-key-disabled", "key": "ci-old"}),
        a_step("nothing-to-remove", {"type": "attacker-leftovers-removed"}),
    )
    story = JournalBuilder(scenario).aws_notices()
    score = score_journal(scenario, story.end().events())
    for step_id in ("dead-key", "nothing-to-remove"):
        result = step(score, step_id)
        assert (result.status, result.awarded) == ("failed", 0.0)
        assert "it already held at detection" in result.reason
    assert score.score == 0.0


def test_a_keep_step_is_met_by_not_breaking_it() -> None:
    keep = a_step("stays-dead", {"type": "access-key-disabled", "key": "ci-old"}, keep=True)
    scenario = with_steps(keep, DISABLE)
    story = JournalBuilder(scenario).aws_notices()
    score = score_journal(scenario, story.end().events())
    result = step(score, "stays-dead")
    assert (result.status, result.satisfied_at_s, result.awarded, result.by) == (
        "success",
        0.0,
        10.0,
        "kept",
    )
    assert result.keep


def test_a_keep_step_broken_is_lost_even_if_restored() -> None:
    keep = a_step("stays-dead", {"type": "access-key-disabled", "key": "ci-old"}, keep=True)
    scenario = with_steps(keep, DISABLE)
    story = JournalBuilder(scenario).aws_notices()
    story.at("10m").reactivate("ci-old")  # "let's see if it still works"
    story.at("12m").deactivate("ci-old")
    result = step(score_journal(scenario, story.end().events()), "stays-dead")
    assert (result.status, result.awarded) == ("failed", 0.0)
    assert result.reason.startswith("kept until T+10:00, then broken")
    # Broken while the run goes on: lost already, not pending.
    running = score_journal(scenario, [e for e in story.events() if e["t"] <= 660])
    assert step(running, "stays-dead").status == "failed"


def test_a_keep_step_that_did_not_hold_at_detection_is_an_ordinary_step() -> None:
    keep = a_step("key-off", {"type": "access-key-disabled", "key": "leaked"}, keep=True)
    scenario = with_steps(keep)
    story = JournalBuilder(scenario).aws_notices()
    story.at("5m").deactivate("leaked")
    result = step(score_journal(scenario, story.end().events()), "key-off")
    assert (result.status, result.satisfied_at_s, result.by) == ("success", 190.0, "team")


# ── steps that pay only after others ─────────────────────────────────────────────────────


LIFT = a_step(
    "lift",
    {"type": "policy-attached", "policy": "quarantine", "attached": False},
    after=["disable"],
)


def detach_quarantine(story: JournalBuilder) -> JournalBuilder:
    story.call(
        "responder", "iam:DetachUserPolicy", {"UserName": "deploy-bot", "PolicyArn": QUARANTINE_V3}
    )
    return story


def test_lifting_the_quarantine_pays_only_once_the_key_is_disabled() -> None:
    scenario = with_steps(DISABLE, LIFT)
    early = JournalBuilder(scenario).aws_notices()
    detach_quarantine(early.at("4m"))
    early.at("6m").deactivate("leaked")
    result = step(score_journal(scenario, early.end().events()), "lift")
    assert (result.status, result.awarded) == ("failed", 0.0)
    assert "before step disable was done" in result.reason

    never = JournalBuilder(scenario).aws_notices()
    detach_quarantine(never.at("4m"))
    assert (
        "step disable is not done" in step(score_journal(scenario, never.events()), "lift").reason
    )

    right = JournalBuilder(scenario).aws_notices()
    right.at("6m").deactivate("leaked")
    detach_quarantine(right.at("7m"))
    result = step(score_journal(scenario, right.end().events()), "lift")
    assert (result.status, result.satisfied_at_s) == ("success", 310.0)


def test_steps_that_name_each_other_are_refused_and_never_loop(tmp_path: Path) -> None:
    first = a_step("first", {"type": "access-key-disabled", "key": "leaked"}, after=["second"])
    second = a_step("second", {"type": "repository-private"}, after=["first"])
    data = yaml.safe_load(NORTHWIND.read_text(encoding="utf-8"))
    data["steps"] = [first, second]
    path = tmp_path / "loop.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(UserError, match="step 'first' comes after itself through 'after'"):
        load_scenario(path)
    # The model alone lets it through; scoring still ends, the first done step first.
    scenario = with_steps(first, second)
    story = JournalBuilder(scenario).aws_notices()
    story.at("5m").deactivate("leaked").repo_private()
    score = score_journal(scenario, story.end().events())
    assert {s.id: s.status for s in score.steps} == {"first": "failed", "second": "success"}


# ── detection ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("notices", "detected"),
    [
        ([("60s", "quarantine", {}), ("110s", "support-case", {})], 110.0),
        ([("60s", "console", {}), ("90s", "email", {})], 90.0),
        ([("60s", "email", {"status": "failed"}), ("95s", "health-event", {})], 95.0),
        (
            [("60s", "webhook", {"status": "skipped"}), ("70s", "webhook", {"status": "failed"})],
            None,
        ),
        ([("60s", "webhook", {"status": "sent"})], 60.0),
        ([("100s", "phone-call", {})], 100.0),
    ],
)
def test_detection_is_the_first_notice_a_customer_receives(
    notices: list[tuple[str, str, dict[str, Any]]], detected: float | None
) -> None:
    story = JournalBuilder(northwind())
    for at, kind, fields in notices:
        story.at(at).event("inject.delivered", inject=kind, type=kind, **fields)
    assert score_journal(northwind(), story.end().events()).detected_at_s == detected


def test_a_kept_step_completes_no_phase() -> None:
    keep = a_step("service-up", {"type": "workload-healthy"}, keep=True, phase="recover")
    scenario = with_steps(keep, DISABLE)
    story = JournalBuilder(scenario).aws_notices()
    story.probes("0s", "2h", ok=True)
    score = score_journal(scenario, story.end().events())
    assert step(score, "service-up").status == "success"
    assert score.metrics.time_to_recover_s is None  # nothing was done to recover


LOOK = a_step(
    "look-again",
    {"type": "api-called", "action": "iam:ListAccessKeys"},
    after=["disable"],
)


def test_a_look_repeated_after_the_step_it_follows_pays_at_the_second_look() -> None:
    """A team that looks before containing and looks again after it is not worse off than
    one that only looked after: the second look earns the step, at its own time."""
    scenario = with_steps(DISABLE, LOOK)
    twice = JournalBuilder(scenario).aws_notices()
    twice.at("4m").call("responder", "iam:ListAccessKeys", {"UserName": "deploy-bot"})
    twice.at("6m").deactivate("leaked")
    twice.at("8m").call("responder", "iam:ListAccessKeys", {"UserName": "deploy-bot"})
    result = step(score_journal(scenario, twice.end().events()), "look-again")
    assert (result.status, result.satisfied_at_s) == ("success", 370.0)

    once = JournalBuilder(scenario).aws_notices()
    once.at("4m").call("responder", "iam:ListAccessKeys", {"UserName": "deploy-bot"})
    once.at("6m").deactivate("leaked")
    result = step(score_journal(scenario, once.end().events()), "look-again")
    assert (result.status, result.awarded) == ("failed", 0.0)
    assert "not since step disable was done" in result.reason
