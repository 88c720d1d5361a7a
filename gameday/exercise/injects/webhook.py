"""A chat-ops alert: a JSON POST in Slack's incoming-webhook shape (`text`, `blocks`).

It stands for the company's own alerting (a Health-to-chat integration, a colleague's
message) reaching the responders' channel. Posting is best effort: a timeout, a refused
connection or an error status is journaled and the run goes on. Webhook URLs often embed a
secret token, so the journal keeps only the scheme and host.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from gameday import __version__
from gameday.exercise.injects.base import Channel, Delivered, Draft, InjectContext, Outcome
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import (
    MARKER,
    Scene,
    marked_subject,
    marked_text,
    template_base,
)
from gameday.scenario.model import HealthEventInject, WebhookInject

WEBHOOK_FOLDER = "webhooks"
DEFAULT_WEBHOOK_TEMPLATE = "webhooks/health-alert"


def redacted(url: str) -> str:
    """`https://hooks.example.com/services/T0/B0/secret` → `https://hooks.example.com/…`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def render(inject: WebhookInject, scene: Scene) -> Draft[dict[str, Any]]:
    facts = scene.facts
    health = next((i for i in scene.scenario.timeline if isinstance(i, HealthEventInject)), None)
    variables = scene.variables(
        event_type_code=health.event_type_code if health else "AWS_RISK_CREDENTIALS_EXPOSED"
    )
    if inject.text is not None and inject.template is None:
        what = f"inject '{inject.id}' text"
        text = scene.renderer.render_string(inject.text, variables, what=what)
        subject = text.strip().splitlines()[0] if text.strip() else inject.id
        template = None
    else:
        template = template_base(inject.template, WEBHOOK_FOLDER, DEFAULT_WEBHOOK_TEMPLATE)
        rendered = scene.renderer.render(f"{template}.txt.j2", variables)
        text = rendered.text
        subject = rendered.export("subject") or f"Alert for account {facts.account_alias}"
    text = marked_text(text.strip())
    payload: dict[str, Any] = {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": MARKER, "emoji": False}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"gameday · scenario `{facts.scenario_id}` · inject `{inject.id}`",
                    }
                ],
            },
        ],
    }
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=marked_subject(subject),
        body=text,
        data={
            "account_id": facts.account_id,
            "access_key_id": facts.access_key_id,
            "payload": payload,
            "template": template,
        },
    )
    return Draft(delivered, payload)


def send(inject: WebhookInject, draft: Draft[dict[str, Any]], ctx: InjectContext) -> Outcome:
    url = inject.url or ctx.options.webhook_url
    if url is None:
        ctx.console(f"webhook '{inject.id}' skipped: no URL (set it on the inject or the run)")
        return Outcome({"status": "skipped", "error": "no webhook URL"})
    fields: dict[str, Any] = {"url": redacted(url)}
    if urlsplit(url).scheme not in ("http", "https"):
        ctx.console(f"webhook '{inject.id}' skipped: {fields['url']} is not an http(s) URL")
        return Outcome({**fields, "status": "failed", "error": "not an http or https URL"})
    request = urllib.request.Request(
        url,
        data=json.dumps(draft.payload).encode("utf-8"),
        headers={"Content-Type": "application/json", "User-Agent": f"gameday/{__version__}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=ctx.options.webhook_timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        ctx.console(f"webhook '{inject.id}' answered {error.code}")
        return Outcome({**fields, "status": "failed", "http_status": error.code,
                        "error": f"HTTP {error.code} {error.reason}"})  # fmt: skip
    except (urllib.error.URLError, OSError) as error:
        ctx.console(f"webhook '{inject.id}' failed: {error}")
        return Outcome({**fields, "status": "failed", "error": f"{type(error).__name__}: {error}"})
    ctx.console(f"webhook posted to {fields['url']}: {draft.delivered.subject}")
    return Outcome({**fields, "status": "sent", "http_status": status}, {"url": fields["url"]})


CHANNEL = REGISTRY.register(
    Channel(
        type="webhook",
        model=WebhookInject,
        title="Chat webhook",
        summary="an alert posted as JSON (Slack-compatible `text` and `blocks`) to the inject's "
        "URL or the run's webhook URL; failures are journaled, never fatal",
        reveals=("account_id", "access_key_id", "payload", "template", "url"),
        template=DEFAULT_WEBHOOK_TEMPLATE,
        render=render,
        send=send,
    )
)
