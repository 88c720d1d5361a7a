"""The support case AWS opens on the customer's behalf, through a case desk."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gameday.exercise.injects import MARKER, Delivered, deliver

from .harness import Harness, LeakedUser, scenario_for


@dataclass
class RecordingDesk:
    """A case desk that keeps what it was asked to open, as the Support service would."""

    opened: list[dict[str, Any]] = field(default_factory=list)

    def open_case(
        self,
        subject: str,
        body: str,
        severity: str,
        *,
        submitted_by: str,
        case_id: str,
        display_id: str,
    ) -> str:
        self.opened.append({"subject": subject, "body": body, "severity": severity,
                            "submitted_by": submitted_by, "case_id": case_id,
                            "display_id": display_id})  # fmt: skip
        return case_id


def test_the_case_carries_the_notice_and_opens_under_the_facts_numbers(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    desk = RecordingDesk()
    scenario = scenario_for(
        leaked_user.user_name, [{"id": "case", "type": "support-case", "at": "2m"}]
    )
    ctx = harness.context(scenario, leaked_user.access_key_id, case_desk=desk)

    delivered = deliver(scenario.timeline[0], ctx)

    (opened,) = desk.opened
    assert opened["subject"] == f"[{MARKER}] Your AWS account {ctx.facts.account_id} is compromised"
    assert opened["severity"] == "urgent"
    assert opened["submitted_by"] == "Amazon Web Services"
    assert opened["display_id"] == ctx.facts.case_id
    assert opened["case_id"] == ctx.facts.case_reference
    assert opened["case_id"].startswith(f"case-{ctx.facts.account_id}-2026-")
    assert ctx.facts.case_id.isdigit() and len(ctx.facts.case_id) == 10
    body = opened["body"]
    assert body.startswith(f"[{MARKER}]")
    for fact in (leaked_user.access_key_id, leaked_user.user_name, ctx.facts.public_url):
        assert fact in body
    # the scenario has no quarantine inject: the notice claims no limits
    assert "temporarily limited" not in body
    for step in (
        "root user",
        "MFA",
        "Delete the access keys of the root user",
        "rotate and delete every IAM access key",
        "CloudTrail",
        "login profiles",
        "every AWS Region",
        "Spot",
        "Lambda",
        "Reply to this case",
    ):
        assert step in body, step
    assert delivered.body == body
    assert delivered.data["case_id"] == ctx.facts.case_id
    assert delivered.data["access_key_id"] == leaked_user.access_key_id
    (event,) = harness.events()
    assert event["opened"] is True
    assert event["case_reference"] == ctx.facts.case_reference
    assert Delivered.from_event(event) == delivered


def test_the_newer_notice_and_a_custom_subject(harness: Harness, leaked_user: LeakedUser) -> None:
    desk = RecordingDesk()
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "new", "type": "support-case", "at": "2m", "template": "access-key-exposed",
          "severity": "high"},
         {"id": "own", "type": "support-case", "at": "3m",
          "subject": "Exposed key {{ access_key_id }} in {{ account_alias }}"}],
    )  # fmt: skip
    ctx = harness.context(scenario, leaked_user.access_key_id, case_desk=desk)

    deliver(scenario.timeline[0], ctx)
    deliver(scenario.timeline[1], ctx)

    newer, own = desk.opened
    assert newer["subject"] == (
        f"[{MARKER}] ACTION REQUIRED: Your AWS Access Key is Exposed for AWS Account "
        f"{ctx.facts.account_id}"
    )
    assert newer["severity"] == "high"
    assert f"Access key ID:  {leaked_user.access_key_id}" in newer["body"]
    assert own["subject"] == f"[{MARKER}] Exposed key {leaked_user.access_key_id} in acme-prod"


def test_without_a_case_desk_the_notice_still_goes_out(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name, [{"id": "case", "type": "support-case", "at": "2m"}]
    )
    delivered = deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))
    (event,) = harness.events()
    assert event["opened"] is False
    assert delivered.data["case_reference"] == event["case_reference"]
    assert any("was not opened in the mock" in line for line in harness.console_lines)
