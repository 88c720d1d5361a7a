"""What the team's actions changed: cause and effect, read from the journal.

For each attacker technique that failed or was cut short, the act that did it — the team's
call that deactivated or deleted the key the attacker signed with, deleted its user, or
terminated the instances — with both times: the team's call, and the attacker's refused call
(or the moment the instances stopped). For each resource the attacker left behind, what it
still costs: instances × hours × the on-demand price of their type (gameday.report.prices),
always an estimate.

A pure function of the journal's events and the attacker's footprint
(gameday.report.evidence), like every other part of a report's content.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gameday.journal import Event
from gameday.report.evidence import Resource, api_calls, read_call, succeeded
from gameday.report.formatting import minutes
from gameday.report.prices import PRICE_BASIS, hourly_price

# Refusals that mean the signing key no longer works (EC2 says AuthFailure, others
# InvalidClientTokenId); AccessDenied is a policy's doing (the quarantine).
KEY_REFUSED = frozenset({"InvalidClientTokenId", "AuthFailure", "UnrecognizedClientException"})
POLICY_REFUSED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


@dataclass(frozen=True)
class Act:
    """Something done to the account that stopped the attacker: when, which call, by whom."""

    t: float
    seq: int
    action: str  # `iam:UpdateAccessKey`, or the inject that did it for AWS
    what: str  # "deactivated access key AKIA… of svc-backup-admin"
    by: str  # team | AWS


@dataclass(frozen=True)
class Consequence:
    """An attacker technique that failed or was cut short, and the act that caused it."""

    technique: str
    t: float  # the attacker's refused call, or the moment the instances stopped
    effect: str
    cause: Act | None

    @property
    def lead(self) -> str:
        """How long the act came before its effect, in words."""
        if self.cause is None:
            return ""
        return minutes(self.t - self.cause.t)


@dataclass(frozen=True)
class LeftoverCost:
    """A resource the attacker left behind, and what it still costs."""

    resource: Resource
    instance_type: str | None
    hours: float  # running, from its launch to the end of the run
    usd_so_far: float | None
    usd_per_day: float | None
    note: str

    @property
    def estimated(self) -> bool:
        return self.usd_per_day is not None


@dataclass(frozen=True)
class Changes:
    consequences: tuple[Consequence, ...]
    costs: tuple[LeftoverCost, ...]
    price_basis: str = PRICE_BASIS

    @property
    def usd_so_far(self) -> float:
        return sum(c.usd_so_far or 0.0 for c in self.costs)

    @property
    def usd_per_day(self) -> float:
        return sum(c.usd_per_day or 0.0 for c in self.costs)

    @property
    def priced(self) -> tuple[LeftoverCost, ...]:
        return tuple(c for c in self.costs if c.estimated)


def what_changed(events: Sequence[Event], footprint: Iterable[Resource], end_s: float) -> Changes:
    resources = tuple(footprint)
    owners = key_owners(events, resources)
    acts = stopping_acts(events, owners)
    consequences = [*_refusals(events, owners, acts), *_cut_short(events, resources)]
    consequences.sort(key=lambda c: c.t)
    types = _instance_types(events)
    costs = tuple(_cost(r, types.get(r.id), end_s) for r in resources if r.left_behind)
    return Changes(tuple(consequences), costs)


# ── whose key is whose ───────────────────────────────────────────────────────────────────


def key_owners(events: Sequence[Event], footprint: Sequence[Resource]) -> dict[str, str]:
    owners: dict[str, str] = {}
    for event in events:
        if event.get("kind") == "world.seeded":
            for user in event.get("users") or []:
                for key in user.get("keys") or []:
                    if key.get("access_key_id"):
                        owners[str(key["access_key_id"])] = str(user.get("name") or "")
        elif event.get("kind") == "run.started" and event.get("leaked_access_key_id"):
            owners.setdefault(str(event["leaked_access_key_id"]), str(event.get("leaked_user")))
    for resource in footprint:
        if resource.kind == "access-key" and resource.owner:
            owners[resource.id] = resource.owner
    return owners


def _describe_key(key_id: str, owners: dict[str, str]) -> str:
    owner = owners.get(key_id)
    return f"{owner}'s key {key_id}" if owner else f"key {key_id}"


# ── what stopped a key or a user ─────────────────────────────────────────────────────────


def stopping_acts(events: Sequence[Event], owners: dict[str, str]) -> dict[str, Act]:
    """For each access key, the first act that made it stop working: the team's
    deactivation or deletion of the key, or of its user."""
    first: dict[str, Act] = {}
    keys_of: dict[str, list[str]] = {}
    for key_id, owner in owners.items():
        keys_of.setdefault(owner, []).append(key_id)
    for event in api_calls(events, "responder"):
        if not succeeded(event):
            continue
        call = read_call(event)
        name = f"{event.get('service')}:{event.get('action')}"
        t, seq = float(event["t"]), int(event.get("seq", 0))
        key_id = str(call.params.get("AccessKeyId") or "")
        if call.action == "UpdateAccessKey" and call.params.get("Status") == "Inactive" and key_id:
            what = f"deactivated {_describe_key(key_id, owners)}"
            first.setdefault(key_id, Act(t, seq, name, what, "team"))
        elif call.action == "DeleteAccessKey" and key_id:
            what = f"deleted {_describe_key(key_id, owners)}"
            first.setdefault(key_id, Act(t, seq, name, what, "team"))
        elif call.action == "DeleteUser":
            user = str(call.params.get("UserName") or "")
            for owned in keys_of.get(user, []):
                first.setdefault(owned, Act(t, seq, name, f"deleted user {user}", "team"))
    return first


def _quarantine(events: Sequence[Event]) -> Act | None:
    for event in events:
        if event.get("kind") == "inject.delivered" and event.get("type") == "quarantine":
            return Act(
                float(event["t"]),
                int(event.get("seq", 0)),
                "quarantine policy",
                "attached its quarantine policy to the leaked key's user",
                "AWS",
            )
    return None


def _refusals(
    events: Sequence[Event], owners: dict[str, str], acts: dict[str, Act]
) -> list[Consequence]:
    """Attacker techniques that failed, each with the act behind each kind of refusal."""
    found: list[Consequence] = []
    quarantine = _quarantine(events)
    pending: list[Event] = []
    for event in events:
        kind = event.get("kind")
        if kind == "api.call" and event.get("actor") == "attacker":
            pending.append(event)
            continue
        if kind != "attacker.technique":
            continue
        calls, pending = pending, []
        if event.get("status") == "succeeded":
            continue
        technique = str(event.get("technique", "?"))
        seen: set[tuple[str, int]] = set()
        for call in calls:
            code = str(call.get("error_code") or "")
            key_id = str(call.get("access_key_id") or "")
            cause: Act | None = None
            if code in KEY_REFUSED:
                act = acts.get(key_id)
                cause = act if act is not None and act.seq < int(call.get("seq", 0)) else None
            elif code in POLICY_REFUSED:
                cause = quarantine if quarantine and quarantine.t <= float(call["t"]) else None
            else:
                continue
            identity = (cause.action if cause else code, cause.seq if cause else -1)
            if identity in seen:
                continue
            seen.add(identity)
            action = f"{call.get('service')}:{call.get('action')}"
            found.append(
                Consequence(
                    technique=technique,
                    t=float(call["t"]),
                    effect=(
                        f"{action} refused with {code}, signed with {_describe_key(key_id, owners)}"
                    ),
                    cause=cause,
                )
            )
    return found


def _cut_short(events: Sequence[Event], footprint: Sequence[Resource]) -> list[Consequence]:
    """Instances the attacker launched and the team terminated: one line per terminating
    call, with how long they ran."""
    creators = _creating_techniques(events)
    groups: dict[tuple[float, str], list[Resource]] = {}
    for resource in footprint:
        stopped_by_team = resource.removed_at_s is not None and resource.removed_by == "responder"
        if resource.kind == "instance" and stopped_by_team:
            key = (resource.removed_at_s or 0.0, resource.region or "")
            groups.setdefault(key, []).append(resource)
    found = []
    for (t, region), stopped in sorted(groups.items()):
        longest = max(t - r.created_at_s for r in stopped)
        technique = creators.get(stopped[0].id, "the attacker's instances")
        found.append(
            Consequence(
                technique=technique,
                t=t,
                effect=(
                    f"{len(stopped)} instance(s) in {region} stopped after running "
                    f"{minutes(longest)}"
                ),
                cause=Act(t, 0, "ec2:TerminateInstances", f"terminated them in {region}", "team"),
            )
        )
    return found


def _creating_techniques(events: Sequence[Event]) -> dict[str, str]:
    creators: dict[str, str] = {}
    for event in events:
        if event.get("kind") == "attacker.technique":
            for item in event.get("created") or []:
                if isinstance(item, dict) and item.get("id"):
                    creators.setdefault(str(item["id"]), str(event.get("technique", "")))
    return creators


# ── what is left, and what it costs ──────────────────────────────────────────────────────


def _instance_types(events: Sequence[Event]) -> dict[str, str]:
    """Each attacker instance's type, from the RunInstances call that launched it."""
    types: dict[str, str] = {}
    for event in api_calls(events, "attacker"):
        if event.get("action") != "RunInstances" or not succeeded(event):
            continue
        call = read_call(event)
        instance_type = str(call.params.get("InstanceType") or "")
        for instance_id in call.strings("InstanceIds", "InstanceId"):
            if instance_type:
                types[instance_id] = instance_type
    return types


def _cost(resource: Resource, instance_type: str | None, end_s: float) -> LeftoverCost:
    hours = max(0.0, end_s - resource.created_at_s) / 3600
    if resource.kind != "instance":
        note = {
            "access-key": (
                "no hourly cost; deactivated, but one call from being live again"
                if resource.disabled_at_s is not None
                else "no hourly cost; a working way back into the account"
            ),
            "user": "no hourly cost; a backdoor identity until deleted",
            "login-profile": "no hourly cost; a console password the attacker knows",
            "role": "no hourly cost; a way back in for whoever it trusts",
            "policy": "no hourly cost; grants whoever it is attached to",
            "function": "billed per call; runs whenever it is invoked",
        }.get(resource.kind, "no hourly cost")
        return LeftoverCost(resource, None, hours, None, None, note)
    price = hourly_price(instance_type) if instance_type else None
    if price is None:
        kind = instance_type or "unknown type"
        return LeftoverCost(resource, instance_type, hours, None, None, f"{kind}: no price known")
    return LeftoverCost(
        resource,
        instance_type,
        hours,
        round(price * hours, 2),
        round(price * 24, 2),
        f"{instance_type} at about ${price:,.2f} an hour",
    )
