"""Evidence as it was: the event that satisfied each step, and what later broke it.

The score keeps every change of a check's value as evidence (`score.extra["evidence"]`:
subject, t, seq, holds, reason, by). The score's `reason` says how things stood at the end;
a debrief needs the moment: who made the step's check hold, with which call, when — and, if
it stopped holding later, when and by whose act. This module joins each change to the
journal event it happened at (by `seq`) and writes it in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gameday.journal import Event
from gameday.report.consequences import Act, key_owners, stopping_acts
from gameday.report.formatting import clock
from gameday.scoring.model import Score, StepResult

# The parameters that name what a call acted on, in the order worth showing.
_TARGETS = (
    "AccessKeyId", "UserName", "SecretId", "RoleName", "PolicyArn", "Bucket", "caseId",
    "FunctionName", "Name",
)  # fmt: skip
ACTORS = {
    "responder": "the team",
    "attacker": "the attacker",
    "workload": "the workload",
    "framework": "the exercise",
    "developer": "a developer",
}


@dataclass(frozen=True)
class Happening:
    """One moment of a step's evidence: when, and what happened then, in words."""

    t: float
    text: str

    @property
    def when(self) -> str:
        return clock(self.t)


@dataclass(frozen=True)
class StepProof:
    """What made a step's check hold (`done`), what broke it afterwards (`undone`), and what
    broke the condition its window required (`condition_broken`), each as it happened."""

    done: Happening | None = None
    undone: Happening | None = None
    condition_broken: Happening | None = None


def prove_steps(score: Score, events: Sequence[Event]) -> dict[str, StepProof]:
    """Each step's proof, by step id."""
    by_seq = {int(e.get("seq", 0)): e for e in events}
    acts = stopping_acts(events, key_owners(events, ()))
    changes: dict[str, list[Mapping[str, Any]]] = {}
    for change in score.extra.get("evidence") or []:
        if isinstance(change, Mapping):
            changes.setdefault(str(change.get("subject", "")), []).append(change)
    return {
        step.id: _prove(
            step,
            changes.get(f"step:{step.id}", []),
            changes.get(f"throughout:{step.id}", []),
            by_seq,
            acts,
            score.detected_at_s or 0.0,
        )
        for step in score.steps
    }


def _prove(
    step: StepResult,
    changes: list[Mapping[str, Any]],
    condition: list[Mapping[str, Any]],
    by_seq: Mapping[int, Event],
    acts: Mapping[str, Act],
    detected: float,
) -> StepProof:
    if step.keep and step.status in ("success", "partial"):
        return StepProof(done=Happening(detected, "it held at the first notice; nobody broke it"))
    done = _last(changes, holds=True)
    if done is not None and done.get("by") is None:
        done = None  # it held because nobody did anything (nothing to clean up yet)
    undone = None
    if done is not None:
        after = [c for c in changes if int(c.get("seq", 0)) > int(done.get("seq", 0))]
        undone = next((c for c in after if not c.get("holds")), None)
    broken = next(
        (c for c in condition if not c.get("holds") and float(c.get("t", 0.0)) >= detected),
        None,
    )
    if broken is None and condition and not _held_at(condition, detected):
        broken = _last([c for c in condition if float(c.get("t", 0.0)) <= detected], holds=False)
    return StepProof(
        done=_happening(done, by_seq, acts),
        undone=_happening(undone, by_seq, acts),
        condition_broken=_happening(broken, by_seq, acts),
    )


def _last(changes: list[Mapping[str, Any]], *, holds: bool) -> Mapping[str, Any] | None:
    return next((c for c in reversed(changes) if bool(c.get("holds")) is holds), None)


def _held_at(changes: list[Mapping[str, Any]], t: float) -> bool:
    held = False
    for change in changes:
        if float(change.get("t", 0.0)) > t:
            break
        held = bool(change.get("holds"))
    return held


def _happening(
    change: Mapping[str, Any] | None, by_seq: Mapping[int, Event], acts: Mapping[str, Act]
) -> Happening | None:
    if change is None:
        return None
    event = by_seq.get(int(change.get("seq", 0)))
    t = float(change.get("t", 0.0))
    if event is None:
        return Happening(t, "")
    text = describe_event(event)
    if event.get("kind") == "workload.probe" and not event.get("ok"):
        # A probe fails because somebody stopped its key: say who, and when.
        act = acts.get(str(event.get("access_key_id")))
        if act is not None and act.t <= t:
            text += f", which the {act.by} had stopped at {clock(act.t)} ({act.action}: {act.what})"
    return Happening(t, text)


def describe_event(event: Event) -> str:
    """What one journal event did, in words: who, which call, on what."""
    kind = str(event.get("kind", ""))
    if kind == "api.call":
        who = ACTORS.get(str(event.get("actor")), str(event.get("actor") or "someone"))
        user = f" ({event['user']})" if event.get("user") else ""
        given = event.get("params")
        params: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        target = next((str(params[k]) for k in _TARGETS if params.get(k)), "")
        on = f" on {target}" if target else ""
        if event.get("service") == "ec2" and event.get("region"):
            on += f" in {event['region']}"
        refused = f", refused with {event['error_code']}" if event.get("error_code") else ""
        return f"{who}{user} called {event.get('service')}:{event.get('action')}{on}{refused}"
    if kind == "mark":
        return f"{event.get('by') or 'the facilitator'} marked it done"
    if kind == "repo.private":
        return f"{ACTORS.get(str(event.get('actor')), 'someone')} made the repository private"
    if kind == "repo.deleted":
        return f"{ACTORS.get(str(event.get('actor')), 'someone')} deleted the repository"
    if kind == "repo.pushed":
        return f"{ACTORS.get(str(event.get('actor')), 'someone')} pushed to the repository"
    if kind == "workload.probe":
        outcome = "worked" if event.get("ok") else f"failed ({event.get('error_code') or 'error'})"
        return f"the workload's probe {outcome}, signed with {event.get('access_key_id')}"
    if kind == "inject.delivered":
        return f"AWS: {event.get('subject') or event.get('inject')}"
    if kind == "note":
        return f"note: {event.get('text', '')}"
    if kind == "world.seeded":
        return "so from the start"
    return kind
