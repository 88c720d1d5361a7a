"""Scoring what the real gateway journals: an incident played over HTTP against the mock.

The attacker backdoors IAM with the leaked key and mines with the backdoor user's key; AWS's
quarantine lands and its email follows; a responder disables the leaked key and cleans up with
the AWS API, through the gateway on 127.0.0.1. The journal the gateway wrote is then scored
like any other.
"""

from __future__ import annotations

from gameday.journal import FixedClock, Journal, read_journal
from gameday.scenario import Scenario
from gameday.scoring.score import Evaluator
from gameday.world.account import MockAccount
from gameday.world.decoys import Credential
from gameday.world.estate import SeededEstate, seeded_event

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
QUARANTINE_V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"


def test_a_journal_written_by_the_gateway_scores(
    mock_account: MockAccount,
    estate: SeededEstate,
    seed_scenario: Scenario,
    journal: Journal,
    run_clock: FixedClock,
) -> None:
    leaked = estate.leaked.credential
    journal.append(
        "run.started",
        t=0,
        team="blue",
        leaked_access_key_id=leaked.access_key_id,
        leaked_user=estate.leaked.user_name,
        account_id=mock_account.account_id,
    )
    journal.append("world.seeded", t=0, **seeded_event(seed_scenario, estate, mock_account))

    run_clock.t = 30.0
    iam = mock_account.client("iam", leaked)
    iam.create_user(UserName="svc-backup-admin")
    iam.attach_user_policy(UserName="svc-backup-admin", PolicyArn=ADMIN)
    minted = iam.create_access_key(UserName="svc-backup-admin")["AccessKey"]
    backdoor = Credential(minted["AccessKeyId"], minted["SecretAccessKey"])

    run_clock.t = 60.0
    mock_account.client("iam").attach_user_policy(
        UserName=estate.leaked.user_name, PolicyArn=QUARANTINE_V3
    )
    journal.append(
        "inject.delivered",
        t=60.0,
        inject="quarantine",
        type="quarantine",
        data={"user_name": estate.leaked.user_name, "policy": "V3", "policy_arn": QUARANTINE_V3},
    )

    run_clock.t = 120.0
    journal.append(
        "inject.delivered",
        t=120.0,
        inject="case-email",
        type="email",
        data={"user_name": estate.leaked.user_name, "access_key_id": leaked.access_key_id},
    )

    run_clock.t = 360.0
    mining = mock_account.client("ec2", backdoor, region="eu-west-1")
    launched = mining.run_instances(
        ImageId="ami-0a1b2c3d4e5f67890", InstanceType="p3.16xlarge", MinCount=2, MaxCount=2
    )
    instance_ids = [i["InstanceId"] for i in launched["Instances"]]

    responder = mock_account.session(mock_account.responder.credential, framework_client=False)
    run_clock.t = 480.0
    responder.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": leaked.access_key_id}]
    )
    responder.client("iam").update_access_key(
        UserName=estate.leaked.user_name, AccessKeyId=leaked.access_key_id, Status="Inactive"
    )
    run_clock.t = 600.0
    responder.client("ec2", region_name="eu-west-1").terminate_instances(InstanceIds=instance_ids)
    cleanup = responder.client("iam")
    cleanup.delete_access_key(UserName="svc-backup-admin", AccessKeyId=backdoor.access_key_id)
    cleanup.detach_user_policy(UserName="svc-backup-admin", PolicyArn=ADMIN)
    cleanup.delete_user(UserName="svc-backup-admin")
    run_clock.t = 7200.0
    journal.append("run.ended", reason="duration")

    evaluator = Evaluator(seed_scenario)
    for event in read_journal(journal.path):
        evaluator.observe(event)
    score = evaluator.score()
    steps = {s.id: (s.status, s.satisfied_at_s) for s in score.steps}
    # Detection is the email at 120 s: the quarantine at 60 s is no notice.
    assert score.detected_at_s == 120.0
    assert steps["disable-leaked-key"] == ("success", 360.0)
    assert steps["investigate-before-deleting"] == ("success", 360.0)
    assert steps["remove-attacker-leftovers"] == ("success", 480.0)
    assert steps["delete-leaked-key"] == ("failed", None)
    assert {s.id: s.by for s in score.steps}["disable-leaked-key"] == "team"
    state = evaluator.state
    assert state.keys[backdoor.access_key_id].created_by == "attacker"
    assert {state.instances[i].created_by for i in instance_ids} == {"attacker"}
    assert {p.id: p.points for p in score.penalties}["quarantine-removed-early"] == 0.0
    assert score.metrics.time_to_contain_s == 360.0
