"""AWS's side of the incident: the injects, one module per channel.

    quarantine     the deny policy AWS attaches to the leaked key's user
    support-case   the case AWS opens on the customer's behalf
    email          the case-opened notice, the follow-up, a scenario's own
    phone-call     Enterprise Support's call, as a script the facilitator reads
    health-event   AWS_RISK_CREDENTIALS_EXPOSED on the default EventBridge bus
    webhook        a chat-ops alert (Slack-compatible JSON)
    console        a cue for the facilitator only

`deliver(inject, ctx)` fires one; `preview(scenario, facts)` renders them all without side
effects (with `run_facts(scenario, seed=N)`, as a virtual run with that seed delivers
them). docs/injects.md describes each channel and its templates.
"""

from __future__ import annotations

from gameday.exercise.injects import (  # noqa: F401  (each module registers its channel)
    console,
    email,
    health_event,
    phone_call,
    quarantine,
    support_case,
    webhook,
)
from gameday.exercise.injects.base import (
    AwsAccess,
    CaseDesk,
    Channel,
    Delivered,
    Draft,
    InjectContext,
    InjectOptions,
    JournalWriter,
    MockAws,
    Outcome,
    SmtpOptions,
)
from gameday.exercise.injects.delivery import deliver, preview
from gameday.exercise.injects.facts import ContactFacts, IncidentFacts, run_facts, sample_facts
from gameday.exercise.injects.registry import REGISTRY, Registry
from gameday.exercise.injects.rendering import MARKER, Renderer, Scene

__all__ = [
    "MARKER",
    "REGISTRY",
    "AwsAccess",
    "CaseDesk",
    "Channel",
    "ContactFacts",
    "Delivered",
    "Draft",
    "IncidentFacts",
    "InjectContext",
    "InjectOptions",
    "JournalWriter",
    "MockAws",
    "Outcome",
    "Registry",
    "Renderer",
    "Scene",
    "SmtpOptions",
    "deliver",
    "preview",
    "run_facts",
    "sample_facts",
]
