"""Journals, scores and run directories for the report tests, built by hand.

`JournalBuilder` writes events as docs/journal.md describes them (seq, t, time, kind and the
kind's fields). `careless_run` and `careful_run` tell two stories against the fixture
scenario (tests/report/data/scenario.yaml), each with the Score a scorer would give it.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gameday.journal import iso
from gameday.scenario.model import REGIONS, Scenario
from gameday.scoring.collateral import PENALTY_ID as COLLATERAL
from gameday.scoring.collateral import TITLE as COLLATERAL_TITLE
from gameday.scoring.model import Metrics, PenaltyResult, Score, StepResult

DATA = Path(__file__).parent / "data"
SCENARIO_PATH = DATA / "scenario.yaml"

LEAKED_KEY = "AKIAXGAMEDAYLEAKED01"
BACKDOOR_KEY = "AKIAXGAMEDAYBACKDR01"
BILLING_KEY = "AKIAXGAMEDAYBILLING1"
NEW_BILLING_KEY = "AKIAXGAMEDAYBILLNEW1"
RESPONDER_KEY = "AKIAXGAMEDAYRESPOND1"
T0 = datetime(2026, 3, 2, 12, 33, 12, tzinfo=UTC)
# The scorer counts detection from the first notice a customer receives: the support case at
# 110 s (the quarantine at 67 s shows only in IAM).
DETECTED = 110.0


class JournalBuilder:
    """Appends journal events in memory, numbering them as the real journal does."""

    def __init__(self, t0: datetime = T0) -> None:
        self.t0 = t0
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, t: float, **fields: Any) -> dict[str, Any]:
        event = {
            "seq": len(self.events) + 1,
            "t": float(t),
            "time": iso(self.t0 + timedelta(seconds=t)),
            "kind": kind,
            **fields,
            # played live: the wall clock runs with the run clock
            "wall": iso(self.t0 + timedelta(seconds=t)),
        }
        self.events.append(event)
        return event

    def started(self, scenario: Scenario, team: str, **fields: Any) -> None:
        self.add(
            "run.started",
            0,
            scenario=scenario.id,
            team=team,
            seed=7,
            clock="virtual",
            speed=None,
            responder=fields.pop("responder", "runbooks/reference.py"),
            t0=iso(self.t0),
            account_id=scenario.account.id,
            leaked_access_key_id=LEAKED_KEY,
            leaked_user=scenario.leak.user,
            public_url="https://github.com/fixture-labs/tools/blob/0a1b2c3/scripts/deploy.sh",
            repository="fixture-labs/tools",
            **fields,
        )

    def seeded(self) -> None:
        """The fixture scenario's estate, as the world journals it before T0."""
        self.add(
            "world.seeded",
            0,
            users=[
                {"name": "deployer", "console": False, "keys": [
                    {"ref": "deploy-key", "access_key_id": LEAKED_KEY, "status": "Active",
                     "created_t": -300 * 86400},
                ]},
                {"name": "billing-api", "console": False, "keys": [
                    {"ref": "billing-prod", "access_key_id": BILLING_KEY, "status": "Active",
                     "created_t": -380 * 86400},
                ]},
            ],
            instances=[],
            secrets=[{"name": "prod/billing-api/aws", "region": "us-east-1",
                      "key_ref": "billing-prod", "access_key_id": BILLING_KEY}],
            principals={"responder": RESPONDER_KEY, "attacker": LEAKED_KEY,
                        "workload": BILLING_KEY},
        )  # fmt: skip

    def inject(self, t: float, inject: str, type: str, subject: str = "") -> None:
        self.add("inject.delivered", t, inject=inject, type=type, subject=subject, data={})

    def call(
        self,
        t: float,
        actor: str,
        service: str,
        action: str,
        *,
        region: str = "us-east-1",
        params: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        status: int = 200,
        error_code: str | None = None,
        read_only: bool | None = None,
    ) -> None:
        keys = {"attacker": LEAKED_KEY, "responder": RESPONDER_KEY, "workload": BILLING_KEY}
        if read_only is None:
            read_only = action.startswith(("Get", "List", "Describe", "Lookup"))
        self.add(
            "api.call",
            t,
            actor=actor,
            key_actor=actor,  # everyone signs with a key of their own here
            access_key_id=keys.get(actor, "AKIAXGAMEDAYFRAMEWK1"),
            user={"attacker": "deployer", "responder": "security-oncall"}.get(actor),
            service=service,
            action=action,
            region=region,
            params=params or {},
            status=status,
            error_code=error_code,
            read_only=read_only,
            result=result or {},
            source_ip="198.51.100.23" if actor == "attacker" else "127.0.0.1",
            user_agent="aws-cli/1.46",
        )

    def technique(self, t: float, technique: str, *created: dict[str, str]) -> None:
        """`created`: `{kind, id, region ("global" for IAM), parent}` as the attacker reports."""
        self.add(
            "attacker.technique",
            t,
            technique=technique,
            tactic=technique.split(".")[1],
            repeat=False,
            status="succeeded",
            succeeded=1,
            failed=0,
            error_codes=[],
            created=[{"region": "global", "parent": "", **item} for item in created],
            loot={},
        )

    def probe(self, t: float, ok: bool, key: str = BILLING_KEY) -> None:
        self.add(
            "workload.probe",
            t,
            ok=ok,
            access_key_id=key,
            error_code=None if ok else "InvalidClientTokenId",
        )

    def note(self, t: float, text: str, actor: str = "responder") -> None:
        self.add("note", t, actor=actor, text=text)

    def mark(self, t: float, step: str, by: str = "facilitator") -> None:
        self.add("mark", t, step=step, by=by)

    def ended(self, t: float, reason: str = "duration") -> None:
        self.add("run.ended", t, reason=reason)
        self.in_time_order()

    def in_time_order(self) -> None:
        """Events added out of time order (the probes of a whole run first), put in the order
        a journal has them — by run time — and numbered again."""
        self.events.sort(key=lambda event: (event["t"], event["seq"]))
        for seq, event in enumerate(self.events, start=1):
            event["seq"] = seq


def step(
    scenario: Scenario, id: str, done_t: float | None, missed: str = "failed", reason: str = ""
) -> StepResult:
    """A step's result as the scorer gives it: met at `done_t` on the run clock (or `missed`),
    with times counted from detection and points falling linearly past the target, done by
    the team (the facilitator, for a manual step)."""
    expected = next(s for s in scenario.steps if s.id == id)
    manual = expected.check.type == "manual"
    at = None if done_t is None else done_t - DETECTED
    status, awarded = missed, 0.0
    if at is not None and at <= expected.target:
        status, awarded = "success", float(expected.points)
    elif at is not None and at < expected.deadline:
        status = "partial"
        share = (expected.deadline - at) / (expected.deadline - expected.target)
        awarded = round(expected.points * share, 2)
    return StepResult(
        id=id,
        title=expected.title,
        phase=expected.phase,
        status=status,  # type: ignore[arg-type]
        satisfied_at_s=at,
        target_s=expected.target,
        deadline_s=expected.deadline,
        points=expected.points,
        awarded=awarded,
        critical=expected.critical,
        manual=manual,
        reason=reason,
        by=None if done_t is None else ("facilitator" if manual else "team"),
    )


def penalty(
    scenario: Scenario, id: str, points: float, t: float, reason: str = ""
) -> PenaltyResult:
    title = next(p.title for p in scenario.penalties if p.id == id)
    return PenaltyResult(id, points, t - DETECTED, title, reason)


def total(scenario: Scenario, steps: list[StepResult], penalties: list[PenaltyResult]) -> float:
    earned = sum(s.awarded for s in steps) - sum(p.points for p in penalties)
    return round(max(0.0, earned / sum(s.points for s in scenario.steps) * 100), 2)


def careless_run(
    scenario: Scenario, team: str = "blue", t0: datetime = T0
) -> tuple[list[dict[str, Any]], Score]:
    """A team that disables the key late, deletes it without looking, breaks production while
    rotating, deletes the repository and leaves the mining instances running."""
    j = JournalBuilder(t0)
    j.started(scenario, team)
    j.seeded()
    j.inject(67, "quarantine", "quarantine", "AWSCompromisedKeyQuarantineV3 attached to deployer")
    j.call(80, "attacker", "sts", "GetCallerIdentity", read_only=True)
    j.technique(80, "aws.discovery.whoami")
    j.inject(110, "support-case", "support-case", "Your AWS account 491826357014 is compromised")
    j.inject(116, "case-email", "email", "[Case 171234567] Your AWS account is compromised")
    j.inject(120, "health-event", "health-event", "AWS_RISK_CREDENTIALS_EXPOSED")
    for t in range(60, 7200, 60):
        # The billing key is deleted at 30m; the new one is in the secret at 40m10s.
        j.probe(t, ok=not (1800 < t < 2460), key=NEW_BILLING_KEY if t > 2410 else BILLING_KEY)
    j.call(200, "attacker", "iam", "ListUsers", status=403, error_code="AccessDenied")
    j.call(230, "attacker", "ec2", "DescribeInstances", region="eu-west-1")
    j.call(
        240,
        "attacker",
        "iam",
        "CreateUser",
        params={"UserName": "svc-backup-admin"},
        result={"UserName": "svc-backup-admin"},
    )
    j.call(
        241,
        "attacker",
        "iam",
        "AttachUserPolicy",
        params={
            "UserName": "svc-backup-admin",
            "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        },
    )
    j.call(
        242,
        "attacker",
        "iam",
        "CreateAccessKey",
        params={"UserName": "svc-backup-admin"},
        result={"AccessKeyId": BACKDOOR_KEY, "UserName": "svc-backup-admin"},
    )
    j.technique(
        242,
        "aws.persistence.iam-create-backdoor-user",
        {"kind": "user", "id": "svc-backup-admin"},
        {"kind": "access-key", "id": BACKDOOR_KEY, "parent": "svc-backup-admin"},
    )
    j.note(300, "Incident declared; lead: Priya | bridge <b>#inc-42</b> & `aws` *now*")
    j.call(
        360,
        "attacker",
        "ec2",
        "RunInstances",
        region="ap-southeast-3",
        params={"InstanceType": "p3.16xlarge", "MinCount": "2"},
        result={"InstanceIds": ["i-0aaa111122223333a", "i-0bbb111122223333b"]},
    )
    j.technique(
        360,
        "aws.impact.ec2-mining",
        {"kind": "instance", "id": "i-0aaa111122223333a", "region": "ap-southeast-3"},
        {"kind": "instance", "id": "i-0bbb111122223333b", "region": "ap-southeast-3"},
    )
    j.call(600, "responder", "iam", "ListAccessKeys", params={"UserName": "deployer"})
    j.call(
        900,
        "responder",
        "iam",
        "UpdateAccessKey",
        read_only=False,
        params={"AccessKeyId": LEAKED_KEY, "UserName": "deployer", "Status": "Inactive"},
    )
    j.call(
        960,
        "attacker",
        "ec2",
        "RunInstances",
        region="sa-east-1",
        status=403,
        error_code="InvalidClientTokenId",
    )
    j.call(
        1200,
        "responder",
        "iam",
        "DeleteAccessKey",
        params={"AccessKeyId": LEAKED_KEY, "UserName": "deployer"},
    )
    j.call(
        1300,
        "responder",
        "iam",
        "DeleteAccessKey",
        params={"AccessKeyId": BACKDOOR_KEY, "UserName": "svc-backup-admin"},
    )
    j.call(
        1310,
        "responder",
        "iam",
        "DetachUserPolicy",
        params={
            "UserName": "svc-backup-admin",
            "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        },
    )
    j.call(1320, "responder", "iam", "DeleteUser", params={"UserName": "svc-backup-admin"})
    j.call(1500, "responder", "ec2", "DescribeInstances", region="us-east-1")
    j.call(1501, "responder", "ec2", "DescribeInstances", region="eu-west-1")
    j.call(
        1800,
        "responder",
        "iam",
        "DeleteAccessKey",
        params={"AccessKeyId": BILLING_KEY, "UserName": "billing-api"},
    )
    j.call(1900, "responder", "s3", "DeleteBucket", params={"Bucket": "fixture-web-assets"})
    j.add("repo.deleted", 2000, actor="responder")
    j.call(
        2100,
        "responder",
        "cloudtrail",
        "LookupEvents",
        params={
            "LookupAttributes": [{"AttributeKey": "AccessKeyId", "AttributeValue": LEAKED_KEY}]
        },
    )
    j.call(
        2400,
        "responder",
        "iam",
        "CreateAccessKey",
        params={"UserName": "billing-api"},
        result={"AccessKeyId": NEW_BILLING_KEY, "UserName": "billing-api"},
    )
    j.call(
        2410,
        "responder",
        "secretsmanager",
        "PutSecretValue",
        params={"SecretId": "prod/billing-api/aws", "SecretString": "***"},
        result={"Name": "prod/billing-api/aws", "SecretAccessKeyId": NEW_BILLING_KEY},
    )
    j.ended(7200)
    steps = [
        step(scenario, "investigate-before-deleting", None,
             reason="CloudTrail was first searched after the leaked key was deleted"),
        step(scenario, "disable-leaked-key", 900),
        step(scenario, "delete-leaked-key", 1200),
        step(scenario, "remove-attacker-leftovers", None,
             reason="2 instances still running in ap-southeast-3"),
        step(scenario, "sweep-all-regions", None,
             reason="DescribeInstances was called in 2 of 29 regions"),
        # the new key is in the secret at 2410 s; the service first runs on it at 2460 s
        step(scenario, "rotate-workload-key", 2460),
        step(scenario, "root-password", None, reason="waiting for the facilitator"),
        step(scenario, "reply-to-case", None),
        step(scenario, "repository-private", None),
    ]  # fmt: skip
    penalties = [
        penalty(scenario, "evidence-destroyed", 10, 2000),
        PenaltyResult("leaked-key-reused", 0.0, None, "A responder used the leaked key themselves"),
        penalty(scenario, "billing-outage", 10, 1860, "10 minute(s): the probes failed"),
        PenaltyResult(
            COLLATERAL,
            5.0,
            1900 - DETECTED,
            COLLATERAL_TITLE,
            "1 item(s): bucket fixture-web-assets (team)",
            [
                {
                    "kind": "bucket",
                    "name": "fixture-web-assets",
                    "detail": "bucket fixture-web-assets",
                    "at_s": 1900 - DETECTED,
                    "by": "team",
                }
            ],
        ),
    ]
    score = Score(
        scenario=scenario.id,
        team=team,
        score=total(scenario, steps, penalties),
        passed=False,
        pass_mark=scenario.pass_mark,
        steps=steps,
        penalties=penalties,
        metrics=Metrics(
            time_to_acknowledge_s=300 - DETECTED,
            time_to_contain_s=900 - DETECTED,
            time_to_eradicate_s=None,
            time_to_recover_s=None,
            outage_s=600,
        ),
        detected_at_s=DETECTED,
        ended_at_s=7200,
    )
    return j.events, score


def careful_run(
    scenario: Scenario, team: str = "red", t0: datetime = T0, speed: float = 1.0
) -> tuple[list[dict[str, Any]], Score]:
    """A team that investigates, disables, cleans every region, rotates safely and replies.
    `speed` > 1 makes every response that much faster."""
    j = JournalBuilder(t0)
    j.started(scenario, team, responder="human")
    j.seeded()

    def at(t: float) -> float:
        return 110 + (t - 110) / speed

    j.inject(67, "quarantine", "quarantine")
    j.call(80, "attacker", "sts", "GetCallerIdentity")
    j.inject(110, "support-case", "support-case", "Your AWS account 491826357014 is compromised")
    j.call(
        240,
        "attacker",
        "iam",
        "CreateUser",
        params={"UserName": "svc-backup-admin"},
        result={"UserName": "svc-backup-admin"},
    )
    j.call(
        360,
        "attacker",
        "ec2",
        "RunInstances",
        region="ap-southeast-3",
        result={"InstanceIds": ["i-0ccc111122223333c"]},
    )
    j.call(at(400), "responder", "cloudtrail", "LookupEvents")
    j.call(
        at(500),
        "responder",
        "iam",
        "UpdateAccessKey",
        params={"AccessKeyId": LEAKED_KEY, "Status": "Inactive"},
    )
    j.add("repo.private", at(600), actor="responder")
    j.call(at(900), "responder", "iam", "DeleteUser", params={"UserName": "svc-backup-admin"})
    for region in REGIONS:
        j.call(at(950), "responder", "ec2", "DescribeInstances", region=region)
    j.call(
        at(1000),
        "responder",
        "ec2",
        "TerminateInstances",
        region="ap-southeast-3",
        params={"InstanceId.1": "i-0ccc111122223333c"},
    )
    j.call(at(1100), "responder", "iam", "DeleteAccessKey", params={"AccessKeyId": LEAKED_KEY})
    j.mark(at(1500), "root-password")
    j.call(at(1600), "responder", "support", "AddCommunicationToCase", read_only=False)
    j.ended(7200)
    steps = [
        step(scenario, "investigate-before-deleting", at(400)),
        step(scenario, "disable-leaked-key", at(500)),
        step(scenario, "delete-leaked-key", at(1100)),
        step(scenario, "remove-attacker-leftovers", at(1000)),
        step(scenario, "sweep-all-regions", at(950)),
        step(scenario, "rotate-workload-key", None),
        step(scenario, "root-password", at(1500)),
        step(scenario, "reply-to-case", at(1600)),
        step(scenario, "repository-private", at(600)),
    ]
    # The scorer lists every penalty; those not incurred cost nothing and have no time.
    penalties = [PenaltyResult(p.id, 0.0, None, p.title) for p in scenario.penalties]
    penalties.append(PenaltyResult(COLLATERAL, 0.0, None, COLLATERAL_TITLE))
    score = Score(
        scenario=scenario.id,
        team=team,
        score=total(scenario, steps, penalties),
        passed=True,
        pass_mark=scenario.pass_mark,
        steps=steps,
        penalties=penalties,
        metrics=Metrics(
            time_to_acknowledge_s=at(400) - DETECTED,
            time_to_contain_s=at(500) - DETECTED,
            time_to_eradicate_s=at(1100) - DETECTED,
            time_to_recover_s=None,
        ),
        detected_at_s=DETECTED,
        ended_at_s=7200,
    )
    return j.events, score


def save_run(root: Path, name: str, events: list[dict[str, Any]], score: Score | None) -> Path:
    """A run directory as `gameday run` leaves it: the scenario copy, the journal, the score."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    shutil.copy(SCENARIO_PATH, run_dir / "scenario.yaml")
    with (run_dir / "journal.jsonl").open("w", encoding="utf-8") as journal:
        for event in events:
            journal.write(json.dumps(event) + "\n")
    if score is not None:
        (run_dir / "score.json").write_text(json.dumps(score.to_json(), indent=2))
    return run_dir
