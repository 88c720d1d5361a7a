"""Recommendations: each rule fires on the evidence it names, and only then."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from gameday.errors import UserError
from gameday.paths import PROJECT_ROOT
from gameday.report.content import build_run_report
from gameday.report.recommendations import RECOMMENDATIONS, Recommendation, catalogue
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

from .runs import LEAKED_KEY, JournalBuilder, careful_run

STANDING = ["scan-before-commit", "alert-on-the-health-event", "prefer-short-lived-credentials"]


def advice_ids(scenario: Scenario, events: list[dict[str, Any]], score: Score) -> list[str]:
    return [a.id for a in build_run_report(scenario, events, score).recommendations]


def test_a_careless_run_earns_advice_for_everything_it_missed(
    scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> None:
    report = build_run_report(scenario, *careless)
    earned = {a.id: a.evidence for a in report.recommendations if not a.standing}
    assert set(earned) == {
        "investigate-before-destroy",
        "break-glass-admin",
        "sweep-every-region",
        "hunt-persistence",
        "reply-to-aws",
        "rotate-without-outage",
        "keep-the-evidence",
        "contain-do-not-demolish",
    }
    assert earned["investigate-before-destroy"] == (
        "The leaked key was deleted at T+20:00 with no CloudTrail lookup before it."
    )
    assert "13m 10s after detection, 3m 10s past its target" in earned["break-glass-admin"]
    assert "ap-southeast-3" in earned["sweep-every-region"]
    assert "does not use" in earned["sweep-every-region"]
    assert earned["rotate-without-outage"] == (
        "billing-api was down for 10m, first failing at T+31:00."
    )
    assert earned["keep-the-evidence"] == "The repository was deleted by responder at T+33:20."
    assert earned["contain-do-not-demolish"] == (
        "Damaged without cause: bucket fixture-web-assets at T+31:40."
    )
    # Earned advice comes first, standing advice last and always.
    assert [a.id for a in report.recommendations][-3:] == STANDING
    assert all(a.standing for a in report.recommendations[-3:])


def test_a_careful_run_gets_the_standing_advice_and_advice_for_what_it_missed(
    scenario: Scenario, careful: tuple[list[dict[str, Any]], Score]
) -> None:
    report = build_run_report(scenario, *careful)
    # The careful team never rotated the workload's key; nothing else calls for advice.
    assert [a.id for a in report.recommendations] == ["rotate-without-outage", *STANDING]
    assert report.recommendations[0].evidence.startswith(
        "“Rotate the billing key through its secret without an outage” was not done"
    )


def test_investigating_before_deleting_the_key_earns_no_advice(scenario: Scenario) -> None:
    events, score = careful_run(scenario)
    j = JournalBuilder()
    j.events = list(events)
    # The careful run looked up CloudTrail at T+6:40, before deleting the key.
    assert "investigate-before-destroy" not in advice_ids(scenario, j.events, score)
    late_lookup = [
        e for e in events if not (e["kind"] == "api.call" and e["action"] == "LookupEvents")
    ]
    j.events = late_lookup
    j.call(5000, "responder", "cloudtrail", "LookupEvents")
    ids = advice_ids(scenario, j.events, score)
    assert "investigate-before-destroy" in ids


def test_a_missed_step_triggers_its_advice_when_the_journal_alone_does_not(
    scenario: Scenario,
) -> None:
    events, score = careful_run(scenario)
    missed = [
        replace(s, status="failed", satisfied_at_s=None, awarded=0)
        if s.id in ("reply-to-case", "repository-private")
        else s
        for s in score.steps
    ]
    report = build_run_report(scenario, events, replace(score, steps=missed))
    earned = {a.id: a.evidence for a in report.recommendations if not a.standing}
    assert set(earned) == {"reply-to-aws", "take-it-out-of-public-view", "rotate-without-outage"}
    assert earned["reply-to-aws"] == (
        "“Reply to the AWS support case with what was done” was not done by its deadline "
        "(1h 50m after detection)."
    )


def test_a_deleted_repository_calls_for_keeping_evidence_not_for_hiding_it(
    scenario: Scenario,
) -> None:
    events, score = careful_run(scenario)
    j = JournalBuilder()
    j.events = [e for e in events if e["kind"] != "repo.private"]
    j.add("repo.deleted", 900, actor="responder")
    steps = [
        replace(s, status="failed", satisfied_at_s=None, awarded=0)
        if s.id == "repository-private"
        else s
        for s in score.steps
    ]
    ids = advice_ids(scenario, j.events, replace(score, steps=steps))
    assert "keep-the-evidence" in ids
    assert "take-it-out-of-public-view" not in ids


def test_logging_left_off_by_the_attacker_calls_for_restoring_it(scenario: Scenario) -> None:
    events, score = careful_run(scenario)
    j = JournalBuilder()
    j.events = list(events)
    j.call(700, "attacker", "cloudtrail", "StopLogging", params={"Name": "org-trail"})
    assert "restore-logging" in advice_ids(scenario, j.events, score)
    j.call(800, "responder", "cloudtrail", "StartLogging", params={"Name": "org-trail"})
    assert "restore-logging" not in advice_ids(scenario, j.events, score)


def test_a_leaked_key_deleted_by_the_attacker_is_not_the_responders_deletion(
    scenario: Scenario,
) -> None:
    events, score = careful_run(scenario)
    j = JournalBuilder()
    j.events = [e for e in events if e.get("action") != "LookupEvents"]
    j.call(100, "attacker", "iam", "DeleteAccessKey", params={"AccessKeyId": LEAKED_KEY})
    report = build_run_report(scenario, j.events, score)
    evidence = {a.id: a.evidence for a in report.recommendations}
    # The responders' own DeleteAccessKey (T+18:20 in the careful run) is what counts.
    assert evidence["investigate-before-destroy"].startswith(
        "The leaked key was deleted at T+18:20"
    )


def test_the_registry_rejects_duplicates_and_suggests_close_ids() -> None:
    existing = RECOMMENDATIONS.get("reply-to-aws")
    with pytest.raises(ValueError, match="registered twice"):
        RECOMMENDATIONS.register(Recommendation("reply-to-aws", "again", "again"))
    with pytest.raises(UserError, match="did you mean 'reply-to-aws'"):
        RECOMMENDATIONS.get("reply-to-aw")
    assert RECOMMENDATIONS.get("reply-to-aws") is existing
    assert {"scan-before-commit", "alert-on-the-health-event"} <= set(RECOMMENDATIONS.names())
    assert all(r.standing == (r.trigger is None) for r in RECOMMENDATIONS)


def test_the_catalogue_in_the_docs_is_current() -> None:
    docs = (PROJECT_ROOT / "docs" / "reports.md").read_text(encoding="utf-8")
    begin, end = "<!-- recommendations:begin -->\n", "<!-- recommendations:end -->"
    assert begin in docs and end in docs
    current = docs.split(begin, 1)[1].split(end, 1)[0]
    assert current == catalogue(), "docs/reports.md is stale: paste catalogue() between the markers"
