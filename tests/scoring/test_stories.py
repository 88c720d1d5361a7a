"""Golden scores of whole incidents: three teams face the same attack on Northwind
(tests/scoring/stories.py). Detection is the support case at 110 s (the quarantine at 60 s
shows only in IAM); every time below counts from there."""

from __future__ import annotations

import pytest

from gameday.scenario import Scenario
from gameday.scoring.model import Metrics, PenaltyResult, Score
from gameday.scoring.score import Evaluator, score_journal

from .journals import JournalBuilder, northwind
from .stories import careless, only_deletes_the_key, well_drilled


def statuses(score: Score) -> dict[str, tuple[str, float | None, float]]:
    return {s.id: (s.status, s.satisfied_at_s, s.awarded) for s in score.steps}


def penalties(score: Score) -> dict[str, tuple[float, float | None]]:
    return {p.id: (p.points, p.at_s) for p in score.penalties}


def test_a_well_drilled_team_gets_every_point() -> None:
    score = score_journal(northwind(), well_drilled().events())

    assert statuses(score) == {
        "acknowledge": ("success", 130.0, 5.0),
        "investigate-first": ("success", 190.0, 10.0),
        "disable-leaked-key": ("success", 370.0, 20.0),
        "repository-private": ("success", 430.0, 5.0),
        "delete-leaked-key": ("success", 1390.0, 5.0),
        "remove-leftovers": ("success", 790.0, 20.0),
        "sweep-regions": ("success", 610.0, 5.0),  # after the miners' launch at 6 m
        "logging-back-on": ("success", 970.0, 5.0),
        # j.alvarez's key swapped for a new one, deploy-bot given a new key: both at 30 m
        "rotate-old-keys": ("success", 1690.0, 10.0),
        # the new billing key in the secret at 36 m, the old one deactivated at 45 m
        "rotate-workload-key": ("success", 2590.0, 5.0),
        "reply-to-case": ("success", 2890.0, 10.0),
    }
    assert {s.id: s.by for s in score.steps} == {
        **{s.id: "team" for s in score.steps},
        "acknowledge": "facilitator",
    }
    assert penalties(score) == {
        "evidence-destroyed": (0.0, None),
        "leaked-key-reused": (0.0, None),
        "production-key-deleted": (0.0, None),
        "billing-outage": (0.0, None),
        "collateral-damage": (0.0, None),
    }
    assert score.metrics == Metrics(
        time_to_acknowledge_s=130.0,  # the facilitator's mark of the acknowledge step
        time_to_contain_s=370.0,
        time_to_eradicate_s=1390.0,
        time_to_recover_s=2590.0,
        outage_s=0.0,
    )
    assert (score.scenario, score.team, score.score, score.passed) == (
        "northwind-scoring",
        "red",
        100.0,
        True,
    )
    assert (score.pass_mark, score.detected_at_s, score.ended_at_s) == (70, 110.0, 7200.0)


def test_a_team_that_only_deletes_the_key_fails_on_the_leftovers() -> None:
    score = score_journal(northwind(), only_deletes_the_key().events())

    assert statuses(score) == {
        "acknowledge": ("failed", None, 0.0),
        "investigate-first": ("failed", None, 0.0),
        # 1090 s after detection: 20 × (2400 − 1090) / (2400 − 600)
        "disable-leaked-key": ("partial", 1090.0, 14.56),
        "repository-private": ("failed", None, 0.0),
        "delete-leaked-key": ("success", 1090.0, 5.0),
        "remove-leftovers": ("failed", None, 0.0),
        "sweep-regions": ("failed", None, 0.0),
        "logging-back-on": ("failed", None, 0.0),
        "rotate-old-keys": ("failed", None, 0.0),
        "rotate-workload-key": ("failed", None, 0.0),
        "reply-to-case": ("failed", None, 0.0),
    }
    assert all(points == 0.0 for points, _ in penalties(score).values())
    assert score.metrics == Metrics(
        time_to_acknowledge_s=None,  # nobody acknowledged: the facilitator marked nothing
        time_to_contain_s=1090.0,
        time_to_eradicate_s=None,
        time_to_recover_s=None,
        outage_s=0.0,
    )
    assert (score.score, score.passed) == (19.56, False)
    leftovers = next(s for s in score.steps if s.id == "remove-leftovers")
    assert "6 attacker resource(s) remain: user svc-backup-admin" in leftovers.reason
    rotated = next(s for s in score.steps if s.id == "rotate-old-keys")
    assert "deploy-bot has no new key from the team" in rotated.reason


def test_a_careless_team_loses_more_than_it_earns() -> None:
    story = careless()
    score = score_journal(northwind(), story.events())

    assert statuses(score) == {
        "acknowledge": ("failed", None, 0.0),
        "investigate-first": ("failed", None, 0.0),
        "disable-leaked-key": ("success", 250.0, 20.0),
        "repository-private": ("failed", None, 0.0),
        "delete-leaked-key": ("success", 250.0, 5.0),
        "remove-leftovers": ("failed", None, 0.0),
        "sweep-regions": ("failed", None, 0.0),
        "logging-back-on": ("failed", None, 0.0),
        # deleting every old key is not rotating them: j.alvarez and deploy-bot got nothing
        "rotate-old-keys": ("failed", None, 0.0),
        # the billing service does run on a new key in the end, after a half-hour outage
        "rotate-workload-key": ("success", 2350.0, 5.0),
        "reply-to-case": ("failed", None, 0.0),
    }
    alvarez = story.key("alvarez-cli")
    assert score.penalties == [
        PenaltyResult(
            "evidence-destroyed",
            10.0,
            190.0,
            "The repository was deleted",
            "the repository was deleted",
        ),
        PenaltyResult(
            "leaked-key-reused",
            10.0,
            70.0,
            "A responder used the leaked key",
            "a responder signed a call with the leaked key at T+3:00",
        ),
        PenaltyResult(
            "production-key-deleted",
            15.0,
            490.0,
            "The billing key was deleted before a replacement was in place",
            f"{story.key('billing-prod')} (billing-prod) was deleted while "
            "prod/billing-api/aws still held it",
        ),
        PenaltyResult(
            "billing-outage",
            20.0,  # 30 minutes down at 1 point a minute, capped at 20
            550.0,
            "Billing outage",
            "30 minute(s): the workload's probes have failed since T+11:00",
        ),
        # billing-prod's deletion is the production-key penalty's; j.alvarez's key is not
        PenaltyResult(
            "collateral-damage",
            5.0,
            490.0,
            "Collateral damage: what the attacker did not create was deleted or disabled",
            f"1 item(s): access key {alvarez} (alvarez-cli) of j.alvarez (team)",
            [
                {
                    "kind": "access-key",
                    "name": alvarez,
                    "detail": f"access key {alvarez} (alvarez-cli) of j.alvarez",
                    "at_s": 490.0,
                    "by": "team",
                }
            ],
        ),
    ]
    assert score.metrics == Metrics(
        time_to_acknowledge_s=None,
        time_to_contain_s=250.0,
        time_to_eradicate_s=None,
        time_to_recover_s=None,
        outage_s=1800.0,
    )
    # 30 points earned, 60 lost: the score stops at zero.
    assert (score.score, score.passed) == (0.0, False)


@pytest.mark.parametrize("story", [well_drilled, only_deletes_the_key, careless])
def test_selective_evaluation_finds_what_evaluating_everything_finds(story: object) -> None:
    assert callable(story)
    events = story().events()
    selective, naive = Evaluator(northwind()), Evaluator(northwind(), selective=False)
    for event in events:
        assert selective.observe(event) == naive.observe(event)
    assert selective.score() == naive.score()
    assert selective.evaluations * 3 < naive.evaluations


def test_the_library_seed_scenario_rewards_a_textbook_response(seed_scenario: Scenario) -> None:
    story = JournalBuilder(seed_scenario).aws_notices()
    story.probes("0s", "2h", ok=True)
    story.at("80s").attacker_whoami()
    story.at("4m").attacker_backdoor_user("svc-backup-admin")
    story.at("6m").attacker_mining(["ap-southeast-3", "sa-east-1"], count=4)
    story.at("5m").mark("acknowledge-case").look_up_events()
    story.at("8m").deactivate("leaked").repo_private()
    story.at("12m").sweep().remove_user("svc-backup-admin").terminate(story.mined)
    story.at("25m").delete_key("leaked")
    story.at("30m")
    for ref, user in (
        ("alvarez-cli", "j.alvarez"),
        ("okafor-cli", "m.okafor"),
        ("ci-current", "ci-deployer"),
    ):
        story.rotate(ref, user)
    story.create_key("ohgodpleasenotme")  # the deploy helper's user gets a new key
    story.at("35m")
    story.put_secret("prod/billing-api/aws", story.create_key("billing-api"))
    story.at("40m").deactivate("billing-prod")  # once the service runs on the new key
    story.at("50m").mark("root-password").reply_to_case()
    score = score_journal(seed_scenario, story.end().events())

    assert [s.id for s in score.steps if s.status != "success"] == []
    assert [p.id for p in score.penalties if p.points] == []
    assert (score.score, score.passed) == (100.0, True)
