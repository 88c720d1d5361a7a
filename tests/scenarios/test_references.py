"""Cross-references between sections: each rule on the raw data, located, with its hint."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.scenario.references import Loc, check_references

from . import REPO_ROOT, SMALL_SCENARIO

BASE: dict[str, Any] = yaml.safe_load(SMALL_SCENARIO)


def small() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def found(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    return list(check_references(data))


def only(data: dict[str, Any]) -> tuple[Loc, str]:
    problems = found(data)
    assert len(problems) == 1, problems
    return problems[0]


def users(data: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = data["account"]["estate"]["users"]
    return result


def add_user(data: dict[str, Any], name: str, *key_ids: str) -> None:
    users(data).append({"name": name, "keys": [{"id": k, "age": "10d"} for k in key_ids]})


def step_check(data: dict[str, Any], check: dict[str, Any]) -> None:
    data["steps"][0]["check"] = check


@pytest.mark.parametrize(
    "path", sorted((REPO_ROOT / "scenarios").glob("*.yaml")), ids=lambda p: Path(p).stem
)
def test_library_scenarios_have_no_reference_problems(path: Path) -> None:
    assert found(yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_the_small_scenario_has_no_reference_problems() -> None:
    assert found(small()) == []


# ── the estate ───────────────────────────────────────────────────────────────────────────


def test_duplicate_user_names() -> None:
    data = small()
    add_user(data, "deployer")
    assert only(data) == (
        ("account", "estate", "users", 1, "name"),
        "duplicate user 'deployer' — give each user its own name",
    )


def test_key_ids_are_unique_across_users() -> None:
    data = small()
    add_user(data, "ci-runner", "deploy-key")
    assert only(data) == (
        ("account", "estate", "users", 1, "keys", 0, "id"),
        "duplicate key id 'deploy-key' (also on user 'deployer') — key ids are unique across "
        "the estate",
    )


def test_leaked_is_a_reserved_key_id() -> None:
    data = small()
    users(data)[0]["keys"].append({"id": "leaked", "age": "1d"})
    loc, message = only(data)
    assert loc == ("account", "estate", "users", 0, "keys", 1, "id")
    assert message.startswith("'leaked' is reserved")


def test_a_user_has_at_most_two_keys() -> None:
    data = small()
    users(data)[0]["keys"] += [{"id": "two", "age": "1d"}, {"id": "three", "age": "1d"}]
    assert only(data) == (
        ("account", "estate", "users", 0, "keys"),
        "an IAM user has at most 2 access keys — remove the extra ones",
    )


def test_groups_and_own_policies_must_exist_but_arns_need_not() -> None:
    data = small()
    estate = data["account"]["estate"]
    estate["groups"] = [{"name": "developers"}]
    estate["policies"] = [{"name": "deploy-runtime", "document": {}}]
    users(data)[0]["groups"] = ["developers", "develoeprs"]
    users(data)[0]["policies"] = [
        "deploy-runtime",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "deploy-runtim",
    ]
    assert found(data) == [
        (
            ("account", "estate", "users", 0, "groups", 1),
            "unknown group 'develoeprs' — did you mean 'developers'?",
        ),
        (
            ("account", "estate", "users", 0, "policies", 2),
            "unknown policy 'deploy-runtim' — did you mean 'deploy-runtime'?",
        ),
    ]


def test_an_unknown_policy_with_no_own_policies_explains_where_to_define_it() -> None:
    data = small()
    data["account"]["estate"]["roles"] = [
        {"name": "auditor", "trust": {"services": ["ec2.amazonaws.com"]}, "policies": ["Audit"]}
    ]
    loc, message = only(data)
    assert loc == ("account", "estate", "roles", 0, "policies", 0)
    assert "define it under account.estate.policies" in message
    assert "arn:aws:iam::aws:policy/ReadOnlyAccess" in message


def test_a_role_must_trust_someone() -> None:
    data = small()
    data["account"]["estate"]["roles"] = [{"name": "auditor", "trust": {"services": []}}]
    assert only(data) == (
        ("account", "estate", "roles", 0, "trust"),
        "a role must trust someone — list services or accounts",
    )


def test_a_secret_from_a_key_needs_the_key_and_no_value() -> None:
    data = small()
    data["account"]["estate"]["secrets"] = [
        {"name": "a", "from_key": "deploy-kye"},
        {"name": "b", "from_key": "deploy-key", "value": "x"},
        {"name": "c", "from_key": "deploy-key"},
    ]
    assert found(data) == [
        (
            ("account", "estate", "secrets", 0, "from_key"),
            "unknown key 'deploy-kye' — did you mean 'deploy-key'?",
        ),
        (
            ("account", "estate", "secrets", 1, "value"),
            "give either 'value' or 'from_key', not both — remove one",
        ),
    ]


def with_trail(data: dict[str, Any]) -> None:
    estate = data["account"]["estate"]
    estate["buckets"] = [{"name": "northwind-cloudtrail"}]
    estate["trails"] = [{"name": "management-events", "bucket": "northwind-cloudtrail"}]


def test_a_trail_delivers_to_an_estate_bucket() -> None:
    data = small()
    with_trail(data)
    assert found(data) == []
    data["account"]["estate"]["trails"][0]["bucket"] = "northwind-cloudtrial"
    assert only(data) == (
        ("account", "estate", "trails", 0, "bucket"),
        "unknown bucket 'northwind-cloudtrial' — did you mean 'northwind-cloudtrail'?",
    )


def test_trail_names_are_unique() -> None:
    data = small()
    with_trail(data)
    trails = data["account"]["estate"]["trails"]
    trails.append(dict(trails[0]))
    assert only(data) == (
        ("account", "estate", "trails", 1, "name"),
        "duplicate trail 'management-events' — give each trail its own name",
    )


def test_stop_logging_and_logging_checks_name_estate_trails() -> None:
    data = small()
    with_trail(data)
    data["attacker"]["techniques"].append(
        {"technique": "aws.defense-evasion.cloudtrail-stop-logging", "at": "5m", "trail": "mgmt"}
    )
    step_check(data, {"type": "logging-enabled", "trail": "management-event"})
    assert found(data) == [
        (
            ("attacker", "techniques", 1, "trail"),
            "unknown trail 'mgmt' — expected one of: management-events",
        ),
        (
            ("steps", 0, "check", "trail"),
            "unknown trail 'management-event' — did you mean 'management-events'?",
        ),
    ]


def test_a_trail_reference_without_trails_says_where_to_define_them() -> None:
    data = small()
    step_check(data, {"type": "logging-enabled", "trail": "management-events"})
    assert only(data) == (
        ("steps", 0, "check", "trail"),
        "unknown trail 'management-events' — define it under account.estate.trails first",
    )


# ── the leak ─────────────────────────────────────────────────────────────────────────────


def test_leak_user_must_exist() -> None:
    data = small()
    data["leak"]["user"] = "deploy"
    assert only(data) == (("leak", "user"), "unknown user 'deploy' — did you mean 'deployer'?")


def test_leak_user_must_have_a_key() -> None:
    data = small()
    users(data)[0]["keys"] = []
    assert only(data) == (
        ("leak", "user"),
        "user 'deployer' has no access key to leak — add one under its 'keys'",
    )


def test_leak_key_must_be_the_users() -> None:
    data = small()
    add_user(data, "ci-runner", "ci-key")
    data["leak"]["key"] = "ci-key"
    assert only(data) == (
        ("leak", "key"),
        "'ci-key' is not a key of user 'deployer' — expected one of: deploy-key",
    )


def test_leak_key_of_a_user_without_keys() -> None:
    data = small()
    add_user(data, "ci-runner", "ci-key")
    users(data)[0]["keys"] = []
    data["leak"]["key"] = "ci-key"
    assert only(data) == (
        ("leak", "key"),
        "'ci-key' is not a key of user 'deployer' — user 'deployer' has no keys",
    )


@pytest.mark.parametrize("path", ["../deploy.sh", "/etc/passwd", "scripts/../../x"])
def test_leak_path_stays_inside_the_repository(path: str) -> None:
    data = small()
    data["leak"]["path"] = path
    loc, message = only(data)
    assert loc == ("leak", "path")
    assert message == (
        f"'{path}' leaves the repository — give a relative path inside it, like 'scripts/deploy.sh'"
    )


def test_leak_path_uses_forward_slashes() -> None:
    data = small()
    data["leak"]["path"] = "scripts\\deploy.sh"
    loc, _message = only(data)
    assert loc == ("leak", "path")


@pytest.mark.parametrize("path", ["deploy.sh", "scripts/deploy.sh", "a..b/c", ".github/x.yml"])
def test_leak_paths_inside_the_repository_are_fine(path: str) -> None:
    data = small()
    data["leak"]["path"] = path
    assert found(data) == []


def test_the_key_is_removed_in_a_commit_that_exists() -> None:
    data = small()
    data["leak"]["removed"] = {"after_commits": 3}
    data["leak"]["history"] = {"after": 2}
    assert only(data) == (
        ("leak", "removed", "after_commits"),
        "there are only 2 commits after the leak — raise leak.history.after or lower after_commits",
    )
    data["leak"]["history"] = {"after": 3}
    assert found(data) == []


# ── the timeline ─────────────────────────────────────────────────────────────────────────


def test_inject_ids_are_unique() -> None:
    data = small()
    data["timeline"][1]["id"] = "quarantine"
    assert only(data) == (
        ("timeline", 1, "id"),
        "duplicate inject 'quarantine' — give each inject its own id",
    )


@pytest.mark.parametrize(
    "timing",
    [{}, {"at": "2m", "after": {"inject": "quarantine"}}, {"at": None, "after": None}],
    ids=["neither", "both", "nulls"],
)
def test_an_inject_has_exactly_one_time(timing: dict[str, Any]) -> None:
    data = small()
    inject = data["timeline"][1]
    del inject["at"]
    inject.update(timing)
    loc, message = only(data)
    assert loc == ("timeline", 1)
    assert "exactly one of 'at'" in message or "only one of 'at'" in message


def test_after_names_an_existing_inject() -> None:
    data = small()
    data["timeline"][1] = {"id": "case", "type": "support-case", "after": {"inject": "quarantin"}}
    assert only(data) == (
        ("timeline", 1, "after", "inject"),
        "unknown inject 'quarantin' — did you mean 'quarantine'?",
    )


def test_an_inject_cannot_wait_on_itself() -> None:
    data = small()
    data["timeline"][1] = {"id": "case", "type": "support-case", "after": {"inject": "case"}}
    # once, where it says so: not a second time as a cycle of 'after'
    assert only(data) == (
        ("timeline", 1, "after", "inject"),
        "an inject cannot come after itself — name another",
    )


def test_a_step_after_itself_is_reported_once() -> None:
    data = small()
    data["steps"][0]["after"] = ["disable-leaked-key"]
    assert only(data) == (
        ("steps", 0, "after", 0),
        "a step cannot come after itself — remove it from its own 'after'",
    )


def test_a_cycle_of_after_is_reported_on_every_inject_in_it() -> None:
    data = small()
    data["timeline"] = [
        {"id": "a", "type": "console", "text": "x", "after": {"inject": "c"}},
        {"id": "b", "type": "console", "text": "x", "after": {"inject": "a"}},
        {"id": "c", "type": "console", "text": "x", "after": {"inject": "b"}},
        {"id": "d", "type": "console", "text": "x", "after": {"inject": "c"}},
    ]
    problems = found(data)
    assert [loc for loc, _ in problems] == [("timeline", i, "after") for i in range(3)]
    assert problems[0][1] == (
        "inject 'a' waits on itself through a cycle of 'after' — break the cycle"
    )


def test_a_chain_of_after_without_a_cycle_is_fine() -> None:
    data = small()
    data["timeline"].append({"id": "mail", "type": "email", "after": {"inject": "support-case"}})
    data["timeline"].append(
        {
            "id": "call",
            "type": "phone-call",
            "after": {"inject": "mail"},
            "when": ["enterprise-support"],
        }
    )
    assert found(data) == []


def test_an_inject_within_the_exercise() -> None:
    data = small()
    data["timeline"][0]["at"] = "61m"
    assert only(data) == (
        ("timeline", 0, "at"),
        "this inject comes after the exercise ends — lower 'at' or raise 'duration'",
    )
    data["timeline"][0]["at"] = "60m"
    assert found(data) == []


def test_a_technique_within_the_exercise() -> None:
    data = small()
    data["attacker"]["techniques"][0]["at"] = "61m"
    assert only(data) == (
        ("attacker", "techniques", 0, "at"),
        "this technique comes after the exercise ends — lower 'at' or raise 'duration'",
    )
    data["attacker"]["techniques"][0]["at"] = "60m"
    assert found(data) == []


def test_the_attackers_first_use_within_the_exercise() -> None:
    data = small()
    data["attacker"]["first_use"] = "2h"
    assert only(data) == (
        ("attacker", "first_use"),
        "the attacker's first use comes after the exercise ends — lower 'first_use' or "
        "raise 'duration'",
    )


# ── the attacker ─────────────────────────────────────────────────────────────────────────


def technique(data: dict[str, Any], **fields: Any) -> None:
    data["attacker"]["techniques"].append({"at": "5m", **fields})


def test_the_backdoor_user_must_be_new() -> None:
    data = small()
    technique(data, technique="aws.persistence.iam-create-backdoor-user", user_name="deployer")
    assert only(data) == (
        ("attacker", "techniques", 1, "user_name"),
        "user 'deployer' already exists — the backdoor user needs a new name",
    )


@pytest.mark.parametrize(
    "kind",
    ["aws.persistence.iam-backdoor-existing-user", "aws.persistence.iam-create-login-profile"],
)
def test_techniques_on_existing_users_need_the_user(kind: str) -> None:
    data = small()
    technique(data, technique=kind, user_name="deployr")
    assert only(data) == (
        ("attacker", "techniques", 1, "user_name"),
        "unknown user 'deployr' — did you mean 'deployer'?",
    )


def test_s3_download_names_estate_buckets() -> None:
    data = small()
    data["account"]["estate"]["buckets"] = [{"name": "northwind-invoices"}]
    technique(data, technique="aws.exfiltration.s3-download", buckets=["northwind-invoice"])
    assert only(data) == (
        ("attacker", "techniques", 1, "buckets", 0),
        "unknown bucket 'northwind-invoice' — did you mean 'northwind-invoices'?",
    )


@pytest.mark.parametrize(
    ("regions", "problem"),
    [(["us-east-1"], True), (["us-east-1", "sa-east-1"], False), (["sa-east-1"], False)],
)
def test_mining_goes_to_at_least_one_unused_region(regions: list[str], problem: bool) -> None:
    data = small()
    technique(data, technique="aws.impact.ec2-mining", regions=regions)
    expected = [
        (
            ("attacker", "techniques", 1, "regions"),
            "attackers favour regions the victim never uses — add at least one region outside "
            "account.regions",
        )
    ]
    assert found(data) == (expected if problem else [])


# ── the workload ─────────────────────────────────────────────────────────────────────────


def with_workload(data: dict[str, Any], **fields: Any) -> None:
    add_user(data, "billing-api", "billing-prod")
    data["account"]["estate"]["secrets"] = [{"name": "prod/billing", "from_key": "billing-prod"}]
    data["workload"] = {
        "name": "billing",
        "user": "billing-api",
        "key": "billing-prod",
        "secret": "prod/billing",
        **fields,
    }


def test_a_complete_workload_is_fine() -> None:
    data = small()
    with_workload(data)
    assert found(data) == []


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [
        pytest.param(
            {"user": "biling-api"},
            "user",
            "unknown user 'biling-api' — did you mean 'billing-api'?",
        ),
        (
            {"key": "deploy-key"},
            "key",
            "key 'deploy-key' belongs to user 'deployer', not the workload's — use one of user "
            "'billing-api''s keys: billing-prod",
        ),
        ({"key": "billing-prd"}, "key", "unknown key 'billing-prd' — did you mean 'billing-prod'?"),
        (
            {"secret": "prod/biling"},
            "secret",
            "unknown secret 'prod/biling' — did you mean 'prod/billing'?",
        ),
    ],
)
def test_the_workload_refers_to_its_user_key_and_secret(
    fields: dict[str, str], loc: str, message: str
) -> None:
    data = small()
    with_workload(data, **fields)
    assert only(data) == (("workload", loc), message)


# ── steps and penalties ──────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("check", "loc", "message"),
    [
        (
            {"type": "access-key-disabled", "key": "deploy-kye"},
            ("key",),
            "unknown key 'deploy-kye' — did you mean 'deploy-key'?",
        ),
        (
            {"type": "access-key-disabled", "key": "leaked", "user": "deployr"},
            ("user",),
            "unknown user 'deployr' — did you mean 'deployer'?",
        ),
        (
            {"type": "keys-rotated", "users": ["deployer", "deployr"]},
            ("users", 1),
            "unknown user 'deployr' — did you mean 'deployer'?",
        ),
        (
            {"type": "keys-rotated", "exclude": ["ci"]},
            ("exclude", 0),
            "unknown user 'ci' — expected one of: deployer",
        ),
        (
            {"type": "secret-rotated", "secret": "prod/x"},
            ("secret",),
            "unknown secret 'prod/x' — define it under account.estate.secrets first",
        ),
        (
            {"type": "api-called", "action": "iam:ListUsers", "before_step": "disable-leaked-ky"},
            ("before_step",),
            "unknown step 'disable-leaked-ky' — did you mean 'disable-leaked-key'?",
        ),
        (
            {"type": "workload-healthy"},
            ("type",),
            "check 'workload-healthy' needs a workload — add a 'workload' section",
        ),
        (
            {"type": "production-key-deleted-without-replacement"},
            ("type",),
            "check 'production-key-deleted-without-replacement' needs a workload — add a "
            "'workload' section",
        ),
    ],
    ids=lambda v: v["type"] if isinstance(v, dict) else None,
)
def test_checks_refer_to_what_exists(check: dict[str, Any], loc: Loc, message: str) -> None:
    data = small()
    step_check(data, check)
    assert only(data) == (("steps", 0, "check", *loc), message)


def test_the_key_named_leaked_always_resolves() -> None:
    data = small()
    step_check(data, {"type": "access-key-disabled", "key": "leaked"})
    assert found(data) == []


def test_penalty_checks_are_checked_too() -> None:
    data = small()
    data["penalties"] = [
        {"id": "outage", "title": "Outage", "check": {"type": "workload-outage"}, "points": 1}
    ]
    loc, message = only(data)
    assert loc == ("penalties", 0, "check", "type")
    assert message.startswith("check 'workload-outage' needs a workload")


def test_step_and_penalty_ids_are_unique() -> None:
    data = small()
    data["steps"].append(copy.deepcopy(data["steps"][0]))
    penalty = {"id": "p", "title": "P", "check": {"type": "repository-deleted"}, "points": 5}
    data["penalties"] = [penalty, dict(penalty)]
    assert found(data) == [
        (("steps", 1, "id"), "duplicate step 'disable-leaked-key' — give each step its own id"),
        (("penalties", 1, "id"), "duplicate penalty 'p' — give each penalty its own id"),
    ]


def test_the_deadline_is_not_before_the_target() -> None:
    data = small()
    data["steps"][0]["deadline"] = "5m"
    assert only(data) == (
        ("steps", 0, "deadline"),
        "the deadline comes before the target — make it later",
    )
    data["steps"][0]["deadline"] = "10m"
    assert found(data) == []


def test_a_step_deadline_fits_in_the_exercise_left_after_detection() -> None:
    # the deadline counts from the first notice (the support case at 2m), not the push
    data = small()
    data["steps"][0]["deadline"] = "59m"
    assert only(data) == (
        ("steps", 0, "deadline"),
        "the deadline is after the exercise ends: it counts from detection, the first notice "
        "('support-case' at 2m), which leaves 58m of the 1h exercise — lower it to 58m or "
        "raise 'duration' to 1h1m",
    )
    data["steps"][0]["deadline"] = "58m"
    assert found(data) == []


def test_detection_is_the_earliest_notice_that_can_fire() -> None:
    data = small()
    data["steps"][0]["deadline"] = "59m"
    data["timeline"][1]["at"] = "1m30s"
    # a phone call the business plan never gets, a webhook with nowhere to post, an email
    # after the case: none of them comes before the case
    data["timeline"] += [
        {"id": "call", "type": "phone-call", "at": "1m", "when": ["enterprise-support"]},
        {"id": "hook", "type": "webhook", "at": "1m"},
        {"id": "mail", "type": "email", "after": {"inject": "support-case", "delay": "30s"}},
    ]
    assert only(data)[1].startswith(
        "the deadline is after the exercise ends: it counts from detection, the first notice "
        "('support-case' at 1m30s), which leaves 58m30s"
    )
    data["timeline"][3]["url"] = "https://hooks.example/alert"  # now it notifies, at 1m
    assert found(data) == []


def test_without_a_notice_a_deadline_counts_from_the_push() -> None:
    data = small()
    data["timeline"] = [{"id": "quarantine", "type": "quarantine", "at": "67s"}]
    data["steps"][0]["deadline"] = "61m"
    assert only(data) == (
        ("steps", 0, "deadline"),
        "the deadline is after the exercise ends: no inject notifies anyone, so it counts from "
        "the push — lower it to 1h or raise 'duration' to 1h1m",
    )


def test_the_steps_are_worth_some_points() -> None:
    data = small()
    data["steps"][0]["points"] = 0
    assert only(data) == (("steps",), "no step is worth any points — give the steps points")


# ── robustness: the model may have found the data malformed ──────────────────────────────

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
SECTIONS = ("account", "leak", "timeline", "attacker", "workload", "steps", "penalties")


MALFORMED = st.dictionaries(st.sampled_from((*SECTIONS, "duration")), JSON)


# `make test` tries a couple of dozen; the sweep (`make test-sweeps`, in CI too) a hundred
@settings(max_examples=25, deadline=None)
@given(MALFORMED)
def test_malformed_sections_never_crash_the_checks(data: dict[str, Any]) -> None:
    checks_locate_malformed_sections(data)


@pytest.mark.sweep
@settings(max_examples=100, deadline=None)
@given(MALFORMED)
def test_many_more_malformed_sections_never_crash_the_checks(data: dict[str, Any]) -> None:
    checks_locate_malformed_sections(data)


def checks_locate_malformed_sections(data: dict[str, Any]) -> None:
    for loc, message in check_references(data):
        assert isinstance(loc, tuple)
        assert " — " in message


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SECTIONS), st.sampled_from(["", 0, None, [], {}, "x", [1]])),
        min_size=1,
        max_size=3,
    )
)
def test_wrong_shapes_in_a_real_scenario_never_crash_the_checks(
    replacements: list[tuple[str, Any]],
) -> None:
    data = small()
    for section, value in replacements:
        data[section] = value
    for _loc, message in check_references(data):
        assert " — " in message


def test_a_call_on_a_plan_aws_does_not_phone_is_refused() -> None:
    data = small()
    data["account"]["support_plan"] = "basic"
    data["timeline"].append({"id": "call", "type": "phone-call", "at": "3m"})
    assert only(data) == (
        ("timeline", len(data["timeline"]) - 1, "type"),
        "AWS phones only Enterprise Support customers and this account's support plan is "
        "'basic' — remove the call, or set account.support_plan: enterprise",
    )
    # said to happen only on Enterprise: a scenario played on several plans keeps it
    data["timeline"][-1]["when"] = ["enterprise-support"]
    assert found(data) == []
    # a misspelt condition is one mistake, told by the format: not a second one here
    data["timeline"][-1]["when"] = ["enterprise"]
    assert found(data) == []
    data["timeline"][-1].pop("when")
    data["account"]["support_plan"] = "enterprise"
    assert found(data) == []


@pytest.mark.parametrize("kind, verb", [("case-replied", "reply to"), ("case-resolved", "resolve")])
def test_a_case_step_on_a_plan_without_the_support_api_is_refused(kind: str, verb: str) -> None:
    data = small()
    data["account"]["support_plan"] = "developer"
    data["steps"].append(
        {
            "id": "answer",
            "title": "Answer AWS",
            "phase": "communicate",
            "check": {"type": kind},
            "points": 5,
        }
    )
    assert only(data) == (
        ("steps", len(data["steps"]) - 1, "check", "type"),
        "on a 'developer' support plan the Support API refuses every call "
        f"(SubscriptionRequiredException), so no team can {verb} the case — set "
        "account.support_plan to business or enterprise, or drop the step",
    )
    data["account"]["support_plan"] = "business"
    assert found(data) == []


def test_a_case_step_without_a_case_is_refused() -> None:
    data = small()
    data["account"]["support_plan"] = "business"
    data["timeline"] = [i for i in data["timeline"] if i["type"] != "support-case"]
    data["timeline"].append({"id": "mail", "type": "email", "at": "2m"})
    data["steps"].append(
        {
            "id": "answer",
            "title": "Answer AWS",
            "phase": "communicate",
            "check": {"type": "case-replied"},
            "points": 5,
        }
    )
    assert only(data) == (
        ("steps", len(data["steps"]) - 1, "check", "type"),
        "no inject opens a support case, so there is no case to reply to — add one to the "
        "timeline, like {id: case, type: support-case, at: 2m}, or drop the step",
    )


def test_a_misspelt_inject_type_does_not_move_the_deadlines() -> None:
    """An unknown inject type is one mistake: the deadlines are not measured against a
    first notice that only looks late because the real notice was misspelt."""
    data = small()
    data["duration"] = "2h"
    data["timeline"] = [
        {"id": "mail", "type": "emial", "at": "2m"},
        {"id": "late", "type": "email", "at": "100m"},
    ]
    data["steps"][0]["deadline"] = "40m"
    assert found(data) == []
    data["timeline"][0]["type"] = "email"
    assert found(data) == []
    data["timeline"].pop(0)
    assert [loc for loc, _ in found(data)] == [("steps", 0, "deadline")]


def test_validate_and_the_mock_agree_on_the_plans_with_the_support_api() -> None:
    from gameday.scenario.timing import PLANS_WITH_SUPPORT_API
    from gameday.world.support import PLANS_WITH_API

    assert PLANS_WITH_SUPPORT_API == PLANS_WITH_API


def test_a_support_call_step_on_a_plan_without_the_support_api_is_refused() -> None:
    data = small()
    data["account"]["support_plan"] = "basic"
    check = {"type": "api-called", "action": "support:DescribeCases"}
    data["steps"].append(
        {"id": "read", "title": "Read the case", "phase": "triage", "check": check, "points": 5}
    )
    assert only(data) == (
        ("steps", len(data["steps"]) - 1, "check", "action"),
        "on a 'basic' support plan the Support API refuses every call "
        "(SubscriptionRequiredException), so no team can call support:DescribeCases — set "
        "account.support_plan to business or enterprise, or drop the step",
    )


def test_a_console_password_for_a_user_who_has_one_is_refused() -> None:
    data = small()
    data["account"]["estate"]["users"][0]["console"] = True
    name = data["account"]["estate"]["users"][0]["name"]
    technique = {
        "technique": "aws.persistence.iam-create-login-profile",
        "at": "90s",
        "user_name": name,
    }
    data["attacker"]["techniques"].append(technique)
    index = len(data["attacker"]["techniques"]) - 1
    assert only(data) == (
        ("attacker", "techniques", index, "user_name"),
        f"user '{name}' already has a console password (console: true), so IAM refuses "
        "another (EntityAlreadyExists) — name a user without one, or drop its console: true",
    )
    technique["refused"] = True  # a refused attempt is the story: any refusal will do
    assert found(data) == []


def test_a_secret_or_an_instance_outside_the_regions_the_company_uses_is_refused() -> None:
    data = small()
    data["account"]["regions"] = ["eu-west-1", "eu-west-2"]
    estate = data["account"]["estate"]
    estate["secrets"] = [{"name": "prod/app", "value": "x"}]
    estate["instances"] = [{"region": "ap-south-1", "name": "web"}]
    assert found(data) == [
        (
            ("account", "estate", "secrets", 0),
            "secret 'prod/app' is in us-east-1 (the default), but the company works only in "
            "eu-west-1, eu-west-2 (account.regions) — give it a region: one of those, or add "
            "us-east-1 to account.regions",
        ),
        (
            ("account", "estate", "instances", 0, "region"),
            "the instances 'web' are in ap-south-1, but the company works only in eu-west-1, "
            "eu-west-2 (account.regions) — set its region to one of those, or add ap-south-1 "
            "to account.regions",
        ),
    ]
    estate["secrets"][0]["region"] = "eu-west-2"
    estate["instances"][0]["region"] = "eu-west-1"
    assert found(data) == []


@pytest.mark.parametrize("vector", ["package-artifact", "docker-image"])
def test_a_release_vector_refuses_a_trick_or_a_removal(vector: str) -> None:
    data = small()
    data["leak"]["vector"] = vector
    data["leak"].pop("path", None)
    data["leak"]["trick"] = {"type": "fork"}
    data["leak"]["removed"] = {"after_commits": 1}
    data["leak"]["history"] = {"after": 2}
    assert found(data) == [
        (
            ("leak", "trick"),
            f"'{vector}' leaks the key in a release's download, never in a commit, so a history "
            "trick has nothing to act on — remove leak.trick, or pick a vector that commits the "
            "key",
        ),
        (
            ("leak", "removed"),
            f"'{vector}' leaks the key in a release's download, never in a commit, so a later "
            "removal has nothing to act on — remove leak.removed, or pick a vector that commits "
            "the key",
        ),
    ]
