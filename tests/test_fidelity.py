"""The seed incident read side by side with the field report (../FACTS.md, quoted by section).

One virtual run of the seed scenario (`scenarios/exported-keys-in-script.yaml`) through the
command line, with a responder that only looks (tests/fidelity/probe.py): it reads the mail,
the case, the Health event, the leaked user's policies and CloudTrail's event history as a
responder would, changes nothing, and writes down what it saw. Each test names the fact of
the field report it checks; a security engineer who has lived through a leak should
recognise every one.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from gameday_cli import gameday_here

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED = REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml"
PROBE = Path(__file__).resolve().parent / "fidelity" / "probe.py"
QUARANTINE_ARN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
DISCOVERY = {
    "ListUsers",
    "ListRoles",
    "DescribeInstances",
    "ListBuckets",
    "ListSecrets",
    "ListFunctions",
    "ListFunctions20150331",
}
PERSISTENCE = {
    "CreateUser",
    "AttachUserPolicy",
    "CreateAccessKey",
    "CreateLoginProfile",
    "CreateRole",
    "PutUserPolicy",
}


@dataclass(frozen=True)
class Incident:
    run_dir: Path
    scenario: dict[str, Any]
    events: list[dict[str, Any]]
    seen: dict[str, Any]
    mails: list[EmailMessage]

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["kind"] == kind]

    def attacker_calls(self) -> list[dict[str, Any]]:
        return [e for e in self.kind("api.call") if e.get("actor") == "attacker"]

    def delivered(self, inject_type: str) -> list[dict[str, Any]]:
        return [e for e in self.kind("inject.delivered") if e.get("type") == inject_type]


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Incident:
    root = tmp_path_factory.mktemp("fidelity")
    run_dir, out = root / "run", root / "seen.json"
    # the command line in the test process, on the worker's warm mock; the probe (a runbook,
    # in a process of its own) finds where to write what it saw in the environment it inherits
    os.environ["GAMEDAY_FIDELITY_OUT"] = str(out)
    try:
        result = gameday_here(
            "run", str(SEED), "--clock", "virtual", "--responder", str(PROBE), "--out",
            str(run_dir), timeout=600,
        )  # fmt: skip
    finally:
        del os.environ["GAMEDAY_FIDELITY_OUT"]
    assert result.returncode in (0, 1), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((run_dir / "mail").glob("*/*"))
        if path.is_file()
    ]
    return Incident(
        run_dir=run_dir,
        scenario=yaml.safe_load(SEED.read_text(encoding="utf-8")),
        events=events,
        seen=json.loads(out.read_text(encoding="utf-8")),
        mails=[m for m in mails if isinstance(m, EmailMessage)],
    )


def leaked_key(incident: Incident) -> str:
    return str(incident.seen["email"]["data"]["access_key_id"])


# ── §1 the sequence ─────────────────────────────────────────────────────────────────────────


def test_1_2_aws_attaches_its_quarantine_policy_about_a_minute_after_the_push(
    incident: Incident,
) -> None:
    [quarantine] = incident.delivered("quarantine")
    assert 30 <= quarantine["t"] <= 120
    assert "AWSCompromisedKeyQuarantineV3" in quarantine["subject"]
    arns = [p["PolicyArn"] for p in incident.seen["attached"]]
    assert QUARANTINE_ARN in arns


def test_1_2_and_4_the_attacker_starts_within_minutes_and_some_calls_still_succeed(
    incident: Incident,
) -> None:
    calls = incident.attacker_calls()
    assert calls and 60 <= calls[0]["t"] <= 300  # first use within one to five minutes
    [quarantine] = incident.delivered("quarantine")
    after = [c for c in calls if c["t"] >= quarantine["t"]]
    # IAM is eventually consistent: right after the attach some calls still get through
    assert any(c["status"] == "ok" or not c.get("error_code") for c in after[:10])


def test_1_3_the_email_names_the_case_the_key_the_user_and_the_public_url(
    incident: Incident,
) -> None:
    account = incident.scenario["account"]
    case_mails = [m for m in incident.mails if "is compromised" in str(m["Subject"])]
    assert case_mails, [m["Subject"] for m in incident.mails]
    mail = case_mails[0]
    assert f"Your AWS account {account['id']} is compromised" in str(mail["Subject"])
    assert "SIMULATION" in str(mail["Subject"])
    # to the security alternate contact, where one is set
    assert account["contacts"]["security"]["email"] in str(mail["To"])
    text = mail.get_body(preferencelist=("plain",)).get_content()
    data = incident.seen["email"]["data"]
    for fact in (data["access_key_id"], data["user_name"], data["public_url"]):
        assert fact in text
    assert re.fullmatch(
        r"https://github\.com/[\w.-]+/[\w.-]+/blob/[0-9a-f]{40}/\S+", data["public_url"]
    )
    assert f"opened case {data['case_id']} on your behalf" in text
    for header in ("Case ID", "Subject", "Severity", "Correspondence"):
        assert re.search(rf"^{header}\b", text, re.MULTILINE), header
    assert "temporarily" in text and "limited" in text  # some resources can't be created


def test_1_3_the_case_is_urgent_and_says_the_account_is_compromised(incident: Incident) -> None:
    [case] = incident.seen["cases"]
    account_id = incident.scenario["account"]["id"]
    assert f"Your AWS account {account_id} is compromised" in case["subject"]
    assert case["severityCode"] == "urgent"
    assert case["status"] in ("opened", "unassigned", "pending-customer-action")
    assert case["caseId"].startswith("case-")


def test_1_4_enterprise_support_also_gets_a_phone_call(incident: Incident) -> None:
    assert incident.scenario["account"]["support_plan"] == "enterprise"
    calls = incident.delivered("phone-call")
    assert calls
    assert all("SIMULATION" in c["subject"] for c in calls)
    scripts = sorted((incident.run_dir / "calls").glob("*"))
    assert scripts


def test_1_5_the_notice_asks_for_every_step_of_the_real_notice(incident: Incident) -> None:
    text = " ".join(incident.seen["email"]["body"].lower().split())
    for step in (
        r"change the password of your aws account root user",  # the root password …
        r"enable multi-factor authentication \(mfa\)",  # … and MFA
        r"access keys of the root user",  # root access keys deleted
        r"rotate and delete every iam access key .* created before",  # ALL keys, not only one
        r"cloudtrail",
        r"iam users, login profiles .*access keys, policies and roles",
        r"temporary security credentials",
        r"every aws region, including regions you have never used",
        r"ec2 instances, ec2 spot requests, lambda functions",
        r"reply to this case",
    ):
        assert re.search(step, text), step


def test_1_7_the_health_event_is_the_one_eventbridge_delivers(incident: Incident) -> None:
    event = incident.seen["health"]["data"]["event"]
    assert event["source"] == "aws.health"
    assert event["detail-type"] == "AWS Health Event"
    assert event["region"] == "us-east-1"
    detail = event["detail"]
    assert detail["service"] == "RISK"
    assert detail["eventTypeCategory"] == "issue"
    assert detail["eventTypeCode"] == "AWS_RISK_CREDENTIALS_EXPOSED"
    assert re.fullmatch(
        r"arn:aws:health:us-east-1::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/\S+",
        detail["eventArn"],
    )
    assert detail["startTime"]
    [description] = detail["eventDescription"]
    assert description["language"] == "en_US" and description["latestDescription"]
    assert detail["affectedEntities"][0]["entityValue"] == leaked_key(incident)


# ── §2 the quarantine policy ────────────────────────────────────────────────────────────────


def test_2_the_quarantine_leaves_the_key_who_it_is_and_nothing_to_build_or_clean_with(
    incident: Incident,
) -> None:
    # None of the policies denies GetCallerIdentity; V2/V3 deny ListUsers, creating users
    # and the key's own UpdateAccessKey: the leaked key cannot clean itself up.
    assert incident.seen["leaked_key_may"] == {
        "sts:GetCallerIdentity": "ok",
        "iam:ListUsers": "AccessDenied",
        "iam:CreateUser": "AccessDenied",
        "iam:UpdateAccessKey": "AccessDenied",
    }
    key = leaked_key(incident)
    whoami = [
        c
        for c in incident.attacker_calls()
        if c["action"] == "GetCallerIdentity" and c["access_key_id"] == key
    ]
    assert whoami and all(not c.get("error_code") for c in whoami)


# ── §4 the attacker ─────────────────────────────────────────────────────────────────────────


def test_4_the_attacker_goes_whoami_discovery_persistence_impact(incident: Incident) -> None:
    actions = [c["action"] for c in incident.attacker_calls()]
    assert actions[0] == "GetCallerIdentity"
    first = {
        phase: next(i for i, a in enumerate(actions) if a in names)
        for phase, names in (
            ("discovery", DISCOVERY),
            ("persistence", PERSISTENCE),
            ("impact", {"RunInstances", "RequestSpotInstances"}),
        )
    }
    assert first["persistence"] < first["impact"]
    assert any(a in DISCOVERY for a in actions[: first["impact"]])


def test_4_the_attacker_mines_in_regions_the_victim_never_uses(incident: Incident) -> None:
    regions = set(incident.scenario["account"]["regions"])
    launches = [c for c in incident.attacker_calls() if c["action"] == "RunInstances"]
    assert launches and all(c["region"] not in regions for c in launches)
    types = {c["params"].get("InstanceType") for c in launches}
    assert types and all(re.match(r"(p|g)\d|[a-z]\d+[a-z]*\.\d*x?large", t or "") for t in types)


def test_4_the_attacker_changes_source_ip_and_uses_tool_like_user_agents(
    incident: Incident,
) -> None:
    # the leaked key, and the keys the attacker made for itself with it
    keys = {c["access_key_id"] for c in incident.attacker_calls()}
    assert leaked_key(incident) in keys and len(keys) > 1
    trail = [e["CloudTrailEvent"] for e in incident.seen["lookup"] if e["AccessKeyId"] in keys]
    assert len(trail) >= 5
    assert len({e["sourceIPAddress"] for e in trail}) > 1
    assert all(
        re.match(r"(aws-cli|Boto3|aws-sdk|python-requests|curl)/", e["userAgent"]) for e in trail
    )


# ── §5 the credentials ──────────────────────────────────────────────────────────────────────


def test_5_the_leaked_key_is_a_real_looking_key_of_this_account(incident: Incident) -> None:
    key = leaked_key(incident)
    assert key != "AKIAIOSFODNN7EXAMPLE"
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key)
    decoded = base64.b32decode(key[4:] + "=" * (-len(key[4:]) % 8))
    account = (int.from_bytes(decoded[0:6], "big") & 0x7FFFFFFFFF80) >> 7
    assert f"{account:012d}" == incident.scenario["account"]["id"]
    leaked = (incident.run_dir / "repo").glob("**/*.sh")
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in leaked)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=['\"]?([A-Za-z0-9/+]{40})", text)
    assert secret is None or "EXAMPLEKEY" not in secret.group(1)


# ── CloudTrail as LookupEvents shows it ─────────────────────────────────────────────────────


def test_cloudtrail_names_each_call_as_real_lookup_events_does(incident: Incident) -> None:
    key = leaked_key(incident)
    by_key = [e for e in incident.seen["lookup"] if e["AccessKeyId"] == key]
    names = {e["EventName"] for e in by_key}
    assert "GetCallerIdentity" in names  # read-only management events are recorded too
    for event in by_key:
        record = event["CloudTrailEvent"]
        assert record["userIdentity"]["accessKeyId"] == key
        assert record["eventSource"].endswith(".amazonaws.com")
        assert record["recipientAccountId"] == incident.scenario["account"]["id"]


def test_1_2_cloudtrail_shows_aws_itself_attaching_the_quarantine(incident: Incident) -> None:
    [quarantine] = incident.delivered("quarantine")
    attaches = [
        e["CloudTrailEvent"]
        for e in incident.seen["lookup"]
        if e["EventName"] == "AttachUserPolicy"
        and e["CloudTrailEvent"]["requestParameters"]["policyArn"] == QUARANTINE_ARN
    ]
    [attach] = attaches
    # made by AWS, not by any principal of the account: no user name, no access key
    assert attach["userIdentity"]["type"] == "AWSService"
    assert "accessKeyId" not in attach["userIdentity"]
    assert attach["requestParameters"]["userName"] == incident.seen["email"]["data"]["user_name"]
    assert attach["eventTime"] == quarantine["time"][:19] + "Z"


def test_cloudtrail_read_only_attribute_splits_reads_from_writes(incident: Incident) -> None:
    reads, writes = incident.seen["lookup_read_only"], incident.seen["lookup_writes"]
    assert reads and writes
    assert all(e["ReadOnly"] == "true" for e in reads)
    assert all(e["ReadOnly"] == "false" for e in writes)
    assert {"GetCallerIdentity", "ListUsers", "DescribeInstances"} <= {
        e["EventName"] for e in reads
    }
    assert {"CreateUser", "AttachUserPolicy", "CreateAccessKey"} <= {e["EventName"] for e in writes}

    # the same history, split in two (the probe's own lookups, recorded as they happen, aside)
    def ids(events: list[dict[str, Any]]) -> set[str]:
        return {e["CloudTrailEvent"]["eventID"] for e in events if e["EventName"] != "LookupEvents"}

    assert ids(reads) | ids(writes) == ids(incident.seen["lookup"])
    assert not ids(reads) & ids(writes)


# ── the mailbox, as a terminal shows it ─────────────────────────────────────────────────────


def test_mail_reads_as_text_and_is_dated_on_the_run_clock(incident: Incident) -> None:
    delivered = {e["inject"]: e for e in incident.delivered("email")}
    assert delivered
    for path in sorted((incident.run_dir / "mail").glob("*/*")):
        raw = path.read_bytes()
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        plain = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        assert plain is not None and html is not None  # text beside HTML
        assert plain["Content-Transfer-Encoding"] == "8bit"
        assert "SIMULATION — game day exercise".encode() in raw  # cat shows it as written
        assert b"=E2=80=94" not in raw
        event = delivered[str(mail["X-Gameday-Inject"])]
        assert mail["Date"].datetime.isoformat() == event["time"].replace(".000Z", "+00:00")
