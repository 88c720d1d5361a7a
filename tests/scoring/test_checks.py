"""Each check type against short incident stories: what makes it hold, and what must not."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from gameday.scenario.model import REGIONS, Check
from gameday.scoring.checks import CHECKS, Verdict
from gameday.scoring.score import score_journal
from gameday.scoring.state import QUARANTINE_INLINE, State

from .journals import ADMIN, QUARANTINE_V3, T0, JournalBuilder, northwind

CHECK = TypeAdapter(Check)
DENY_EVERYTHING: dict[str, Any] = {"Effect": "Deny", "Action": "*", "Resource": "*"}
DENY_ALL: dict[str, Any] = {"Version": "2012-10-17", "Statement": [DENY_EVERYTHING]}


def story(**options: Any) -> JournalBuilder:
    return JournalBuilder(northwind(), **options)


def verdict(journal: JournalBuilder, check: dict[str, Any], owner: str = "a-step") -> Verdict:
    params = CHECK.validate_python(check)
    state = State(journal.scenario)
    for event in journal.events():
        state.apply(event)
    return CHECKS.get(params.type).evaluate(params, state, owner)


def holds(journal: JournalBuilder, check: dict[str, Any], owner: str = "a-step") -> bool:
    return verdict(journal, check, owner).holds


# ── access-key-disabled ──────────────────────────────────────────────────────────────────


def test_an_estate_key_can_be_wanted_inactive_deleted_or_either() -> None:
    journal = story()
    journal.at("5m").deactivate("alvarez-cli")
    wanted = {
        s: {"type": "access-key-disabled", "key": "alvarez-cli", "state": s}
        for s in ("inactive", "deleted", "any")
    }
    assert [holds(journal, wanted[s]) for s in ("inactive", "deleted", "any")] == [
        True,
        False,
        True,
    ]
    journal.at("6m").delete_key("alvarez-cli")
    assert [holds(journal, wanted[s]) for s in ("inactive", "deleted", "any")] == [
        False,
        True,
        True,
    ]


def test_all_keys_of_a_user_includes_the_ones_minted_during_the_run() -> None:
    journal = story()
    backdoor = journal.new_key_id()
    journal.at("4m").call(
        "attacker",
        "iam:CreateAccessKey",
        {"UserName": "j.alvarez"},
        {"AccessKeyId": backdoor, "UserName": "j.alvarez"},
    )
    journal.at("10m").deactivate("alvarez-cli")
    every_key = {"type": "access-key-disabled", "key": None, "user": "j.alvarez"}
    result = verdict(journal, every_key)
    assert not result.holds and backdoor in result.reason
    journal.at("11m").delete_key(backdoor)
    assert holds(journal, every_key)


def test_a_refused_call_changes_nothing() -> None:
    journal = story()
    journal.at("5m").call(
        "responder",
        "iam:DeleteAccessKey",
        {"AccessKeyId": journal.leaked},
        status=403,
        error_code="AccessDenied",
    )
    assert not holds(journal, {"type": "access-key-disabled"})


def test_deleting_a_user_deletes_its_keys() -> None:
    journal = story()
    journal.at("4m").attacker_backdoor_user("svc-backup-admin")
    journal.at("9m").call("responder", "iam:DeleteUser", {"UserName": "svc-backup-admin"})
    check = {
        "type": "access-key-disabled",
        "key": None,
        "user": "svc-backup-admin",
        "state": "deleted",
    }
    assert holds(journal, check)


# ── keys-rotated ─────────────────────────────────────────────────────────────────────────


def test_every_key_that_worked_at_the_push_must_be_replaced_then_disabled() -> None:
    journal = story()
    rotated = {"type": "keys-rotated", "exclude": ["billing-api"]}
    journal.at("8m").deactivate("leaked")
    result = verdict(journal, rotated)
    assert not result.holds and "alvarez-cli" in result.reason and "ci-old" not in result.reason
    assert "deploy-bot has no new key from the team" in result.reason  # disabled is not rotated
    journal.at("20m").rotate("alvarez-cli", "j.alvarez")  # the fresh key is after the breach
    journal.create_key("deploy-bot")
    result = verdict(journal, rotated)
    assert (result.holds, result.by) == (True, "team")
    assert not holds(journal, {"type": "keys-rotated"})  # billing-prod is still the old key


def test_a_new_key_before_the_old_one_is_disabled_is_not_yet_a_rotation() -> None:
    journal = story()
    rotated = {"type": "keys-rotated", "users": ["j.alvarez"]}
    journal.at("20m").create_key("j.alvarez")
    result = verdict(journal, rotated)
    assert not result.holds and "alvarez-cli" in result.reason and "still active" in result.reason
    journal.at("21m").deactivate("alvarez-cli")
    assert holds(journal, rotated)


def test_a_key_the_attacker_minted_is_no_replacement() -> None:
    journal = story()
    rotated = {"type": "keys-rotated", "users": ["j.alvarez"]}
    journal.at("4m").call(
        "attacker",
        "iam:CreateAccessKey",
        {"UserName": "j.alvarez"},
        {"AccessKeyId": journal.new_key_id(), "UserName": "j.alvarez"},
    )
    journal.at("20m").delete_key("alvarez-cli")
    assert "j.alvarez has no new key from the team" in verdict(journal, rotated).reason


def test_a_key_held_in_a_secret_is_rotated_only_through_the_secret() -> None:
    journal = story()
    rotated = {"type": "keys-rotated", "users": ["billing-api"]}
    journal.probes("0s", "31m", ok=True)
    journal.at("30m")
    fresh = journal.create_key("billing-api")
    journal.at("31m").deactivate("billing-prod")  # the secret still holds the old key
    result = verdict(journal, rotated)
    assert not result.holds and "prod/billing-api/aws still holds" in result.reason
    journal.at("32m").put_secret("prod/billing-api/aws", fresh)
    result = verdict(journal, rotated)
    assert not result.holds and "has not worked with it yet" in result.reason
    journal.probes("33m", "34m", ok=True)  # the service reads the new key from the secret
    assert holds(journal, rotated)


def test_the_responders_own_key_is_never_counted() -> None:
    journal = story(responder_key="alvarez-cli")
    journal.at("8m").deactivate("leaked")
    journal.create_key("deploy-bot")
    assert holds(journal, {"type": "keys-rotated", "exclude": ["billing-api"]})


def test_keys_rotated_can_be_limited_to_some_users() -> None:
    journal = story()
    journal.at("8m").deactivate("leaked")
    journal.create_key("deploy-bot")
    assert holds(journal, {"type": "keys-rotated", "users": ["deploy-bot"]})
    assert not holds(journal, {"type": "keys-rotated", "users": ["deploy-bot", "j.alvarez"]})


# ── attacker-leftovers-removed ───────────────────────────────────────────────────────────


def test_instances_the_attacker_relaunches_make_leftovers_reappear() -> None:
    journal = story()
    instances = {"type": "attacker-leftovers-removed", "kinds": ["instances"]}
    journal.at("4m").attacker_backdoor_user("svc-backup-admin")
    journal.at("6m").attacker_mining(["ap-southeast-3", "sa-east-1"], count=2)
    assert verdict(journal, instances).reason.startswith("4 attacker resource(s) remain")
    journal.at("15m").terminate(journal.mined)
    assert holds(journal, instances)
    first_wave = list(journal.mined)
    journal.at("16m").attacker_mining(["sa-east-1"], count=1)  # with the backdoor user's key
    assert not holds(journal, instances)
    journal.at("18m").terminate([m for m in journal.mined if m not in first_wave])
    assert holds(journal, instances)


def test_resources_only_a_technique_reports_are_leftovers_too() -> None:
    journal = story()
    journal.at("8m").event(
        "attacker.technique",
        technique="aws.execution.lambda-create-function",
        status="succeeded",
        created=[
            {"kind": "role", "id": "system-metrics-agent-role", "region": "global", "parent": ""},
            {"kind": "function", "id": "system-metrics-agent", "region": "eu-west-1", "parent": ""},
        ],
    )
    everything = {"type": "attacker-leftovers-removed"}
    assert not holds(journal, everything)
    journal.at("20m").call(
        "responder",
        "lambda:DeleteFunction",
        {"FunctionName": "arn:aws:lambda:eu-west-1:491826357014:function:system-metrics-agent"},
        region="eu-west-1",
    )
    result = verdict(journal, everything)
    assert not result.holds and result.reason.endswith("role system-metrics-agent-role")
    journal.at("21m").call("responder", "iam:DeleteRole", {"RoleName": "system-metrics-agent-role"})
    assert holds(journal, everything)


def test_footholds_on_existing_users_and_spot_requests_are_leftovers() -> None:
    journal = story()
    journal.at("5m").call("attacker", "iam:CreateLoginProfile", {"UserName": "ci-deployer"})
    journal.call(
        "attacker",
        "iam:PutUserPolicy",
        {"UserName": "ci-deployer", "PolicyName": "ops", "PolicyDocument": json.dumps(DENY_ALL)},
    )
    journal.call("attacker", "iam:AttachUserPolicy", {"UserName": "j.alvarez", "PolicyArn": ADMIN})
    journal.call(
        "attacker",
        "ec2:RequestSpotInstances",
        {"InstanceCount": 1},
        {"SpotInstanceRequestIds": ["sir-7g3kd8qp"]},
        region="me-south-1",
    )
    everything = {"type": "attacker-leftovers-removed"}
    assert verdict(journal, everything).reason.startswith("4 attacker resource(s) remain")
    journal.at("20m").call("responder", "iam:DeleteLoginProfile", {"UserName": "ci-deployer"})
    journal.call(
        "responder", "iam:DeleteUserPolicy", {"UserName": "ci-deployer", "PolicyName": "ops"}
    )
    journal.call("responder", "iam:DetachUserPolicy", {"UserName": "j.alvarez", "PolicyArn": ADMIN})
    assert not holds(journal, everything)
    journal.call(
        "responder",
        "ec2:CancelSpotInstanceRequests",
        {"SpotInstanceRequestId.1": "sir-7g3kd8qp"},
        region="me-south-1",
    )
    assert holds(journal, everything)


def test_what_the_responders_create_or_the_attacker_fails_to_create_is_no_leftover() -> None:
    journal = story()
    journal.at("5m").call("responder", "iam:CreateUser", {"UserName": "ir-breakglass"})
    journal.at("6m").call(
        "attacker",
        "ec2:RunInstances",
        {"MinCount": 4},
        status=403,
        error_code="InvalidClientTokenId",
        region="sa-east-1",
    )
    assert holds(journal, {"type": "attacker-leftovers-removed"})


# ── policy-attached and quarantine-kept-until-key-disabled ───────────────────────────────


def test_the_quarantine_is_attached_then_removed() -> None:
    journal = story()
    attached = {"type": "policy-attached", "policy": "quarantine"}
    removed = {"type": "policy-attached", "policy": "quarantine", "attached": False}
    result = verdict(journal, removed)
    assert (result.holds, result.reason) == (
        False,
        "deploy-bot never had a quarantine policy to remove",
    )
    journal.aws_notices()
    assert holds(journal, attached) and not holds(journal, removed)
    journal.at("5m").call(
        "responder", "iam:DetachUserPolicy", {"UserName": "deploy-bot", "PolicyArn": QUARANTINE_V3}
    )
    assert not holds(journal, attached) and holds(journal, removed)


def test_a_quarantine_notice_alone_attaches_the_policy() -> None:
    journal = story()
    journal.at("60s").notice("quarantine")  # attached behind the gateway's back
    assert verdict(journal, {"type": "policy-attached", "policy": "quarantine"}).reason == (
        f"{QUARANTINE_V3} attached to deploy-bot"
    )


def test_the_older_inline_quarantine_counts() -> None:
    journal = story()
    journal.at("60s").call(
        "framework",
        "iam:PutUserPolicy",
        {"UserName": "deploy-bot", "PolicyName": QUARANTINE_INLINE, "PolicyDocument": "{}"},
    )
    assert holds(journal, {"type": "policy-attached", "policy": "quarantine"})


def test_deny_all_is_read_from_the_policy_document() -> None:
    journal = story()
    deny_all = {"type": "policy-attached", "policy": "deny-all", "user": "j.alvarez"}
    conditional = {
        "Statement": [
            {
                **DENY_EVERYTHING,
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
            }
        ]
    }
    journal.at("5m").call(
        "responder",
        "iam:PutUserPolicy",
        {
            "UserName": "j.alvarez",
            "PolicyName": "mfa-only",
            "PolicyDocument": json.dumps(conditional),
        },
    )
    assert not holds(journal, deny_all)
    journal.at("6m").call(
        "responder",
        "iam:PutUserPolicy",
        {"UserName": "j.alvarez", "PolicyName": "block", "PolicyDocument": json.dumps(DENY_ALL)},
    )
    assert holds(journal, deny_all)


def test_a_managed_deny_all_counts_whether_made_or_aws_own() -> None:
    journal = story()
    arn = "arn:aws:iam::491826357014:policy/incident/deny-everything"
    journal.at("5m").call(
        "responder",
        "iam:CreatePolicy",
        {
            "PolicyName": "deny-everything",
            "Path": "/incident/",
            "PolicyDocument": json.dumps(DENY_ALL),
        },
        {"PolicyArn": arn},
    )
    journal.call("responder", "iam:AttachUserPolicy", {"UserName": "ci-deployer", "PolicyArn": arn})
    journal.call(
        "responder",
        "iam:AttachUserPolicy",
        {"UserName": "j.alvarez", "PolicyArn": "arn:aws:iam::aws:policy/AWSDenyAll"},
    )
    for user in ("ci-deployer", "j.alvarez"):
        assert holds(journal, {"type": "policy-attached", "policy": "deny-all", "user": user})
    assert not holds(
        journal, {"type": "policy-attached", "policy": "deny-all", "user": "billing-api"}
    )


def test_a_policy_named_by_arn_goes_when_its_user_goes() -> None:
    journal = story()
    journal.at("4m").attacker_backdoor_user("svc-backup-admin")
    admin = {"type": "policy-attached", "policy": ADMIN, "user": "svc-backup-admin"}
    assert holds(journal, admin)
    journal.at("20m").remove_user("svc-backup-admin")
    assert not holds(journal, admin)
    result = verdict(journal, {**admin, "attached": False})
    assert result.holds and result.reason.endswith("(user deleted)")


def test_the_quarantine_kept_until_the_key_is_disabled() -> None:
    journal = story().aws_notices()
    kept = {"type": "quarantine-kept-until-key-disabled"}
    assert verdict(journal, kept).reason == "the leaked key is still active"
    journal.at("8m").deactivate("leaked")
    assert holds(journal, kept)
    journal.at("30m").call(
        "responder", "iam:DetachUserPolicy", {"UserName": "deploy-bot", "PolicyArn": QUARANTINE_V3}
    )
    assert holds(journal, kept)  # removing it after the key is off is recovery, not a mistake


def test_removing_the_quarantine_early_cannot_be_made_good() -> None:
    journal = story().aws_notices()
    journal.at("5m").call(
        "responder", "iam:DetachUserPolicy", {"UserName": "deploy-bot", "PolicyArn": QUARANTINE_V3}
    )
    journal.at("6m").call(
        "responder", "iam:AttachUserPolicy", {"UserName": "deploy-bot", "PolicyArn": QUARANTINE_V3}
    )
    journal.at("8m").deactivate("leaked")
    result = verdict(journal, {"type": "quarantine-kept-until-key-disabled"})
    assert (result.holds, result.reason) == (
        False,
        "the quarantine was removed at T+5:00 while the leaked key worked",
    )


# ── api-called ───────────────────────────────────────────────────────────────────────────


def investigate_first(journal: JournalBuilder) -> str:
    score = score_journal(northwind(), journal.end().events())
    return next(s.status for s in score.steps if s.id == "investigate-first")


def test_a_lookup_in_the_same_instant_as_the_deletion_counts_if_journaled_first() -> None:
    journal = story().aws_notices()
    journal.at("10m").look_up_events().delete_key("leaked")
    assert investigate_first(journal) == "success"

    journal = story().aws_notices()
    journal.at("10m").delete_key("leaked").look_up_events()
    assert investigate_first(journal) == "failed"


def test_a_refused_lookup_is_no_investigation() -> None:
    journal = story().aws_notices()
    journal.at("5m").call(
        "responder",
        "cloudtrail:LookupEvents",
        status=400,
        error_code="InvalidLookupAttributesException",
    )
    journal.at("10m").delete_key("leaked")
    assert investigate_first(journal) == "failed"


def test_only_the_responders_calls_count() -> None:
    journal = story()
    journal.at("5m").call("attacker", "cloudtrail:LookupEvents")
    assert not holds(journal, {"type": "api-called", "action": "cloudtrail:LookupEvents"})
    journal.at("6m").look_up_events()
    assert holds(journal, {"type": "api-called", "action": "cloudtrail:LookupEvents"})


def test_every_region_means_every_region_of_the_scenario_format() -> None:
    journal = story()
    sweep = {"type": "api-called", "action": "ec2:DescribeInstances", "all_regions": True}
    journal.at("12m").sweep(regions=REGIONS[:-1])
    result = verdict(journal, sweep)
    assert (result.holds, result.reason) == (
        False,
        f"ec2:DescribeInstances not called in 1 region(s): {REGIONS[-1]}",
    )
    journal.at("13m").sweep(regions=REGIONS[-1:])
    assert holds(journal, sweep)


# ── the support case, the repository ─────────────────────────────────────────────────────


def test_the_case_is_replied_to_and_resolved_by_the_team_only() -> None:
    journal = story()
    journal.at("5m").call("attacker", "support:AddCommunicationToCase", {"caseId": "1"})
    journal.at("8m").deactivate("leaked")
    assert not holds(journal, {"type": "case-replied"})
    journal.at("50m").reply_to_case()
    assert verdict(journal, {"type": "case-replied"}) == Verdict(
        True, "the team replied to the case at T+50:00, the leaked key disabled", "team"
    )
    assert not holds(journal, {"type": "case-resolved"})
    journal.at("55m").resolve_case()
    assert holds(journal, {"type": "case-resolved"})


def test_a_reply_counts_only_once_the_leaked_key_is_contained() -> None:
    journal = story()
    journal.at("4m").reply_to_case()  # "all fixed!" — the key still works
    result = verdict(journal, {"type": "case-replied"})
    assert (result.holds, result.reason) == (
        False,
        "the team replied at T+4:00 while the leaked key still worked — reply again",
    )
    state = State(journal.scenario)
    for event in journal.events():
        state.apply(event)
    assert state.case_replied is None  # AWS's follow-up still comes (the run's condition)
    journal.at("8m").deactivate("leaked")
    assert not holds(journal, {"type": "case-replied"})
    journal.at("9m").reply_to_case()
    assert holds(journal, {"type": "case-replied"})


def test_repository_private_deleted_and_purged() -> None:
    journal = story()
    private, deleted = {"type": "repository-private"}, {"type": "repository-deleted"}
    purged = {"type": "key-purged-from-history"}
    journal.at("9m").repo_private()
    assert [holds(journal, c) for c in (private, deleted, purged)] == [True, False, False]
    journal.at("30m").repo_pushed(key_in_history=False)
    assert [holds(journal, c) for c in (private, deleted, purged)] == [True, False, True]
    journal.at("31m").repo_pushed(key_in_history=True, forced=True)  # the old history is back
    assert not holds(journal, purged)
    journal.at("40m").repo_deleted()
    assert [holds(journal, c) for c in (private, deleted, purged)] == [False, True, True]


# ── the workload and its secret ──────────────────────────────────────────────────────────


def test_a_rotated_secret_holds_a_new_key_the_service_runs_with() -> None:
    journal = story()
    rotated = {"type": "secret-rotated", "secret": "prod/billing-api/aws"}
    old = journal.key("billing-prod")
    journal.probes("0s", "31m", ok=True)
    assert verdict(journal, rotated).reason == (
        f"prod/billing-api/aws still holds {old} (billing-prod)"
    )
    journal.at("30m")
    fresh = journal.create_key("billing-api")
    journal.call(
        "responder",
        "secretsmanager:PutSecretValue",
        {
            "SecretId": "arn:aws:secretsmanager:us-east-1:491826357014:secret:"
            "prod/billing-api/aws-Xy12Ab",
            "SecretString": "***",
        },
        {"SecretAccessKeyId": fresh},
    )
    assert "billing-api has not worked with it yet" in verdict(journal, rotated).reason
    journal.probes("31m", "32m", ok=True)
    assert verdict(journal, rotated).reason == (
        f"prod/billing-api/aws holds the new key {fresh}, but the old key {old} (billing-prod) "
        "still works"
    )
    journal.at("32m").deactivate("billing-prod")
    result = verdict(journal, rotated)
    assert (result.holds, result.by) == (True, "team")
    journal.at("33m").call(
        "responder",
        "secretsmanager:UpdateSecret",
        {"SecretId": "prod/billing-api/aws", "Description": "billing key"},
    )
    assert holds(journal, rotated)  # a new description is not a new value
    journal.at("34m").deactivate(fresh)
    assert (
        verdict(journal, rotated).reason == f"prod/billing-api/aws holds {fresh}, which is Inactive"
    )
    journal.at("35m").put_secret("prod/billing-api/aws", None)
    assert verdict(journal, rotated).reason == "prod/billing-api/aws holds no access key"


def test_another_users_key_in_the_secret_is_no_rotation() -> None:
    journal = story()
    rotated = {"type": "secret-rotated", "secret": "prod/billing-api/aws"}
    journal.probes("0s", "40m", ok=True)
    journal.at("20m")
    borrowed = journal.create_key("j.alvarez")  # new, active, the team's — but j.alvarez's
    journal.put_secret("prod/billing-api/aws", borrowed)
    journal.at("25m").deactivate("billing-prod")
    result = verdict(journal, rotated)
    assert not result.holds
    assert result.reason == (
        f"prod/billing-api/aws holds {borrowed} of j.alvarez, not a key of billing-api"
    )
    old_personal = journal.key("alvarez-cli")
    journal.at("30m").put_secret("prod/billing-api/aws", old_personal)
    assert "not a key of billing-api" in verdict(journal, rotated).reason


def test_a_key_made_before_the_push_is_no_replacement() -> None:
    journal = story()
    journal.probes("0s", "40m", ok=True)
    journal.at("20m").put_secret("prod/billing-api/aws", journal.key("ci-old"))
    reason = verdict(journal, {"type": "secret-rotated", "secret": "prod/billing-api/aws"}).reason
    assert "ci-deployer, not a key of billing-api" in reason


def test_healthy_and_outage_follow_the_last_probe() -> None:
    journal = story()
    healthy, down = {"type": "workload-healthy"}, {"type": "workload-outage"}
    assert [holds(journal, healthy), holds(journal, down)] == [False, False]
    journal.probes("0s", "5m", ok=True)
    assert [holds(journal, healthy), holds(journal, down)] == [True, False]
    journal.probes("5m", "6m", ok=False)
    assert [holds(journal, healthy), holds(journal, down)] == [False, True]


def test_the_production_key_deleted_only_when_the_secret_still_held_it() -> None:
    check = {"type": "production-key-deleted-without-replacement"}
    careful = story()
    careful.at("30m")
    fresh = careful.create_key("billing-api")
    careful.put_secret("prod/billing-api/aws", fresh)
    careful.at("40m").deactivate("billing-prod").delete_key("billing-prod")
    assert not holds(careful, check)

    deactivated = story()
    deactivated.at("10m").deactivate("billing-prod")
    assert not holds(deactivated, check)  # an outage, but the key is still there to restore

    hasty = story()
    hasty.at("10m").delete_key("billing-prod")
    assert holds(hasty, check)


def test_the_leaked_key_used_by_a_responder_even_unsuccessfully() -> None:
    journal = story()
    journal.at("80s").attacker_whoami()
    used = {"type": "leaked-key-used-by-responder"}
    assert not holds(journal, used)
    journal.at("9m").call(
        "responder",
        "sts:GetCallerIdentity",
        key=journal.leaked,
        status=403,
        error_code="InvalidClientTokenId",
    )
    reason = verdict(journal, used).reason
    assert reason == "a responder signed a call with the leaked key at T+9:00"


# ── CloudTrail, manual steps ─────────────────────────────────────────────────────────────


def test_logging_follows_stop_start_delete_and_create() -> None:
    journal = story()
    every, org = {"type": "logging-enabled"}, {"type": "logging-enabled", "trail": "org-trail"}
    assert holds(journal, every) and holds(journal, org)
    journal.at("7m").attacker_stop_logging(
        "arn:aws:cloudtrail:us-east-1:491826357014:trail/org-trail"
    )
    assert not holds(journal, every) and not holds(journal, org)
    journal.at("18m").start_logging("org-trail")
    assert holds(journal, every) and holds(journal, org)
    journal.at("19m").call("attacker", "cloudtrail:DeleteTrail", {"Name": "org-trail"})
    assert not holds(journal, every) and not holds(journal, org)
    journal.at("25m").call("responder", "cloudtrail:CreateTrail", {"Name": "ir-trail"})
    assert not holds(journal, every)  # created, not yet logging
    journal.at("26m").start_logging("ir-trail")
    assert holds(journal, every) and not holds(journal, org)


def test_a_manual_step_waits_for_its_own_mark() -> None:
    journal = story()
    manual = {"type": "manual", "instructions": "Root password changed"}
    journal.at("10m").mark("another-step")
    assert not holds(journal, manual, owner="root-password")
    journal.at("12m").mark("root-password")
    assert (
        verdict(journal, manual, owner="root-password").reason
        == "marked by the facilitator at T+12:00"
    )


# ── api-called: calls that did their job ─────────────────────────────────────────────────


LOOKUP = {"type": "api-called", "action": "cloudtrail:LookupEvents", "covers": "leaked-key"}


def lookup(journal: JournalBuilder, key: str, value: str, **params: Any) -> JournalBuilder:
    region = params.pop("region", "us-east-1")
    journal.call(
        "responder",
        "cloudtrail:LookupEvents",
        {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}], **params},
        region=region,
    )
    return journal


def test_a_lookup_covers_the_leaked_key_by_its_id_or_its_user() -> None:
    journal = story().aws_notices()
    journal.at("80s").attacker_whoami()
    journal.at("2m").attacker_discovery(["us-east-1"])
    journal.at("5m")
    lookup(journal, "AccessKeyId", journal.leaked)
    assert verdict(journal, LOOKUP) == Verdict(
        True, "cloudtrail:LookupEvents covered the leaked key's activity", "team"
    )
    by_user = story().aws_notices()
    by_user.at("80s").attacker_whoami()
    by_user.at("5m")
    lookup(by_user, "Username", "deploy-bot")
    assert holds(by_user, LOOKUP)


def test_a_lookup_of_something_else_is_no_investigation() -> None:
    journal = story().aws_notices()
    journal.at("80s").attacker_whoami()
    journal.at("5m")
    lookup(journal, "EventName", "NoSuchEvent")
    lookup(journal, "AccessKeyId", journal.key("alvarez-cli"))
    assert holds(journal, {"type": "api-called", "action": "cloudtrail:LookupEvents"})
    result = verdict(journal, LOOKUP)
    assert not result.holds and "no lookup named the leaked key" in result.reason


def test_a_lookup_where_the_key_left_nothing_is_no_investigation() -> None:
    journal = story().aws_notices()
    journal.at("80s").attacker_whoami()  # in us-east-1
    journal.at("5m")
    lookup(journal, "AccessKeyId", journal.leaked, region="ap-southeast-3")
    assert not holds(journal, LOOKUP)
    lookup(journal, "AccessKeyId", journal.leaked, region="us-east-1")
    assert holds(journal, LOOKUP)


def test_a_window_must_hold_everything_the_key_did_so_far() -> None:
    journal = story().aws_notices()
    journal.at("80s").attacker_whoami()
    journal.at("4m").attacker_backdoor_user("svc-backup-admin")  # the last call with the key
    seconds = T0.timestamp()
    journal.at("5m")
    lookup(journal, "AccessKeyId", journal.leaked, StartTime=seconds + 120, EndTime=seconds + 300)
    assert not holds(journal, LOOKUP)  # misses the first call at 80 s
    lookup(journal, "AccessKeyId", journal.leaked, StartTime=seconds, EndTime=seconds + 200)
    assert not holds(journal, LOOKUP)  # misses the backdoor at 4 m
    lookup(
        journal,
        "AccessKeyId",
        journal.leaked,
        StartTime="2026-03-02T12:00:00Z",
        EndTime="2026-03-02T12:40:00Z",
    )
    assert holds(journal, LOOKUP)


def test_when_every_use_of_the_key_was_refused_a_lookup_over_the_whole_exposure_counts() -> None:
    journal = story().aws_notices()
    journal.at("80s").attacker_refused("sts:GetCallerIdentity")  # never in the event history
    journal.at("5m")
    lookup(journal, "AccessKeyId", journal.leaked, region="ap-southeast-3")  # nobody's region
    assert not holds(journal, LOOKUP)
    seconds = T0.timestamp()
    lookup(journal, "AccessKeyId", journal.leaked, StartTime=seconds + 60)  # after the push
    assert not holds(journal, LOOKUP)
    lookup(journal, "AccessKeyId", journal.leaked, region="eu-west-1")  # a company region
    assert holds(journal, LOOKUP)


def test_a_lookup_signed_with_the_leaked_key_earns_nothing() -> None:
    journal = story().aws_notices()
    journal.at("80s").attacker_whoami()
    journal.at("5m").call(
        "responder",
        "cloudtrail:LookupEvents",
        {"LookupAttributes": [{"AttributeKey": "AccessKeyId", "AttributeValue": journal.leaked}]},
        key=journal.leaked,
    )
    assert not holds(journal, {"type": "api-called", "action": "cloudtrail:LookupEvents"})


SWEEP = {"type": "api-called", "action": "ec2:DescribeInstances", "all_regions": True}


def test_a_sweep_before_the_attackers_last_launch_does_not_see_it() -> None:
    journal = story()
    journal.at("4m").attacker_backdoor_user("svc-backup-admin")
    journal.at("5m").sweep()
    journal.at("6m").attacker_mining(["sa-east-1"], count=1)
    result = verdict(journal, SWEEP)
    assert (result.holds, result.reason) == (
        False,
        "ec2:DescribeInstances not called since the attacker's last launch in 1 region(s): "
        "sa-east-1",
    )
    journal.at("10m").sweep(regions=["sa-east-1"])
    assert holds(journal, SWEEP)
    journal.at("14m").attacker_mining(["sa-east-1"], count=1)  # relaunched
    assert not holds(journal, SWEEP)


def test_where_the_attacker_launched_is_a_sweep_of_its_own() -> None:
    journal = story()
    where = {"type": "api-called", "action": "ec2:DescribeInstances", "attacker_regions": True}
    journal.at("4m").attacker_backdoor_user("svc-backup-admin")
    journal.at("6m").attacker_mining(["sa-east-1", "ap-southeast-3"], count=1)
    journal.at("8m").sweep(regions=["sa-east-1"])
    assert "ap-southeast-3" in verdict(journal, where).reason
    journal.at("9m").sweep(regions=["ap-southeast-3"])
    assert verdict(journal, where) == Verdict(
        True, "ec2:DescribeInstances called where the attacker launched", "team"
    )
