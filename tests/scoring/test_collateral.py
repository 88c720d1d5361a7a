"""Collateral damage: every scenario charges for what the team destroyed or disabled that the
attacker did not create and no step asked to remove — item by item, with its time and who."""

from __future__ import annotations

from typing import Any

from gameday.scenario.model import Scenario
from gameday.scoring.model import PenaltyResult, Score
from gameday.scoring.score import score_journal

from .journals import ADMIN, JournalBuilder, northwind


def collateral(score: Score) -> PenaltyResult:
    return next(p for p in score.penalties if p.id == "collateral-damage")


def items(score: Score) -> list[tuple[str, str, float, str]]:
    return [(i["kind"], i["detail"], i["at_s"], i["by"]) for i in collateral(score).items]


def variant(**changes: Any) -> Scenario:
    data = northwind().model_dump()
    data.update(changes)
    return Scenario.model_validate(data)


def web_instances(story: JournalBuilder) -> list[str]:
    seeded = next(e for _, _, e in story._events if e["kind"] == "world.seeded")
    return [str(i["instance_id"]) for i in seeded["instances"]]


def scorched_earth(story: JournalBuilder) -> JournalBuilder:
    """Everything that looks remotely suspicious goes, at 10 m."""
    story.at("10m").call("responder", "iam:DeleteLoginProfile", {"UserName": "j.alvarez"})
    story.call("responder", "iam:DeleteUser", {"UserName": "ci-deployer"})
    story.call("responder", "iam:DeleteRole", {"RoleName": "partner-audit"})
    story.call("responder", "ec2:TerminateInstances", {"InstanceIds": web_instances(story)[:1]})
    story.call("responder", "s3:DeleteBucket", {"Bucket": "northwind-trail-logs"})
    story.call("responder", "secretsmanager:DeleteSecret", {"SecretId": "prod/billing-api/aws"})
    story.deactivate("alvarez-cli")
    return story


def test_each_item_is_listed_with_its_time_and_who_did_it() -> None:
    story = scorched_earth(JournalBuilder(northwind()).aws_notices())
    score = score_journal(northwind(), story.end().events())
    web = web_instances(story)[0]
    alvarez = story.key("alvarez-cli")
    assert items(score) == [
        ("login-profile", "console password of j.alvarez", 490.0, "team"),
        ("user", "user ci-deployer", 490.0, "team"),
        ("role", "role partner-audit", 490.0, "team"),
        ("instance", f"instance {web} (us-east-1)", 490.0, "team"),
        ("bucket", "bucket northwind-trail-logs", 490.0, "team"),
        ("secret", "secret prod/billing-api/aws", 490.0, "team"),
        ("access-key", f"access key {alvarez} (alvarez-cli) of j.alvarez", 490.0, "team"),
    ]
    penalty = collateral(score)
    assert (penalty.points, penalty.at_s) == (30.0, 490.0)  # 7 × 5, capped at 30
    assert penalty.reason.startswith("7 item(s): console password of j.alvarez (team); ")
    assert penalty.reason.endswith("; and 1 more")


def test_a_scenario_tunes_or_waives_it() -> None:
    tuned = variant(collateral={"points": 2, "max_points": 5})
    story = scorched_earth(JournalBuilder(tuned).aws_notices())
    assert collateral(score_journal(tuned, story.end().events())).points == 5.0
    waived = variant(collateral=False)
    story = scorched_earth(JournalBuilder(waived).aws_notices())
    score = score_journal(waived, story.end().events())
    assert "collateral-damage" not in {p.id for p in score.penalties}


def test_nothing_damaged_costs_nothing_and_says_so() -> None:
    score = score_journal(northwind(), JournalBuilder(northwind()).aws_notices().end().events())
    assert collateral(score) == PenaltyResult(
        "collateral-damage",
        0.0,
        None,
        "Collateral damage: what the attacker did not create was deleted or disabled",
        "nothing was damaged",
    )


def test_a_rotated_or_restored_key_is_no_damage() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("10m").deactivate("alvarez-cli")
    story.at("12m").create_key("j.alvarez")  # the replacement comes a little later
    assert items(score_journal(northwind(), story.end().events())) == []

    restored = JournalBuilder(northwind()).aws_notices()
    restored.at("10m").deactivate("alvarez-cli")
    restored.at("11m").reactivate("alvarez-cli")  # "sorry, that one is mine"
    assert items(score_journal(northwind(), restored.end().events())) == []


def test_what_belongs_to_the_incident_is_no_damage() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("4m").attacker_backdoor_user("svc-backup-admin")
    story.at("6m").attacker_mining(["sa-east-1"], count=1)
    story.at("10m").delete_key("leaked")  # the leaked key, and its user's
    story.remove_user("svc-backup-admin").terminate(story.mined)  # the attacker's
    story.call("responder", "iam:CreateUser", {"UserName": "ir-breakglass"})
    story.call("responder", "iam:DeleteUser", {"UserName": "ir-breakglass"})  # the team's own
    story.delete_key("ci-old")  # dead since long before the push
    assert items(score_journal(northwind(), story.end().events())) == []


def test_a_key_a_step_asks_to_disable_is_no_damage() -> None:
    scenario = variant(
        steps=[
            *northwind().model_dump()["steps"],
            {
                "id": "retire-alvarez-key",
                "title": "Retire j.alvarez's key",
                "phase": "eradicate",
                "check": {"type": "access-key-disabled", "key": "alvarez-cli"},
                "points": 5,
                "target": 600,
                "deadline": 1200,
            },
        ]
    )
    story = JournalBuilder(scenario).aws_notices()
    story.at("10m").delete_key("alvarez-cli")
    assert items(score_journal(scenario, story.end().events())) == []


def test_what_another_penalty_charges_is_not_charged_twice() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("10m").delete_key("billing-prod")  # production-key-deleted, and the outage
    score = score_journal(northwind(), story.end().events())
    assert {p.id: p.points for p in score.penalties}["production-key-deleted"] == 15.0
    assert items(score) == []

    no_penalties = variant(penalties=[])
    story = JournalBuilder(no_penalties).aws_notices()
    story.at("10m").delete_key("billing-prod")
    assert [kind for kind, *_ in items(score_journal(no_penalties, story.end().events()))] == [
        "access-key"
    ]


def test_a_user_deleted_with_its_key_is_one_item() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("10m").deactivate("alvarez-cli")
    story.call("responder", "iam:DetachUserPolicy", {"UserName": "j.alvarez", "PolicyArn": ADMIN})
    story.delete_key("alvarez-cli")
    story.call("responder", "iam:DeleteUser", {"UserName": "j.alvarez"})
    assert [kind for kind, *_ in items(score_journal(northwind(), story.end().events()))] == [
        "user"
    ]


def test_the_teams_hands_are_blamed_whatever_key_they_held() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.at("10m").call(
        "responder", "iam:DeleteUser", {"UserName": "ci-deployer"}, key=story.leaked
    )
    story.at("11m").call("attacker", "iam:DeleteUser", {"UserName": "j.alvarez"})
    assert items(score_journal(northwind(), story.end().events())) == [
        ("user", "user ci-deployer", 490.0, "team with the attacker's key"),
    ]


def test_a_workload_kept_running_on_a_colleagues_key_leaves_its_own_key_as_damage() -> None:
    story = JournalBuilder(northwind()).aws_notices()
    story.probes("0s", "2h", ok=True)  # the service never notices a thing
    story.at("10m").put_secret("prod/billing-api/aws", story.key("alvarez-cli"))
    story.at("12m").deactivate("billing-prod")
    score = score_journal(northwind(), story.end().events())
    assert {p.id: p.points for p in score.penalties}["billing-outage"] == 0.0
    billing = story.key("billing-prod")
    assert items(score) == [
        ("access-key", f"access key {billing} (billing-prod) of billing-api", 610.0, "team"),
    ]
    # Had the service gone down, the outage penalty would have charged for it instead.
    down = JournalBuilder(northwind()).aws_notices()
    down.probes("0s", "12m", ok=True)
    down.at("12m").deactivate("billing-prod")
    down.probes("13m", "2h", ok=False)
    assert items(score_journal(northwind(), down.end().events())) == []
