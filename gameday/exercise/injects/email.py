"""Emails from AWS: the case-opened notice, the follow-up, and any a scenario adds.

Each email is a real RFC 5322 message with a plain-text and an HTML part rendered from
`templates/emails/<name>.txt.j2` and `.html.j2` (the HTML part is optional for a
scenario's own templates). Both parts are UTF-8 sent as 8bit, so the Maildir file reads as
text in a terminal (quoted-printable only for a line too long for 8bit, or for a server
without 8BITMIME). It is always written to the run's Maildir (`RUN_DIR/mail`), named and
dated on the run clock, and also sent over SMTP when the run has a server. A server that
refuses or cannot be reached is journaled; the run goes on, and the Maildir still holds the
message.
"""

from __future__ import annotations

import itertools
import os
import smtplib
import socket
import ssl
import uuid
from datetime import datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from gameday.errors import UserError
from gameday.exercise.injects.base import (
    Channel,
    Delivered,
    Draft,
    InjectContext,
    Outcome,
    SmtpOptions,
)
from gameday.exercise.injects.facts import CONTACT_ROLES
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import (
    MARKER,
    Scene,
    header,
    marked_html,
    marked_subject,
    marked_text,
    template_base,
)
from gameday.exercise.injects.support_case import case_notice
from gameday.scenario.model import EmailInject

EMAIL_FOLDER = "emails"
DEFAULT_EMAIL_TEMPLATE = "emails/case-opened"
AWS_SENDER = Address("Amazon Web Services", "no-reply-aws", "amazon.com")
MESSAGE_ID_DOMAIN = "gameday.invalid"
_MESSAGE_IDS = uuid.UUID("5f0c7a1e-2b7d-4c2e-9a55-6d1f3e0b9c21")
# RFC 5322's limit on a line, in bytes without the CRLF: longer lines cannot go as 8bit
LINE_LIMIT = 998
_DELIVERIES = itertools.count(1)


def recipients(inject: EmailInject, scene: Scene) -> list[Address]:
    """The addresses in `to`: contact roles (the primary contact when a role is unset) or emails."""
    found: list[Address] = []
    for item in inject.to:
        if item in CONTACT_ROLES:
            contact = scene.facts.contact(item)
            address = Address(header(contact.name, "To"), addr_spec=header(contact.email, "To"))
        else:
            try:
                address = Address(addr_spec=header(item, "To"))
            except (ValueError, MessageError) as error:
                raise UserError(
                    f"inject '{inject.id}': '{item}' is not an email address ({error}) — write "
                    "it as name@domain"
                ) from error
        if address.addr_spec not in {a.addr_spec for a in found}:
            found.append(address)
    return found


def render(inject: EmailInject, scene: Scene) -> Draft[EmailMessage]:
    facts = scene.facts
    template = template_base(inject.template, EMAIL_FOLDER, DEFAULT_EMAIL_TEMPLATE)
    to = recipients(inject, scene)
    variables = scene.variables(
        case=case_notice(scene).as_variables(),
        recipients=[{"name": a.display_name, "email": a.addr_spec} for a in to],
    )
    text = scene.renderer.render(f"{template}.txt.j2", variables)
    html_name = f"{template}.html.j2"
    html = scene.renderer.render(html_name, variables) if scene.renderer.exists(html_name) else None
    if inject.subject is not None:
        subject_text = scene.renderer.render_string(
            inject.subject, variables, what=f"inject '{inject.id}' subject"
        )
    elif (exported := text.export("subject")) is not None:
        subject_text = exported
    else:
        raise UserError(
            f"template '{template}.txt.j2' sets no subject — add "
            "{% set subject = \"...\" %} to it, or give the inject a 'subject'"
        )
    subject = marked_subject(subject_text)
    body = marked_text(text.text)

    message = EmailMessage()
    message["From"] = AWS_SENDER
    message["To"] = to
    message["Date"] = format_datetime(facts.at(scene.t))
    identity = f"{facts.scenario_id}/{facts.seed}/{facts.account_id}/{inject.id}/{scene.t}"
    message_id = f"<{uuid.uuid5(_MESSAGE_IDS, identity)}@{MESSAGE_ID_DOMAIN}>"
    message["Message-ID"] = message_id
    message["Subject"] = subject
    message["X-Gameday-Simulation"] = MARKER
    message["X-Gameday-Scenario"] = facts.scenario_id
    message["X-Gameday-Inject"] = inject.id
    message.set_content(body, cte=transfer_encoding(body))
    if html is not None:
        page = marked_html(html.text)
        message.add_alternative(page, subtype="html", cte=transfer_encoding(page))

    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=subject,
        body=body,
        data={
            "account_id": facts.account_id,
            "access_key_id": facts.access_key_id,
            "user_name": facts.user_name,
            "case_id": facts.case_id,
            "public_url": facts.public_url,
            "to": [a.addr_spec for a in to],
            "message_id": message_id,
            "template": template,
        },
    )
    return Draft(delivered, message)


def send(inject: EmailInject, draft: Draft[EmailMessage], ctx: InjectContext) -> Outcome:
    message = draft.payload
    if ctx.options.mail_from is not None:
        message.replace_header("From", header(ctx.options.mail_from, "From"))
    key = add_to_maildir(ctx.run_dir / "mail", message, ctx.facts.at(draft.delivered.t))
    fields: dict[str, Any] = {
        "to": draft.delivered.data["to"],
        "message_id": message["Message-ID"],
        "template": draft.delivered.data["template"],
        "maildir_key": key,
    }
    smtp = ctx.options.smtp
    if smtp is None:
        fields["smtp"] = {"status": "off"}
    else:
        fields["smtp"] = send_smtp(message, smtp)
        if fields["smtp"]["status"] != "sent":
            ctx.console(f"email '{inject.id}' not sent by SMTP: {fields['smtp']['error']}")
    ctx.console(f"email to {', '.join(fields['to'])}: {draft.delivered.subject}")
    return Outcome(fields)


def transfer_encoding(text: str) -> str:
    """8bit, which a terminal shows as it is, unless a line is too long for it."""
    longest = max((len(line.encode("utf-8")) for line in text.splitlines()), default=0)
    return "8bit" if longest <= LINE_LIMIT else "quoted-printable"


def seven_bit(message: EmailMessage) -> EmailMessage:
    """A copy of `message` with every 8bit text part quoted-printable (for a server without
    8BITMIME)."""
    copy = EmailMessage()
    for name, value in message.items():
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
            copy[name] = value
    parts = list(message.iter_parts()) if message.is_multipart() else [message]
    for index, part in enumerate(parts):
        add = copy.set_content if index == 0 else copy.add_alternative
        add(part.get_content(), subtype=part.get_content_subtype(), cte="quoted-printable")
    return copy


def add_to_maildir(folder: Path, message: EmailMessage, when: datetime) -> str:
    """Deliver `message` into the Maildir `folder` (created if need be) as a Maildir delivery
    agent does — written in tmp/, then moved to new/ — named and dated at `when` on the run
    clock rather than the wall clock. Returns the message's file name (its Maildir key)."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    stamp = when.timestamp()
    seconds, micro = int(stamp), round((stamp % 1) * 1_000_000)
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072")
    key = f"{seconds}.M{micro}P{os.getpid()}Q{next(_DELIVERIES)}.{host}"
    partial, final = folder / "tmp" / key, folder / "new" / key
    with open(partial, "xb") as target:
        target.write(message.as_bytes())
        target.flush()
        os.fsync(target.fileno())
    os.utime(partial, (stamp, stamp))
    os.replace(partial, final)
    return key


def send_smtp(message: EmailMessage, options: SmtpOptions) -> dict[str, Any]:
    """Send through `options`' server; what happened, as a journal field (never raises)."""
    server = f"{options.host}:{options.port}"
    try:
        with smtplib.SMTP(options.host, options.port, timeout=options.timeout) as client:
            client.ehlo()
            if options.starttls:
                client.starttls(context=ssl.create_default_context(cafile=options.cafile))
                client.ehlo()
            if options.user is not None:
                client.login(options.user, options.password or "")
            if client.has_extn("8bitmime"):
                refused = client.send_message(message, mail_options=("BODY=8BITMIME",))
            else:
                refused = client.send_message(seven_bit(message))
    except (smtplib.SMTPException, OSError) as error:
        return {"status": "failed", "server": server, "error": f"{type(error).__name__}: {error}"}
    if refused:
        return {"status": "partial", "server": server, "error": f"refused: {sorted(refused)}"}
    return {"status": "sent", "server": server}


CHANNEL = REGISTRY.register(
    Channel(
        type="email",
        model=EmailInject,
        title="Email",
        summary="AWS emails the account's contacts (the security contact where set): the "
        "case-opened notice, the five-day follow-up, or a scenario's own; written to the run's "
        "Maildir and sent by SMTP when configured",
        reveals=(
            "account_id",
            "access_key_id",
            "user_name",
            "case_id",
            "public_url",
            "to",
            "message_id",
            "template",
        ),
        template=DEFAULT_EMAIL_TEMPLATE,
        render=render,
        send=send,
    )
)
