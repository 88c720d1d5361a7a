"""What the reports read out of a run's journal, beyond the score.

The score says how the team did; the journal says what happened. This module owns the few
facts the reports need from it: who ran the run and when (`RunInfo`), when the run ended,
the workload's outage spans, a summary of the API calls one actor made, and the attacker's
footprint — every resource the attacker created, and whether anybody removed it before the
end (`attacker_footprint`, `attacker_leftovers`).

Everything here is a pure function of the events (dicts as docs/journal.md describes them).
An `api.call` is read through the scorer's own reading of one (`ApiCall`), so the report and
the score never disagree about what a call asked for or whether it worked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, get_args

from gameday.journal import Event
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score
from gameday.scoring.state import ApiCall

ResourceKind = Literal[
    "user", "access-key", "login-profile", "role", "policy", "instance", "function"
]
RESOURCE_KINDS: tuple[ResourceKind, ...] = get_args(ResourceKind)

# ── the run itself ────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class RunInfo:
    """Who ran the run and against what, as `run.started` recorded it."""

    scenario: str
    team: str
    t0: datetime | None = None  # T0 on the run clock: the scenario's own (fictional) date
    played: datetime | None = None  # when the exercise was played: the wall clock at its start
    seed: int | None = None
    clock: str = ""
    responder: str = ""
    account_id: str = ""
    leaked_access_key_id: str = ""
    leaked_user: str = ""
    public_url: str = ""
    repository: str = ""


def run_info(events: Sequence[Event], scenario: Scenario, score: Score) -> RunInfo:
    started = next((e for e in events if e.get("kind") == "run.started"), None)
    if started is None:
        return RunInfo(scenario=scenario.id, team=score.team)
    seed = started.get("seed")
    return RunInfo(
        scenario=str(started.get("scenario") or scenario.id),
        team=str(started.get("team") or score.team),
        t0=parse_time(started.get("t0")) or parse_time(started.get("time")),
        played=parse_time(started.get("wall")),
        seed=seed if isinstance(seed, int) else None,
        clock=str(started.get("clock") or ""),
        responder=str(started.get("responder") or ""),
        account_id=str(started.get("account_id") or scenario.account.id),
        leaked_access_key_id=str(started.get("leaked_access_key_id") or ""),
        leaked_user=str(started.get("leaked_user") or scenario.leak.user),
        public_url=str(started.get("public_url") or ""),
        repository=str(started.get("repository") or ""),
    )


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 time as the journal writes it (`…Z`), or None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_end_s(events: Sequence[Event], scenario: Scenario, score: Score) -> float:
    """When the run ended: the score's word, else `run.ended`, else the last event, else the
    scenario's planned duration (a run still going has not ended; its report shows so far)."""
    if score.ended_at_s is not None:
        return float(score.ended_at_s)
    ended = [float(e["t"]) for e in events if e.get("kind") == "run.ended"]
    if ended:
        return ended[-1]
    last = max((float(e.get("t", 0.0)) for e in events), default=0.0)
    return last if last > 0 else float(scenario.duration)


def detection_s(score: Score) -> float | None:
    """When the responders were first told (the first customer notice), as the score found it.

    Every time the score reports (steps met, penalties, metrics) counts from this moment, or
    from T0 when there was none; `origin_s` is that base.
    """
    return None if score.detected_at_s is None else float(score.detected_at_s)


def origin_s(score: Score) -> float:
    return detection_s(score) or 0.0


# ── the workload ──────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def outage_spans(events: Iterable[Event], end_s: float) -> list[Span]:
    """Spans during which the workload's probes failed: from the first failing probe to the
    next one that succeeded (or to the end of the run, when none did)."""
    spans: list[Span] = []
    started: float | None = None
    for event in events:
        if event.get("kind") != "workload.probe":
            continue
        t = float(event["t"])
        if not event.get("ok") and started is None:
            started = t
        elif event.get("ok") and started is not None:
            spans.append(Span(started, t))
            started = None
    if started is not None:
        spans.append(Span(started, max(started, end_s)))
    return spans


# ── API calls ─────────────────────────────────────────────────────────────────────────────


def read_call(event: Event) -> ApiCall:
    """An `api.call` event read the way the scorer reads it (parameters, result, outcome)."""
    return ApiCall.from_event(event)


def succeeded(event: Event) -> bool:
    """An `api.call` that AWS (the mock) answered with success."""
    return read_call(event).succeeded and not event.get("error_code")


def api_calls(events: Iterable[Event], actor: str | None = None) -> Iterator[Event]:
    for event in events:
        if event.get("kind") == "api.call" and (actor is None or event.get("actor") == actor):
            yield event


def action_name(event: Event) -> str:
    """`service:Action`, as IAM policies and the scenario format spell an API call."""
    return f"{event.get('service', '?')}:{event.get('action', '?')}"


@dataclass(frozen=True)
class CallSummary:
    """All calls of one action by one actor."""

    action: str
    count: int
    succeeded: int
    first_s: float
    last_s: float
    regions: tuple[str, ...] = ()
    error_codes: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return self.count - self.succeeded


def summarise_calls(events: Iterable[Event], actor: str) -> list[CallSummary]:
    """One line per action the actor called, in the order of first use."""
    grouped: dict[str, list[Event]] = {}
    for event in api_calls(events, actor):
        grouped.setdefault(action_name(event), []).append(event)
    summaries = []
    for action, calls in grouped.items():
        regions = sorted({str(c["region"]) for c in calls if c.get("region")})
        codes = sorted({str(c["error_code"]) for c in calls if c.get("error_code")})
        summaries.append(
            CallSummary(
                action=action,
                count=len(calls),
                succeeded=sum(1 for c in calls if succeeded(c)),
                first_s=float(calls[0]["t"]),
                last_s=float(calls[-1]["t"]),
                regions=tuple(regions),
                error_codes=tuple(codes),
            )
        )
    return summaries


# ── the attacker's footprint ──────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Resource:
    """One thing the attacker created, and what became of it by the end of the run."""

    kind: ResourceKind
    id: str
    created_at_s: float
    region: str | None = None  # None for IAM, which is global
    owner: str | None = None  # the user an access key or login profile belongs to
    removed_at_s: float | None = None
    removed_by: str | None = None
    disabled_at_s: float | None = None  # an access key made Inactive (and left so)

    @property
    def left_behind(self) -> bool:
        return self.removed_at_s is None

    @property
    def where(self) -> str:
        if self.region:
            return self.region
        return "IAM (global)"

    def describe(self) -> str:
        owner = f" of {self.owner}" if self.owner and self.kind != "login-profile" else ""
        region = f" in {self.region}" if self.region else ""
        return f"{self.kind} {self.id}{owner}{region}"


@dataclass
class _Tracked:
    kind: ResourceKind
    id: str
    created_at_s: float
    region: str | None
    owner: str | None
    removed_at_s: float | None = None
    removed_by: str | None = None
    disabled_at_s: float | None = None

    def freeze(self) -> Resource:
        return Resource(
            kind=self.kind,
            id=self.id,
            created_at_s=self.created_at_s,
            region=self.region,
            owner=self.owner,
            removed_at_s=self.removed_at_s,
            removed_by=self.removed_by,
            disabled_at_s=self.disabled_at_s,
        )


@dataclass
class _Footprint:
    resources: list[_Tracked] = field(default_factory=list)

    def add(
        self, kind: ResourceKind, id: str, t: float, region: str | None, owner: str | None
    ) -> None:
        if not id:
            return
        if self._live(kind, id, region) is not None:
            return  # the same resource seen twice (the call and the technique's summary)
        self.resources.append(_Tracked(kind, id, t, region, owner))

    def remove(self, kind: ResourceKind, id: str, region: str | None, t: float, by: str) -> None:
        found = self._live(kind, id, region)
        if found is not None:
            found.removed_at_s, found.removed_by = t, by
        if kind == "user":
            # IAM refuses DeleteUser while the user still has keys or a login profile, so a
            # user that is gone took them with it.
            for owned in self.resources:
                if owned.owner == id and owned.removed_at_s is None:
                    owned.removed_at_s, owned.removed_by = t, by

    def disable(self, id: str, t: float | None) -> None:
        found = self._live("access-key", id, None)
        if found is not None:
            found.disabled_at_s = t

    def _live(self, kind: ResourceKind, id: str, region: str | None) -> _Tracked | None:
        for tracked in reversed(self.resources):
            if (
                tracked.kind == kind
                and tracked.id == id
                and tracked.removed_at_s is None
                and (region is None or tracked.region is None or tracked.region == region)
            ):
                return tracked
        return None


def attacker_footprint(events: Iterable[Event]) -> list[Resource]:
    """Every resource the attacker created, in order of creation, each with when (and by
    whom) it was removed — from the attacker's successful API calls and the `created`
    summaries of `attacker.technique` events, against every actor's successful deletions."""
    footprint = _Footprint()
    for event in events:
        kind = event.get("kind")
        t = float(event.get("t", 0.0))
        if kind == "attacker.technique":
            for resource_kind, id, region, owner in _created_by_technique(event.get("created")):
                footprint.add(resource_kind, id, t, region, owner)
        elif kind == "api.call" and succeeded(event):
            if event.get("actor") == "attacker":
                for resource_kind, id, region, owner in _created_by_call(event):
                    footprint.add(resource_kind, id, t, region, owner)
            _apply_removals(footprint, event, t)
    return [tracked.freeze() for tracked in footprint.resources]


def technique_created(event: Event) -> list[str]:
    """What an `attacker.technique` event says it created, one description each."""
    return [
        Resource(kind, id, float(event.get("t", 0.0)), region, owner).describe()
        for kind, id, region, owner in _created_by_technique(event.get("created"))
        if id
    ]


def attacker_leftovers(events: Iterable[Event]) -> list[Resource]:
    """What the attacker created that was still there when the run ended."""
    return [r for r in attacker_footprint(events) if r.left_behind]


_Created = tuple[ResourceKind, str, str | None, str | None]


def _created_by_call(event: Event) -> Iterator[_Created]:
    call = read_call(event)
    region = call.region or None

    def name(key: str) -> str:
        return str(call.result.get(key) or call.params.get(key) or "")

    if call.action == "CreateUser":
        yield "user", name("UserName"), None, None
    elif call.action == "CreateAccessKey":
        # Without UserName, IAM creates the key for the caller itself.
        owner = name("UserName") or call.user
        yield "access-key", str(call.result.get("AccessKeyId") or ""), None, owner
    elif call.action == "CreateLoginProfile":
        user = name("UserName") or call.user or ""
        yield "login-profile", user, None, user
    elif call.action == "CreateRole":
        yield "role", name("RoleName"), None, None
    elif call.action == "CreatePolicy":
        yield "policy", name("PolicyArn") or name("PolicyName"), None, None
    elif call.action in ("RunInstances", "RequestSpotInstances"):
        for instance_id in call.strings("InstanceIds", "InstanceId"):
            yield "instance", instance_id, region, None
    elif call.action == "CreateFunction":
        yield "function", name("FunctionName"), region, None


def _apply_removals(footprint: _Footprint, event: Event, t: float) -> None:
    call = read_call(event)
    region = call.region or None
    by = call.actor or "unknown"

    def param(key: str, default: str = "") -> str:
        return str(call.params.get(key) or default)

    if call.action == "DeleteUser":
        footprint.remove("user", param("UserName"), None, t, by)
    elif call.action == "DeleteAccessKey":
        footprint.remove("access-key", param("AccessKeyId"), None, t, by)
    elif call.action == "UpdateAccessKey":
        footprint.disable(param("AccessKeyId"), t if param("Status") == "Inactive" else None)
    elif call.action == "DeleteLoginProfile":
        footprint.remove("login-profile", param("UserName", call.user or ""), None, t, by)
    elif call.action == "DeleteRole":
        footprint.remove("role", param("RoleName"), None, t, by)
    elif call.action == "DeletePolicy":
        footprint.remove("policy", param("PolicyArn"), None, t, by)
    elif call.action == "TerminateInstances":
        for instance_id in call.strings("InstanceIds", "InstanceId"):
            footprint.remove("instance", instance_id, region, t, by)
    elif call.action == "DeleteFunction":
        footprint.remove("function", param("FunctionName"), region, t, by)


def _created_by_technique(created: object) -> Iterator[_Created]:
    """A technique's `created` list: `{kind, id, region ("global" for IAM), parent}` each."""
    for item in created if isinstance(created, list) else []:
        if not isinstance(item, Mapping) or item.get("kind") not in RESOURCE_KINDS:
            continue
        kind: ResourceKind = item["kind"]
        region = str(item.get("region") or "global")
        owner = str(item.get("parent") or "") or None
        if kind == "login-profile":
            owner = owner or str(item.get("id") or "")
        yield kind, str(item.get("id") or ""), None if region == "global" else region, owner
