"""Firing an inject, and previewing them all.

`deliver` is the one path every inject takes when the timeline fires it: render, send,
journal `inject.delivered`. `preview` renders every inject of a scenario that can fire at
its nominal time with no side effects, for `gameday render`: given a run's facts
(`run_facts`), each preview is what that run delivers when the inject fires on time.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gameday.exercise.injects.base import Delivered, InjectContext, nominal_times
from gameday.exercise.injects.facts import IncidentFacts
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import Renderer, Scene
from gameday.scenario.model import Inject, Scenario
from gameday.scenario.timing import inject_times


def deliver(inject: Inject, ctx: InjectContext) -> Delivered:
    """Fire `inject` now (on the run clock) and journal what responders received."""
    channel = REGISTRY.get(inject.type)
    t = ctx.clock.now()
    draft = channel.render(inject, ctx.scene(t))
    outcome = channel.send(inject, draft, ctx)
    delivered = draft.delivered
    if outcome.data:
        delivered = replace(delivered, data={**delivered.data, **outcome.data})
    ctx.journal.append("inject.delivered", t=t, **delivered.to_event_fields(), **outcome.fields)
    return delivered


def preview(
    scenario: Scenario,
    facts: IncidentFacts,
    *,
    renderer: Renderer | None = None,
    templates: Path | None = None,
) -> list[Delivered]:
    """Every inject of `scenario` that can fire, rendered at its nominal time, in the order
    they fire. Injects the account's support plan rules out (a `when: [enterprise-support]`
    call on a Business account), and those that wait on them, are left out, as a run leaves
    them out; conditions only a run can decide (`when: [case-replied]`) are the caller's to
    show."""
    renderer = renderer or Renderer(templates)
    times = nominal_times(scenario)
    possible = inject_times(scenario.model_dump(exclude_none=True))
    order = sorted(
        (item for item in enumerate(scenario.timeline) if item[1].id in possible),
        key=lambda item: (times[item[1].id], item[0]),
    )
    previews = []
    for _, inject in order:
        scene = Scene(scenario, facts, renderer, times[inject.id])
        previews.append(REGISTRY.get(inject.type).render(inject, scene).delivered)
    return previews
