"""What the team's actions changed, read from hand-built journals: which act a refused call
owes to, AWS's quarantine for a policy's refusal, and the leftovers' estimated cost."""

from __future__ import annotations

from gameday.report.consequences import what_changed
from gameday.report.evidence import attacker_footprint
from gameday.scenario.model import Scenario

from .runs import BACKDOOR_KEY, LEAKED_KEY, JournalBuilder


def _story(scenario: Scenario) -> JournalBuilder:
    j = JournalBuilder()
    j.started(scenario, "blue")
    j.seeded()
    j.inject(67, "quarantine", "quarantine", "quarantine attached")
    j.call(
        240, "attacker", "iam", "CreateUser", params={"UserName": "svc"}, result={"UserName": "svc"}
    )
    j.call(
        242,
        "attacker",
        "iam",
        "CreateAccessKey",
        params={"UserName": "svc"},
        result={"AccessKeyId": BACKDOOR_KEY, "UserName": "svc"},
    )
    j.technique(
        242,
        "aws.persistence.iam-create-backdoor-user",
        {"kind": "user", "id": "svc"},
        {"kind": "access-key", "id": BACKDOOR_KEY, "parent": "svc"},
    )
    j.call(
        300,
        "attacker",
        "ec2",
        "RunInstances",
        region="sa-east-1",
        params={"InstanceType": "g4dn.12xlarge"},
        result={"InstanceIds": ["i-1", "i-2"]},
    )
    j.call(
        300,
        "attacker",
        "ec2",
        "RunInstances",
        region="af-south-1",
        params={"InstanceType": "z9.mystery"},
        result={"InstanceIds": ["i-3"]},
    )
    j.technique(
        300,
        "aws.impact.ec2-mining",
        {"kind": "instance", "id": "i-1", "region": "sa-east-1"},
        {"kind": "instance", "id": "i-2", "region": "sa-east-1"},
        {"kind": "instance", "id": "i-3", "region": "af-south-1"},
    )
    j.call(400, "responder", "iam", "DeleteUser", params={"UserName": "svc"})
    return j  # fmt: skip


def _refused_technique(j: JournalBuilder, t: float, key_actor_code: str) -> None:
    j.call(t, "attacker", "iam", "CreateUser", status=403, error_code=key_actor_code)
    j.add("attacker.technique", t, technique="aws.persistence.iam-create-backdoor-user",
          status="failed", error_codes=[key_actor_code], created=[], repeat=True)  # fmt: skip


def test_a_refusal_of_a_stopped_key_is_owed_to_the_act_that_stopped_it(scenario: Scenario) -> None:
    j = _story(scenario)
    j.call(500, "responder", "iam", "UpdateAccessKey",
           params={"AccessKeyId": LEAKED_KEY, "Status": "Inactive"})  # fmt: skip
    _refused_technique(j, 600, "InvalidClientTokenId")
    j.ended(3600)
    changes = what_changed(j.events, attacker_footprint(j.events), 3600)
    [refused] = changes.consequences
    assert refused.t == 600 and refused.cause is not None
    assert (refused.cause.t, refused.cause.action, refused.cause.by) == (
        500,
        "iam:UpdateAccessKey",
        "team",
    )
    assert refused.cause.what == f"deactivated deployer's key {LEAKED_KEY}"
    assert refused.lead == "1 min 40 s"


def test_a_policy_refusal_is_owed_to_aws_quarantine(scenario: Scenario) -> None:
    j = _story(scenario)
    _refused_technique(j, 120, "AccessDenied")
    j.ended(3600)
    [refused] = what_changed(j.events, attacker_footprint(j.events), 3600).consequences
    assert refused.cause is not None and refused.cause.by == "AWS" and refused.cause.t == 67


def test_leftovers_cost_instances_by_the_hour_and_say_it_is_an_estimate(
    scenario: Scenario,
) -> None:
    j = _story(scenario)
    j.ended(300 + 2 * 3600)  # the instances ran two hours
    changes = what_changed(j.events, attacker_footprint(j.events), 300 + 2 * 3600)
    by_id = {cost.resource.id: cost for cost in changes.costs}
    assert set(by_id) == {"i-1", "i-2", "i-3"}  # the user and its key went with DeleteUser
    assert by_id["i-1"].usd_so_far == round(3.912 * 2, 2)
    assert by_id["i-1"].usd_per_day == round(3.912 * 24, 2)
    assert by_id["i-3"].usd_per_day is None and "no price known" in by_id["i-3"].note
    assert [c.resource.id for c in changes.priced] == ["i-1", "i-2"]
    assert round(changes.usd_per_day, 2) == round(2 * 3.912 * 24, 2)
