"""A message for the facilitator only: a cue, a reminder, a twist to announce.

Responders never receive it, so it carries no simulation marker. Its text is scenario text
and renders in the same sandbox as every template.
"""

from __future__ import annotations

from gameday.exercise.injects.base import Channel, Delivered, Draft, InjectContext, Outcome
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import Scene, check_template_name
from gameday.scenario.model import ConsoleInject


def render(inject: ConsoleInject, scene: Scene) -> Draft[str]:
    variables = scene.variables()
    if inject.template is not None:
        rendered = scene.renderer.render(check_template_name(inject.template), variables)
        text = rendered.text.strip()
    else:
        text = scene.renderer.render_string(
            inject.text, variables, what=f"inject '{inject.id}' text"
        ).strip()
    lines = text.splitlines()
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=lines[0] if lines else inject.id,
        body=text,
        data={"text": text},
    )
    return Draft(delivered, text)


def send(inject: ConsoleInject, draft: Draft[str], ctx: InjectContext) -> Outcome:
    ctx.console(draft.payload)
    return Outcome({"text": draft.payload})


CHANNEL = REGISTRY.register(
    Channel(
        type="console",
        model=ConsoleInject,
        title="Facilitator message",
        summary="a cue on the facilitator's console (never shown to responders)",
        reveals=("text",),
        template=None,
        render=render,
        send=send,
    )
)
