"""What the reports read out of the journal: the attacker's footprint and leftovers, outages,
call summaries, the end of the run and detection."""

from __future__ import annotations

from gameday.report.evidence import (
    Span,
    attacker_footprint,
    attacker_leftovers,
    detection_s,
    origin_s,
    outage_spans,
    run_end_s,
    summarise_calls,
    technique_created,
)
from gameday.scenario.model import Scenario
from gameday.scoring.model import Metrics, Score

from .runs import BACKDOOR_KEY, JournalBuilder


def empty_score(scenario: Scenario, **fields: object) -> Score:
    values: dict[str, object] = {
        "scenario": scenario.id,
        "team": "blue",
        "score": 0,
        "passed": False,
        "pass_mark": 70,
        "steps": [],
        "penalties": [],
        "metrics": Metrics(),
    }
    values.update(fields)
    return Score(**values)  # type: ignore[arg-type]


def test_resources_the_attacker_created_and_nobody_removed_are_left_behind() -> None:
    j = JournalBuilder()
    j.call(10, "attacker", "iam", "CreateUser", result={"UserName": "svc-backup-admin"})
    j.call(11, "attacker", "iam", "CreateAccessKey", params={"UserName": "svc-backup-admin"},
           result={"AccessKeyId": BACKDOOR_KEY})  # fmt: skip
    j.call(12, "attacker", "iam", "CreateLoginProfile", params={"UserName": "ops-admin"})
    j.call(13, "attacker", "iam", "CreateRole", params={"RoleName": "OrgAccess-bkp"})
    j.call(14, "attacker", "ec2", "RunInstances", region="sa-east-1",
           result={"InstanceIds": ["i-1", "i-2"]})  # fmt: skip
    j.call(15, "attacker", "lambda", "CreateFunction", region="us-east-1",
           params={"FunctionName": "system-metrics-agent"})  # fmt: skip
    leftovers = attacker_leftovers(j.events)
    assert [(r.kind, r.id, r.region, r.owner) for r in leftovers] == [
        ("user", "svc-backup-admin", None, None),
        ("access-key", BACKDOOR_KEY, None, "svc-backup-admin"),
        ("login-profile", "ops-admin", None, "ops-admin"),
        ("role", "OrgAccess-bkp", None, None),
        ("instance", "i-1", "sa-east-1", None),
        ("instance", "i-2", "sa-east-1", None),
        ("function", "system-metrics-agent", "us-east-1", None),
    ]
    assert leftovers[4].where == "sa-east-1"
    assert leftovers[0].where == "IAM (global)"


def test_removals_by_anyone_clear_leftovers_and_deleting_a_user_takes_its_keys() -> None:
    j = JournalBuilder()
    j.call(10, "attacker", "iam", "CreateUser", result={"UserName": "svc-backup-admin"})
    j.call(11, "attacker", "iam", "CreateAccessKey", params={"UserName": "svc-backup-admin"},
           result={"AccessKeyId": BACKDOOR_KEY})  # fmt: skip
    j.call(12, "attacker", "ec2", "RunInstances", region="sa-east-1",
           result={"InstanceIds": ["i-1", "i-2", "i-3"]})  # fmt: skip
    j.call(100, "responder", "iam", "DeleteUser", params={"UserName": "svc-backup-admin"})
    # Query-style parameters as the EC2 API sends them, and a parsed list.
    j.call(110, "responder", "ec2", "TerminateInstances", region="sa-east-1",
           params={"InstanceId.1": "i-1", "InstanceId.2": "i-2"})  # fmt: skip
    j.call(120, "framework", "ec2", "TerminateInstances", region="sa-east-1",
           params={"InstanceIds": ["i-3"]})  # fmt: skip
    footprint = attacker_footprint(j.events)
    assert all(not r.left_behind for r in footprint)
    key = next(r for r in footprint if r.kind == "access-key")
    assert (key.removed_at_s, key.removed_by) == (100, "responder")
    assert next(r for r in footprint if r.id == "i-3").removed_by == "framework"


def test_failed_calls_create_and_remove_nothing() -> None:
    j = JournalBuilder()
    j.call(10, "attacker", "iam", "CreateUser", params={"UserName": "x"}, status=403,
           error_code="AccessDenied")  # fmt: skip
    j.call(11, "attacker", "ec2", "RunInstances", region="sa-east-1",
           result={"InstanceIds": ["i-1"]})  # fmt: skip
    j.call(
        20,
        "responder",
        "ec2",
        "TerminateInstances",
        region="sa-east-1",
        params={"InstanceId.1": "i-1"},
        status=400,
        error_code="UnauthorizedOperation",
    )
    assert [r.id for r in attacker_leftovers(j.events)] == ["i-1"]


def test_a_termination_in_another_region_does_not_count() -> None:
    j = JournalBuilder()
    j.call(11, "attacker", "ec2", "RunInstances", region="sa-east-1",
           result={"InstanceIds": ["i-1"]})  # fmt: skip
    j.call(20, "responder", "ec2", "TerminateInstances", region="us-east-1",
           params={"InstanceId.1": "i-1"})  # fmt: skip
    assert [r.id for r in attacker_leftovers(j.events)] == ["i-1"]


def test_a_relaunch_after_termination_is_a_new_leftover() -> None:
    j = JournalBuilder()
    j.call(10, "attacker", "iam", "CreateUser", result={"UserName": "svc"})
    j.call(20, "responder", "iam", "DeleteUser", params={"UserName": "svc"})
    j.call(30, "attacker", "iam", "CreateUser", result={"UserName": "svc"})
    footprint = attacker_footprint(j.events)
    assert [(r.created_at_s, r.left_behind) for r in footprint] == [(10, False), (30, True)]


def test_a_deactivated_key_is_still_left_behind_but_marked_so() -> None:
    j = JournalBuilder()
    j.call(11, "attacker", "iam", "CreateAccessKey", params={"UserName": "m.okafor"},
           result={"AccessKeyId": BACKDOOR_KEY})  # fmt: skip
    j.call(50, "responder", "iam", "UpdateAccessKey",
           params={"AccessKeyId": BACKDOOR_KEY, "Status": "Inactive"})  # fmt: skip
    (key,) = attacker_leftovers(j.events)
    assert key.disabled_at_s == 50
    assert key.describe() == f"access-key {BACKDOOR_KEY} of m.okafor"
    j.call(60, "attacker", "iam", "UpdateAccessKey",
           params={"AccessKeyId": BACKDOOR_KEY, "Status": "Active"})  # fmt: skip
    (key,) = attacker_leftovers(j.events)
    assert key.disabled_at_s is None


def test_a_technique_summary_adds_what_no_call_showed_without_doubling_what_one_did() -> None:
    j = JournalBuilder()
    j.call(10, "attacker", "iam", "CreateUser", result={"UserName": "svc"})
    j.technique(
        10,
        "aws.persistence.iam-create-backdoor-user",
        {"kind": "user", "id": "svc"},
        {"kind": "login-profile", "id": "svc", "parent": "svc"},
        {"kind": "role", "id": "bkp"},
        {"kind": "instance", "id": "i-9", "region": "sa-east-1"},
        {"kind": "bucket", "id": "not-a-kind-we-track"},
    )
    found = [(r.kind, r.id, r.region, r.owner) for r in attacker_footprint(j.events)]
    assert found == [
        ("user", "svc", None, None),
        ("login-profile", "svc", None, "svc"),
        ("role", "bkp", None, None),
        ("instance", "i-9", "sa-east-1", None),
    ]
    assert technique_created(j.events[-1]) == [
        "user svc",
        "login-profile svc",
        "role bkp",
        "instance i-9 in sa-east-1",
    ]


def test_outage_spans_run_from_the_first_failing_probe_to_the_next_good_one() -> None:
    j = JournalBuilder()
    for t, ok in [(60, True), (120, False), (180, False), (240, True), (300, False)]:
        j.probe(t, ok)
    assert outage_spans(j.events, end_s=400) == [Span(120, 240), Span(300, 400)]
    assert outage_spans(JournalBuilder().events, end_s=400) == []


def test_calls_are_summarised_per_action_in_order_of_first_use() -> None:
    j = JournalBuilder()
    j.call(10, "attacker", "ec2", "RunInstances", region="sa-east-1")
    j.call(20, "attacker", "iam", "ListUsers", status=403, error_code="AccessDenied")
    j.call(30, "attacker", "ec2", "RunInstances", region="ap-southeast-3", status=403,
           error_code="InvalidClientTokenId")  # fmt: skip
    j.call(40, "responder", "iam", "ListUsers")
    first, second = summarise_calls(j.events, "attacker")
    assert (first.action, first.count) == ("ec2:RunInstances", 2)
    assert (first.succeeded, first.failed) == (1, 1)
    assert first.regions == ("ap-southeast-3", "sa-east-1")
    assert (first.first_s, first.last_s) == (10, 30)
    assert first.error_codes == ("InvalidClientTokenId",)
    assert (second.action, second.succeeded) == ("iam:ListUsers", 0)


def test_the_end_of_the_run_falls_back_from_the_score_to_the_journal(scenario: Scenario) -> None:
    j = JournalBuilder()
    j.inject(67, "quarantine", "quarantine")
    j.note(500, "late note")
    assert run_end_s(j.events, scenario, empty_score(scenario, ended_at_s=900)) == 900
    assert run_end_s(j.events, scenario, empty_score(scenario)) == 500
    j.ended(800)
    assert run_end_s(j.events, scenario, empty_score(scenario)) == 800
    assert run_end_s([], scenario, empty_score(scenario)) == scenario.duration


def test_detection_is_the_scores_and_the_origin_of_its_times(scenario: Scenario) -> None:
    assert detection_s(empty_score(scenario, detected_at_s=67)) == 67
    assert origin_s(empty_score(scenario, detected_at_s=67)) == 67
    # Without a notice the score counts from T0.
    assert detection_s(empty_score(scenario)) is None
    assert origin_s(empty_score(scenario)) == 0
