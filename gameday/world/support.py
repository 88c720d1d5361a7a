"""AWS Support cases: the case AWS opens on the customer's behalf, and the conversation on it.

moto's Support backend cycles a case's status and severity on every `DescribeCases` and has
no communications; here a case changes only when someone acts on it. The framework opens a
case as AWS does (`open_case`) and can write on it as AWS (`add_communication`); responders
use the real API through the gateway: `DescribeCases`, `AddCommunicationToCase`,
`DescribeCommunications`, `ResolveCase`, `CreateCase`, `DescribeSeverityLevels`,
`DescribeServices`. Like AWS, the API answers only accounts on Business support or higher.
Severities are the API's codes (`urgent`, `high` …) named as the API names them (`Urgent`);
the Support Center console's labels ("Production system down") are only for what shows the
console (`CONSOLE_SEVERITY_LABELS`). Business-critical (`critical`) is Enterprise's alone.

Case IDs look like AWS's (`case-<account>-<year>-<16 hex>`) with a ten-digit display ID; they
are drawn from a seeded generator so a run is reproducible.
"""

from __future__ import annotations

import base64
import binascii
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gameday.journal import iso
from gameday.scenario.timing import PLANS_WITH_SUPPORT_API

AWS_SUBMITTER = "Amazon Web Services"
# The severity codes and the names the API gives them (`DescribeSeverityLevels`)…
SEVERITIES = {
    "low": "Low",
    "normal": "Normal",
    "high": "High",
    "urgent": "Urgent",
    "critical": "Critical",
}
# …and the labels the Support Center console shows for the same codes, never the API's.
CONSOLE_SEVERITY_LABELS = {
    "low": "General guidance",
    "normal": "System impaired",
    "high": "Production system impaired",
    "urgent": "Production system down",
    "critical": "Business-critical system down",
}
# Business-critical system down is offered on Enterprise support only.
PLAN_SEVERITIES = {
    "business": ("low", "normal", "high", "urgent"),
    "enterprise": ("low", "normal", "high", "urgent", "critical"),
}
SERVICES = {
    "customer-account": ("Account and billing", {"security": "Security"}),
    "aws-identity-and-access-management": (
        "Identity and Access Management",
        {"general-guidance": "General Guidance", "access-keys": "Access Keys"},
    ),
    "amazon-elastic-compute-cloud-linux": (
        "Elastic Compute Cloud (EC2 - Linux)",
        {"general-guidance": "General Guidance", "instance-issue": "Instance Issue"},
    ),
}
# the plans whose Support API answers: one set with what `validate` checks scenarios against
PLANS_WITH_API = PLANS_WITH_SUPPORT_API
RECENT_COMMUNICATIONS = 5


class SupportError(Exception):
    """A request the Support API refuses, with the exception name it uses."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Communication:
    body: str
    submitted_by: str
    time_created: datetime
    cc_email_addresses: tuple[str, ...] = ()

    def to_api(self, case_id: str) -> dict[str, Any]:
        return {
            "caseId": case_id,
            "body": self.body,
            "submittedBy": self.submitted_by,
            "timeCreated": iso(self.time_created),
            "attachmentSet": [],
        }


@dataclass
class Case:
    case_id: str
    display_id: str
    subject: str
    status: str
    service_code: str
    category_code: str
    severity_code: str
    submitted_by: str
    time_created: datetime
    cc_email_addresses: tuple[str, ...] = ()
    language: str = "en"
    communications: list[Communication] = field(default_factory=list)

    def newest_first(self) -> list[Communication]:
        # Appended as they happen, on a clock that never goes back.
        return list(reversed(self.communications))

    def to_api(self, *, include_communications: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "caseId": self.case_id,
            "displayId": self.display_id,
            "subject": self.subject,
            "status": self.status,
            "serviceCode": self.service_code,
            "categoryCode": self.category_code,
            "severityCode": self.severity_code,
            "submittedBy": self.submitted_by,
            "timeCreated": iso(self.time_created),
            "ccEmailAddresses": list(self.cc_email_addresses),
            "language": self.language,
        }
        if include_communications:
            newest = self.newest_first()
            recent = newest[:RECENT_COMMUNICATIONS]
            body["recentCommunications"] = {
                "communications": [c.to_api(self.case_id) for c in recent],
                **({"nextToken": _encode_token(len(recent))} if len(newest) > len(recent) else {}),
            }
        return body


class SupportCenter:
    """The Support cases of one account, on the run clock."""

    def __init__(
        self,
        account_id: str,
        now: Callable[[], datetime],
        *,
        plan: str = "enterprise",
        seed: int = 0,
        on_change: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.account_id = account_id
        self.plan = plan
        self._now = now
        self._seed = seed
        self._rng = random.Random(f"gameday-support:{seed}:{account_id}")
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._on_change = on_change

    def reset(self, *, plan: str | None = None, seed: int | None = None) -> None:
        with self._lock:
            self._cases.clear()
            self.plan = plan or self.plan
            self._seed = self._seed if seed is None else seed
            self._rng = random.Random(f"gameday-support:{self._seed}:{self.account_id}")

    # ── what the framework does as AWS ────────────────────────────────────────────────────

    def open_case(
        self,
        subject: str,
        body: str,
        severity: str = "urgent",
        *,
        service_code: str = "customer-account",
        category_code: str = "security",
        cc_email_addresses: tuple[str, ...] = (),
        submitted_by: str = AWS_SUBMITTER,
        case_id: str | None = None,
        display_id: str | None = None,
    ) -> str:
        """Open a case on the customer's behalf, awaiting their reply; its case ID.

        `case_id` and `display_id` are drawn here unless the caller already announced them
        (an email quoting the case number may be written before the case is opened).
        """
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
        case = self._new_case(
            subject,
            body,
            severity,
            service_code=service_code,
            category_code=category_code,
            cc_email_addresses=cc_email_addresses,
            submitted_by=submitted_by,
            status="pending-customer-action",
            case_id=case_id,
            display_id=display_id,
        )
        self._changed(
            "support.case-opened",
            {
                "case_id": case.case_id,
                "display_id": case.display_id,
                "subject": subject,
                "severity": severity,
                "submitted_by": submitted_by,
            },
        )
        return case.case_id

    def add_communication(self, case_id: str, body: str, submitted_by: str = AWS_SUBMITTER) -> None:
        """Write on a case as AWS: the ball is back in the customer's court."""
        with self._lock:
            case = self._case(case_id)
            case.communications.append(Communication(body, submitted_by, self._now()))
            case.status = "pending-customer-action"
        self._changed(
            "support.communication-added",
            {"case_id": case_id, "submitted_by": submitted_by, "body": body},
        )

    def case(self, case_id: str) -> Case:
        with self._lock:
            return self._case(case_id)

    def display_id(self, case_id: str) -> str:
        return self.case(case_id).display_id

    def cases(self) -> list[Case]:
        with self._lock:
            return list(self._cases.values())

    # ── the Support API ───────────────────────────────────────────────────────────────────

    def handle(self, action: str, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        """Answer one Support API call made by `caller` (its ARN); raises SupportError."""
        if self.plan not in PLANS_WITH_API:
            raise SupportError(
                "SubscriptionRequiredException",
                "AWS Premium Support Subscription is required to use this service.",
            )
        handler = self._handlers().get(action)
        if handler is None:
            raise SupportError("UnknownOperationException", f"Unknown operation {action}")
        return handler(params, caller)

    def handles(self, action: str) -> bool:
        return action in self._handlers()

    def _handlers(self) -> dict[str, Callable[[Mapping[str, Any], str], dict[str, Any]]]:
        return {
            "CreateCase": self._create_case,
            "DescribeCases": self._describe_cases,
            "AddCommunicationToCase": self._add_communication_to_case,
            "DescribeCommunications": self._describe_communications,
            "ResolveCase": self._resolve_case,
            "DescribeSeverityLevels": self._describe_severity_levels,
            "DescribeServices": self._describe_services,
        }

    def _create_case(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        subject = str(params.get("subject") or "")
        body = str(params.get("communicationBody") or "")
        if not subject or not body:
            raise SupportError("ValidationException", "subject and communicationBody are required.")
        severity = str(params.get("severityCode") or "low")
        if severity not in PLAN_SEVERITIES.get(self.plan, ()):
            raise SupportError("ValidationException", f"Invalid severity code: {severity}")
        case = self._new_case(
            subject,
            body,
            severity,
            service_code=str(params.get("serviceCode") or "general-info"),
            category_code=str(params.get("categoryCode") or "using-aws"),
            cc_email_addresses=tuple(params.get("ccEmailAddresses") or ()),
            submitted_by=caller,
            status="unassigned",
        )
        return {"caseId": case.case_id}

    def _describe_cases(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        wanted_ids = list(params.get("caseIdList") or [])
        display_id = params.get("displayId")
        include_resolved = bool(params.get("includeResolvedCases", False))
        include_communications = bool(params.get("includeCommunications", True))
        after = _parse_time(params.get("afterTime"))
        before = _parse_time(params.get("beforeTime"))
        max_results = _max_results(params, 10, 100, default=100)
        with self._lock:
            for case_id in wanted_ids:
                self._case(case_id)
            selected = [
                case
                for case in sorted(self._cases.values(), key=lambda c: c.time_created, reverse=True)
                if (not wanted_ids or case.case_id in wanted_ids)
                and (display_id is None or case.display_id == str(display_id))
                and (include_resolved or case.status != "resolved")
                and (after is None or case.time_created >= after)
                and (before is None or case.time_created <= before)
            ]
            start = _decode_token(params.get("nextToken"))
            page = selected[start : start + max_results]
            response: dict[str, Any] = {
                "cases": [c.to_api(include_communications=include_communications) for c in page]
            }
        if start + max_results < len(selected):
            response["nextToken"] = _encode_token(start + max_results)
        return response

    def _add_communication_to_case(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        body = str(params.get("communicationBody") or "")
        if not body:
            raise SupportError("ValidationException", "communicationBody is required.")
        with self._lock:
            case = (
                self._latest_case()
                if not params.get("caseId")
                else self._case(str(params["caseId"]))
            )
            cc = tuple(params.get("ccEmailAddresses") or ())
            case.communications.append(Communication(body, caller, self._now(), cc))
            # A reply from the customer hands the case back to AWS; on a resolved case it reopens.
            case.status = "reopened" if case.status == "resolved" else "opened"
        return {"result": True}

    def _describe_communications(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        after = _parse_time(params.get("afterTime"))
        before = _parse_time(params.get("beforeTime"))
        max_results = _max_results(params, 10, 100, default=100)
        with self._lock:
            case = self._case(str(params.get("caseId") or ""))
            selected = [
                c
                for c in case.newest_first()
                if (after is None or c.time_created >= after)
                and (before is None or c.time_created <= before)
            ]
            start = _decode_token(params.get("nextToken"))
            page = selected[start : start + max_results]
            response: dict[str, Any] = {"communications": [c.to_api(case.case_id) for c in page]}
        if start + max_results < len(selected):
            response["nextToken"] = _encode_token(start + max_results)
        return response

    def _resolve_case(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        with self._lock:
            case = (
                self._latest_case()
                if not params.get("caseId")
                else self._case(str(params["caseId"]))
            )
            initial = case.status
            case.status = "resolved"
        return {"initialCaseStatus": initial, "finalCaseStatus": "resolved"}

    def _describe_severity_levels(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        return {
            "severityLevels": [
                {"code": code, "name": SEVERITIES[code]}
                for code in PLAN_SEVERITIES.get(self.plan, ())
            ]
        }

    def _describe_services(self, params: Mapping[str, Any], caller: str) -> dict[str, Any]:
        wanted = set(params.get("serviceCodeList") or SERVICES)
        return {
            "services": [
                {
                    "code": code,
                    "name": name,
                    "categories": [{"code": c, "name": n} for c, n in categories.items()],
                }
                for code, (name, categories) in SERVICES.items()
                if code in wanted
            ]
        }

    # ── internals ─────────────────────────────────────────────────────────────────────────

    def _new_case(
        self,
        subject: str,
        body: str,
        severity: str,
        *,
        service_code: str,
        category_code: str,
        cc_email_addresses: tuple[str, ...],
        submitted_by: str,
        status: str,
        case_id: str | None = None,
        display_id: str | None = None,
    ) -> Case:
        now = self._now()
        with self._lock:
            drawn_id = f"case-{self.account_id}-{now.year}-{self._rng.getrandbits(64):016x}"
            drawn_display = str(self._rng.randrange(10**9, 10**10))
            case_id = case_id or drawn_id
            display_id = display_id or drawn_display
            if case_id in self._cases:
                raise ValueError(f"support case {case_id} exists already")
            case = Case(
                case_id=case_id,
                display_id=display_id,
                subject=subject,
                status=status,
                service_code=service_code,
                category_code=category_code,
                severity_code=severity,
                submitted_by=submitted_by,
                time_created=now,
                cc_email_addresses=cc_email_addresses,
                communications=[Communication(body, submitted_by, now, cc_email_addresses)],
            )
            self._cases[case_id] = case
        return case

    def _case(self, case_id: str) -> Case:
        case = self._cases.get(case_id)
        if case is None:
            raise SupportError("CaseIdNotFound", f"Invalid case ID: {case_id}")
        return case

    def _latest_case(self) -> Case:
        if not self._cases:
            raise SupportError(
                "CaseIdNotFound", "No case ID was given and the account has no case."
            )
        return max(self._cases.values(), key=lambda c: c.time_created)

    def _changed(self, kind: str, fields: Mapping[str, Any]) -> None:
        if self._on_change is not None:
            self._on_change(kind, fields)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise SupportError("ValidationException", f"Invalid time: {text}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _max_results(params: Mapping[str, Any], low: int, high: int, *, default: int) -> int:
    value = int(params.get("maxResults") or default)
    if not low <= value <= high:
        raise SupportError(
            "ValidationException", f"maxResults must be between {low} and {high}, not {value}."
        )
    return value


def _encode_token(position: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{position}".encode()).decode()


def _decode_token(token: Any) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
        return int(text.removeprefix("offset:"))
    except (ValueError, binascii.Error) as error:
        raise SupportError("ValidationException", "Invalid nextToken.") from error
