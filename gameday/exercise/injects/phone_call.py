"""The phone call: Enterprise Support rings the customer about the exposed key (FACTS §1.4).

Nobody dials a number in a game day: the facilitator plays the caller. The inject writes
the call script (what the caller says, what they ask, what they never ask, the facts they
can give) to `RUN_DIR/calls/<t>-<id>.md` and shows it on the facilitator's console.
"""

from __future__ import annotations

from gameday.exercise.injects.base import Channel, Delivered, Draft, InjectContext, Outcome
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import Scene, marked_subject, marked_text, template_base
from gameday.exercise.injects.support_case import case_notice
from gameday.scenario.model import PhoneCallInject

CALL_FOLDER = "calls"
DEFAULT_CALL_TEMPLATE = "calls/enterprise-support"


def script_name(t: float, inject_id: str) -> str:
    """The script's file name; zero-padded seconds so a listing sorts in call order."""
    return f"{round(t):06d}-{inject_id}.md"


def render(inject: PhoneCallInject, scene: Scene) -> Draft[str]:
    facts = scene.facts
    template = template_base(inject.template, CALL_FOLDER, DEFAULT_CALL_TEMPLATE)
    contact = facts.contact(inject.to)
    variables = scene.variables(
        caller=inject.caller,
        contact=contact.as_variables(),
        case=case_notice(scene).as_variables(),
    )
    rendered = scene.renderer.render(f"{template}.md.j2", variables)
    subject = rendered.export("subject") or f"Phone call from {inject.caller} to {contact.name}"
    script = marked_text(rendered.text)
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=marked_subject(subject),
        body=script,
        data={
            "account_id": facts.account_id,
            "access_key_id": facts.access_key_id,
            "user_name": facts.user_name,
            "case_id": facts.case_id,
            "public_url": facts.public_url,
            "caller": inject.caller,
            "to": contact.name,
            "phone": contact.phone,
            "template": template,
        },
    )
    return Draft(delivered, script)


def send(inject: PhoneCallInject, draft: Draft[str], ctx: InjectContext) -> Outcome:
    calls = ctx.run_dir / "calls"
    calls.mkdir(parents=True, exist_ok=True)
    name = script_name(draft.delivered.t, inject.id)
    (calls / name).write_text(draft.payload, encoding="utf-8")
    ctx.console(draft.payload)
    return Outcome(
        {
            "to": draft.delivered.data["to"],
            "phone": draft.delivered.data["phone"],
            "caller": inject.caller,
            "script": f"calls/{name}",
            "template": draft.delivered.data["template"],
        }
    )


CHANNEL = REGISTRY.register(
    Channel(
        type="phone-call",
        model=PhoneCallInject,
        title="Phone call",
        summary="Enterprise Support calls a contact about the exposed key (and later checks the "
        "advice was acted on); the facilitator reads the script aloud, saved under calls/",
        reveals=(
            "account_id",
            "access_key_id",
            "user_name",
            "case_id",
            "public_url",
            "caller",
            "to",
            "phone",
            "template",
        ),
        template=DEFAULT_CALL_TEMPLATE,
        render=render,
        send=send,
    )
)
