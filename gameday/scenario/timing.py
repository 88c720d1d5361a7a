"""When a scenario's injects fire at the earliest, read off the file before anything runs.

Targets and deadlines count from detection — the first notice a customer receives — while
`duration`, `at` and the attacker count from the push. These functions say when the timeline
can deliver its first notice and its quarantine, so the checks that compare one clock with
the other (`gameday.scenario.references`, `gameday.scenario.hazards`) agree with scoring.

They read plain data (the YAML as loaded, or a validated scenario's `model_dump()`)
defensively, so they also answer for a file that has other problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameday.scenario.limits import as_dict, as_list, seconds_or_none

# The injects that tell the customer (and so start the detection clock, as scoring reads
# it): a quarantine shows only in IAM and a console cue reaches only the facilitator. A
# webhook notifies only when it has somewhere to post.
NOTICE_TYPES = ("email", "health-event", "webhook", "phone-call", "support-case")

# The plans on which the Support API answers; on the others it refuses every call with
# SubscriptionRequiredException (the mock's Support API, gameday.world.support, uses it).
PLANS_WITH_SUPPORT_API = frozenset({"business", "enterprise"})

# Conditions the scenario alone decides: an inject that needs another plan never fires.
_PLAN_CONDITIONS = {
    "enterprise-support": frozenset({"enterprise"}),
    "business-support-or-higher": frozenset({"business", "enterprise"}),
}


def inject_times(data: Mapping[str, Any]) -> dict[str, float]:
    """When each inject that can fire does so if nothing holds it back: `at`, or its `after`
    chain. Injects the support plan rules out, and those waiting on them, are left out."""
    plan = as_dict(data.get("account")).get("support_plan")
    injects = {
        i["id"]: i
        for i in map(as_dict, as_list(data.get("timeline")))
        if isinstance(i.get("id"), str)
    }
    times: dict[str, float] = {}
    ruled_out: set[str] = set()

    def time_of(inject_id: str, seen: frozenset[str]) -> float | None:
        if inject_id in times:
            return times[inject_id]
        if inject_id in ruled_out or inject_id in seen or inject_id not in injects:
            return None
        inject = injects[inject_id]
        t: float | None = None
        if can_fire(inject, plan):
            at = seconds_or_none(inject.get("at"))
            after = as_dict(inject.get("after"))
            if at is not None and not after:
                t = at
            elif at is None and isinstance(after.get("inject"), str):
                before = time_of(after["inject"], seen | {inject_id})
                delay = seconds_or_none(after.get("delay", 0))
                t = None if before is None or delay is None else before + delay
        if t is None:
            ruled_out.add(inject_id)
        else:
            times[inject_id] = t
        return t

    for inject_id in injects:
        time_of(inject_id, frozenset())
    return times


def can_fire(inject: Mapping[str, Any], plan: Any) -> bool:
    """The support plan does not rule the inject out (conditions the run decides aside)."""
    for name in as_list(inject.get("when")):
        if name in _PLAN_CONDITIONS and plan not in _PLAN_CONDITIONS[name]:
            return False
    for name in as_list(inject.get("unless")):
        if name in _PLAN_CONDITIONS and plan in _PLAN_CONDITIONS[name]:
            return False
    return True


def notifies(inject: Mapping[str, Any]) -> bool:
    """The inject tells the customer: a notice type (a webhook only with its own URL)."""
    kind = inject.get("type")
    if kind == "webhook":
        return isinstance(inject.get("url"), str)
    return kind in NOTICE_TYPES


def earliest_notice(data: Mapping[str, Any]) -> tuple[float, str] | None:
    """When detection can happen at the earliest, and the inject that brings it; None when
    no inject of the timeline notifies anyone before the exercise ends."""
    times = inject_times(data)
    end = seconds_or_none(data.get("duration"))
    found = [
        (times[i["id"]], i["id"])
        for i in map(as_dict, as_list(data.get("timeline")))
        if i.get("id") in times and notifies(i) and (end is None or times[i["id"]] <= end)
    ]
    return min(found) if found else None


def sure_quarantine(data: Mapping[str, Any]) -> tuple[float, str] | None:
    """When AWS's quarantine is attached in every run, and its inject; None when no
    quarantine fires whatever happens (none at all, or each depends on the run)."""
    times = inject_times(data)
    by_id = {
        i["id"]: i
        for i in map(as_dict, as_list(data.get("timeline")))
        if isinstance(i.get("id"), str)
    }

    def unconditional(inject_id: Any) -> bool:
        inject = by_id.get(inject_id)
        if inject is None or inject_id not in times:
            return False
        runtime = [
            name
            for name in (*as_list(inject.get("when")), *as_list(inject.get("unless")))
            if name not in _PLAN_CONDITIONS
        ]
        after = as_dict(inject.get("after")).get("inject")
        return not runtime and (after is None or unconditional(after))

    found = [
        (times[inject_id], inject_id)
        for inject_id, inject in by_id.items()
        if inject.get("type") == "quarantine" and unconditional(inject_id)
    ]
    return min(found) if found else None
