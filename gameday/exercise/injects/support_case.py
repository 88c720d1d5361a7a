"""The support case AWS opens on the customer's behalf (FACTS §1.3).

The case carries the whole notice: the exposed key, its IAM user, the public URL, the
temporary limits, and the steps AWS asks for. The case-opened email quotes it, so the
notice is rendered here once (`case_notice`) and the email channel reuses it. Opening the
case in the mock goes through a `CaseDesk` — the gateway's Support service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gameday.exercise.injects.base import (
    Channel,
    Delivered,
    Draft,
    InjectContext,
    Outcome,
    nominal_times,
)
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import (
    TIME_TEXT,
    Scene,
    marked_subject,
    marked_text,
    template_base,
)
from gameday.scenario.model import SupportCaseInject
from gameday.world.support import AWS_SUBMITTER

CASE_FOLDER = "cases"
DEFAULT_CASE_TEMPLATE = "cases/account-compromised"
SEVERITY_NAMES = {
    "low": "Low",
    "normal": "Normal",
    "high": "High",
    "urgent": "Urgent",
    "critical": "Critical",
}
REPLY_WITHIN = timedelta(days=5)  # after which the follow-up warns of suspension


@dataclass(frozen=True)
class CaseNotice:
    """The case as AWS writes it: what the Support Center and the case-opened email show."""

    case_id: str  # the display number
    case_reference: str  # the Support API's caseId
    subject: str  # with the simulation marker
    severity_code: str
    correspondence: str  # the first communication, with the simulation marker
    opened_at: datetime
    template: str

    @property
    def severity(self) -> str:
        return SEVERITY_NAMES[self.severity_code]

    def as_variables(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "display_id": self.case_id,
            "case_reference": self.case_reference,
            "subject": self.subject,
            "severity": self.severity,
            "severity_code": self.severity_code,
            "correspondence": self.correspondence,
            "opened_at": self.opened_at.strftime(TIME_TEXT),
            "reply_by": (self.opened_at + REPLY_WITHIN).strftime(TIME_TEXT),
        }


def case_inject(scene: Scene) -> SupportCaseInject | None:
    """The scenario's (first) support case inject: the case every notice refers to."""
    return next((i for i in scene.scenario.timeline if isinstance(i, SupportCaseInject)), None)


def case_notice(scene: Scene, inject: SupportCaseInject | None = None) -> CaseNotice:
    """The notice of the case `inject` opens now, or of the scenario's case (for emails)."""
    opened_t = scene.t
    if inject is None and (inject := case_inject(scene)) is not None:
        opened_t = nominal_times(scene.scenario).get(inject.id, scene.t)
    if inject is None:
        severity, subject_text, template_name = "urgent", None, None
    else:
        severity, subject_text, template_name = inject.severity, inject.subject, inject.template
    template = template_base(template_name, CASE_FOLDER, DEFAULT_CASE_TEMPLATE)
    case_scene = Scene(scene.scenario, scene.facts, scene.renderer, opened_t)
    variables = case_scene.variables(severity=SEVERITY_NAMES[severity])
    rendered = scene.renderer.render(f"{template}.txt.j2", variables)
    if subject_text is not None:
        what = f"inject '{inject.id if inject else ''}' subject"
        subject = scene.renderer.render_string(subject_text, variables, what=what)
    else:
        fallback = f"Your AWS account {scene.facts.account_id} is compromised"
        subject = rendered.export("subject") or fallback
    return CaseNotice(
        case_id=scene.facts.case_id,
        case_reference=scene.facts.case_reference,
        subject=marked_subject(subject),
        severity_code=severity,
        correspondence=marked_text(rendered.text.strip() + "\n"),
        opened_at=scene.facts.at(opened_t),
        template=template,
    )


def render(inject: SupportCaseInject, scene: Scene) -> Draft[CaseNotice]:
    notice = case_notice(scene, inject)
    facts = scene.facts
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=notice.subject,
        body=notice.correspondence,
        data={
            "account_id": facts.account_id,
            "access_key_id": facts.access_key_id,
            "user_name": facts.user_name,
            "case_id": notice.case_id,
            "case_reference": notice.case_reference,
            "public_url": facts.public_url,
            "severity": notice.severity_code,
            "subject": notice.subject,
        },
    )
    return Draft(delivered, notice)


def send(inject: SupportCaseInject, draft: Draft[CaseNotice], ctx: InjectContext) -> Outcome:
    notice = draft.payload
    fields: dict[str, Any] = {
        "case_id": notice.case_id,
        "severity": notice.severity_code,
        "template": notice.template,
    }
    if ctx.case_desk is None:
        ctx.console(
            f"support case {notice.case_id} was not opened in the mock (no Support service in "
            "this run); responders see it only in the notices"
        )
        return Outcome({**fields, "case_reference": notice.case_reference, "opened": False})
    reference = ctx.case_desk.open_case(
        notice.subject,
        notice.correspondence,
        notice.severity_code,
        submitted_by=AWS_SUBMITTER,
        case_id=notice.case_reference,
        display_id=notice.case_id,
    )
    ctx.console(f"AWS opened support case {notice.case_id} ({notice.severity}) for the customer")
    return Outcome(
        {**fields, "case_reference": reference, "opened": True}, {"case_reference": reference}
    )


CHANNEL = REGISTRY.register(
    Channel(
        type="support-case",
        model=SupportCaseInject,
        title="Support case",
        summary="AWS opens a support case on the customer's behalf (\"Your AWS account … is "
        "compromised\"), carrying the notice and the steps to take, in the mock's Support service",
        reveals=(
            "account_id",
            "access_key_id",
            "user_name",
            "case_id",
            "case_reference",
            "public_url",
            "severity",
            "subject",
        ),
        template=DEFAULT_CASE_TEMPLATE,
        render=render,
        send=send,
    )
)
