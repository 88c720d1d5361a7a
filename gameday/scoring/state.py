"""The state the checks read: the account, the repository and the run, projected from the journal.

The projection starts from the scenario (its estate's policies, roles and trails) and the
`world.seeded` event (users and their access keys with ids, status and creation time,
instances, secrets, the principals of the run), then applies each journal event in order:
every successful API call that changes something (IAM users, keys, login profiles, policies
and roles; EC2 instances and Spot requests in any region; Lambda functions; the key held in a
Secrets Manager secret; the support case; CloudTrail logging), the code host's actions, the
workload's probes, the facilitator's marks, the AWS notices and what the attacker's
techniques left behind. A resource is the attacker's when the call that created it was
journaled with `actor: attacker`.

Every change remembers who made it (`by`): `team` for a call the responders made with a key
the team holds (`actor: responder` and `key_actor: responder`, a key a team call created
included) and for the code host's actions, `facilitator` for marks, `attacker`, `aws` for the
framework's acts on AWS's behalf, `workload`; a responder's call signed with anyone else's key
is `team with the attacker's key` (or the workload's …) — the team's hands, never its credit.
Destruction by the team's hands of what existed before the push is kept as `Damage`, the raw
material of the collateral-damage penalty (`gameday.scoring.collateral`).

Detection is the first notice a customer receives (`CUSTOMER_CHANNELS`): AWS's quarantine
shows only inside the account, and the facilitator's console cues reach nobody.

`State.apply(event)` returns the topics the event touched (see `gameday.scoring.checks.registry`),
so only the checks that read them are evaluated again. Pure Python, no I/O: the same events
always give the same state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from gameday.scenario.model import QuarantineInject, Scenario
from gameday.scenario.timing import NOTICE_TYPES
from gameday.world.cloudtrail import (
    HISTORY,
    UNAUTHENTICATED_ERRORS,
    is_data_event,
    trail_region,
)
from gameday.world.decoys import leaked_key_ref

Moment = tuple[float, int]  # (t, seq): events at the same virtual instant keep their order
Event = Mapping[str, Any]

ALL_TOPICS = "*"
# Events about the run's own life, not the incident's: they take no place in the evidence.
RUN_BOOKKEEPING = frozenset({"run.recovered"})
# The code host's other buttons: each says where the key is after it (`State._key_reach`).
CODE_HOST_ACTIONS = frozenset(
    {"repo.branch-deleted", "repo.tag-deleted", "repo.release-deleted", "repo.commit-purged"}
)
AWS_MANAGED = "arn:aws:iam::aws:policy/"
QUARANTINE_BY_VERSION = {
    "V1": AWS_MANAGED + "AWSCompromisedKeyQuarantine",
    "V2": AWS_MANAGED + "AWSCompromisedKeyQuarantineV2",
    "V3": AWS_MANAGED + "AWSCompromisedKeyQuarantineV3",
}
QUARANTINE_ARNS = frozenset(QUARANTINE_BY_VERSION.values())
QUARANTINE_INLINE = "AWSExposedCredentialPolicy_DO_NOT_REMOVE"
DENY_ALL_MANAGED = frozenset({AWS_MANAGED + "AWSDenyAll"})

_READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "Select", "Batch")
_SECRET_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")

# The notices a customer receives; the first one delivered is detection (the quarantine is
# visible only in IAM, the console cues only to the facilitator).
CUSTOMER_CHANNELS = NOTICE_TYPES  # `gameday validate` times deadlines from the same notices
TEAM = "team"
FACILITATOR = "facilitator"
CREDITED = frozenset({TEAM, FACILITATOR})  # the doers whose acts earn a step
# Where a lookup may look when the attacker left no trace at all: IAM's and STS's home, and
# the company's own regions.
GLOBAL_EVENTS_REGION = "us-east-1"
_SLACK_S = 1.0  # CloudTrail's times are whole seconds: a window may miss by a rounding
_NOW_SLACK_S = 60.0  # "up to now", typed by a person, may lag the call by a little


def doer(actor: str, key_actor: str | None) -> str:
    """Who made a call, for credit: the team only with a key the team holds."""
    if actor == "responder":
        if key_actor == "responder":
            return TEAM
        owner = {"attacker": "the attacker's", "workload": "the workload's"}.get(
            str(key_actor), "an unknown"
        )
        return f"{TEAM} with {owner} key"
    if actor == "framework":
        return "aws"
    return actor or "unknown"


def is_team(by: str | None) -> bool:
    """The team's hands, whatever key it signed with."""
    return by is not None and by.startswith(TEAM)


# ── what the state is made of ────────────────────────────────────────────────────────────


@dataclass
class AccessKey:
    access_key_id: str
    user: str
    status: str = "Active"
    created_t: float = 0.0
    ref: str | None = None
    created_by: str | None = None  # None: it existed before the push
    deleted_t: float | None = None
    deleted_by: str | None = None
    active_at_start: bool = False  # active when the world was seeded
    disabled: Moment | None = None  # when it last stopped working, and by whom
    disabled_by: str | None = None

    @property
    def exists(self) -> bool:
        return self.deleted_t is None

    @property
    def active(self) -> bool:
        return self.exists and self.status == "Active"

    def label(self) -> str:
        return f"{self.access_key_id} ({self.ref})" if self.ref else self.access_key_id


@dataclass(frozen=True)
class Attachment:
    """A policy on a user or role: a managed policy's ARN, or an inline policy's name."""

    kind: Literal["managed", "inline"]
    name: str
    by: str | None = None
    document: Any = None  # the inline policy's document, when known

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass
class Principal:
    """An IAM user or role, with its policies now and every policy it ever had."""

    name: str
    created_by: str | None = None
    deleted_t: float | None = None
    deleted_by: str | None = None
    policies: dict[str, Attachment] = field(default_factory=dict)
    history: dict[str, Attachment] = field(default_factory=dict)
    removed_by: dict[str, str] = field(default_factory=dict)  # who took each policy off last
    login_profile: bool = False
    login_profile_by: str | None = None
    attacker_login_profile_removed_by: str | None = None  # who removed one the attacker made

    @property
    def exists(self) -> bool:
        return self.deleted_t is None

    def attach(self, attachment: Attachment) -> None:
        self.policies[attachment.key] = attachment
        self.history[attachment.key] = attachment

    def detach(self, key: str, by: str) -> Attachment | None:
        removed = self.policies.pop(key, None)
        if removed is not None:
            self.removed_by[key] = by
        return removed


@dataclass
class Session:
    """Temporary credentials someone minted: a role's (`sts:AssumeRole`) or a user's own
    (`sts:GetSessionToken`, `role` empty); when, until when, by whom."""

    access_key_id: str
    role: str  # the role's name; "" for a user's session
    issued_t: float
    issued_epoch: float | None  # seconds since 1970, the session's aws:TokenIssueTime
    expires_epoch: float | None
    by: str
    user: str | None = None  # the user whose session it is (GetSessionToken)


@dataclass
class ManagedPolicy:
    arn: str
    document: Any = None
    created_by: str | None = None
    deleted_t: float | None = None
    deleted_by: str | None = None


@dataclass
class Instance:
    """An EC2 instance, or a Spot request (which, left in place, launches instances)."""

    id: str
    region: str
    kind: Literal["instance", "spot-request"] = "instance"
    created_by: str | None = None
    created_t: float = 0.0
    gone_t: float | None = None
    gone_by: str | None = None


@dataclass
class Function:
    name: str
    region: str
    created_by: str | None = None
    deleted_t: float | None = None
    deleted_by: str | None = None


@dataclass
class Secret:
    name: str
    region: str
    seeded_key_id: str | None = None
    key_id: str | None = None
    key_set: Moment | None = None  # when the key it holds now was put in, and by whom
    key_set_by: str | None = None
    confirmed: Moment | None = None  # a workload probe worked with that key since
    deleted_t: float | None = None


@dataclass
class Bucket:
    name: str
    created_by: str | None = None
    deleted_t: float | None = None


@dataclass
class Calls:
    """The team's successful calls of one action: the first, and per region the first and
    the last; and the first and last that covered the leaked key (for
    `cloudtrail:LookupEvents`)."""

    first: Moment
    regions: dict[str, Moment] = field(default_factory=dict)
    last: dict[str, Moment] = field(default_factory=dict)
    covering: Moment | None = None
    covering_last: Moment | None = None  # the latest lookup that covered it


@dataclass
class Repository:
    private: bool = False
    deleted: bool = False
    key_in_history: bool = True
    private_by: str | None = None
    deleted_by: str | None = None
    pushed_by: str | None = None
    # Where the code host says the key is after its last change (`key_served`, `key_places`,
    # `key_forks` of every `repo.*` event): until it reports, where the key leaked.
    key_served: bool = True
    key_places: tuple[str, ...] = ()
    key_forks: tuple[str, ...] = ()
    served_by: str | None = None  # whose change the host reported last


@dataclass(frozen=True)
class Damage:
    """Something that existed before the push, destroyed or disabled by the team's hands."""

    kind: Literal["user", "role", "login-profile", "access-key", "instance", "bucket", "secret"]
    name: str
    t: float
    by: str
    detail: str
    user: str | None = None  # the owner of an access key or a console password


@dataclass
class Workload:
    last_ok: bool | None = None
    failing_since: float | None = None
    outage_s: float = 0.0

    def outage_until(self, t: float) -> float:
        """Seconds the probes have failed, counting an outage still going on at `t`."""
        ongoing = max(0.0, t - self.failing_since) if self.failing_since is not None else 0.0
        return self.outage_s + ongoing


@dataclass(frozen=True)
class ApiCall:
    """An `api.call` event as the handlers read it."""

    actor: str
    key_actor: str | None
    access_key_id: str
    user: str | None
    service: str
    action: str
    region: str
    params: Mapping[str, Any]
    result: Mapping[str, Any]
    status: int
    read_only: bool

    @classmethod
    def from_event(cls, event: Event, actor: str | None = None) -> ApiCall:
        action = str(event.get("action", ""))
        read_only = event.get("read_only")
        principal = event.get("principal") or {}
        key_actor = event.get("key_actor")
        return cls(
            actor=actor if actor is not None else str(event.get("actor", "")),
            key_actor=None if key_actor is None else str(key_actor),
            access_key_id=str(event.get("access_key_id") or ""),
            user=event.get("user") or principal.get("user_name"),
            service=str(event.get("service", "")).lower(),
            action=action,
            region=str(event.get("region") or "us-east-1"),
            params=event.get("params") or {},
            result=event.get("result") or _result_of_response(event.get("response")),
            status=int(event.get("status") or 200),
            read_only=action.startswith(_READ_PREFIXES) if read_only is None else bool(read_only),
        )

    @property
    def succeeded(self) -> bool:
        return self.status < 400

    @property
    def by(self) -> str:
        return doer(self.actor, self.key_actor)

    def get(self, name: str) -> Any:
        """A parameter as the caller gave it, else as the result reports it."""
        value = self.params.get(name)
        return self.result.get(name) if value is None else value

    def strings(self, name: str, wire: str) -> list[str]:
        """A list parameter, by botocore name (`InstanceIds`) or as on the wire (`InstanceId.1`)."""
        found: list[str] = []
        for source in (self.params, self.result):
            value = source.get(name)
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, list):
                found.extend(str(v) for v in value)
            prefix = wire + "."
            found.extend(str(v) for k, v in source.items() if k.startswith(prefix))
        return list(dict.fromkeys(found))


def _result_of_response(response: Any) -> dict[str, Any]:
    """`result` fields from the digest of a response some gateways journal instead."""
    if not isinstance(response, Mapping):
        return {}
    result: dict[str, Any] = {}
    key = response.get("accessKey")
    if isinstance(key, Mapping):
        result["AccessKeyId"] = key.get("accessKeyId")
        if key.get("userName"):
            result["UserName"] = key["userName"]
    instances = response.get("instancesSet")
    if isinstance(instances, Mapping):
        result["InstanceIds"] = [
            i["instanceId"] for i in _as_list(instances.get("items")) if "instanceId" in i
        ]
    return result


def parse_document(document: Any) -> Any:
    """A policy document as a dict: the API carries it as a JSON string."""
    if isinstance(document, str):
        try:
            return json.loads(document)
        except ValueError:
            return None
    return document


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def denies_everything(document: Any) -> bool:
    """True for a document with an unconditional `Deny` of `*` on `*`."""
    document = parse_document(document)
    if not isinstance(document, dict):
        return False
    for statement in _as_list(document.get("Statement")):
        if (
            isinstance(statement, dict)
            and statement.get("Effect") == "Deny"
            and "*" in _as_list(statement.get("Action"))
            and "*" in _as_list(statement.get("Resource"))
            and not statement.get("Condition")
        ):
            return True
    return False


def last_segment(value: str, marker: str) -> str:
    """The name at the end of an ARN (`…:function:NAME`, `…:trail/NAME`), or the value itself."""
    if value.startswith("arn:") and marker in value:
        return value.split(marker, 1)[1].split(":", 1)[0]
    return value


# ── the state ────────────────────────────────────────────────────────────────────────────


class State:
    """Everything the checks read, as of the last event applied."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.account_id = scenario.account.id
        self.team = ""
        self.t = 0.0
        self.seq = 0
        self._bookkeeping = 0  # run.recovered events so far
        self.t0_epoch: float | None = None  # T0 on the run clock, in seconds since 1970
        self.leaked_ref = leaked_key_ref(scenario)
        self.leaked_user = scenario.leak.user
        self.leaked_key_id: str | None = None
        self.key_refs: dict[str, str] = {}
        self.principals: dict[str, set[str]] = {}
        self.users: dict[str, Principal] = {}
        self.roles: dict[str, Principal] = {}
        self.keys: dict[str, AccessKey] = {}
        self.policies: dict[str, ManagedPolicy] = {}
        self.instances: dict[str, Instance] = {}
        self.functions: dict[tuple[str, str], Function] = {}
        self.secrets: dict[str, Secret] = {}
        self.buckets: dict[str, Bucket] = {}
        self.trails: dict[str, bool] = {}
        self.trail_by: dict[str, str] = {}  # who last started or stopped a trail
        self.trails_deleted: set[str] = set()
        self.responder_calls: dict[str, Calls] = {}
        # The attacker's use of the leaked key as CloudTrail records it: per region of the
        # event history, the first and last event (seconds since 1970).
        self.attacker_trail: dict[str, tuple[float, float]] = {}
        # Per region, the attacker's last launch of an instance, Spot request or function.
        self.attacker_launched: dict[str, Moment] = {}
        self.case_replied: Moment | None = None  # the team's first reply once contained
        self.case_reply_too_early: Moment | None = None  # one while the leaked key worked
        self.case_resolved: Moment | None = None
        self.repository = Repository()
        self.workload = Workload()
        self.marks: dict[str, float] = {}  # the facilitator's marks, by step
        self.seeded: Moment | None = None  # when the world was seeded (T0)
        self.detected: Moment | None = None
        self.detected_t: float | None = None
        self.ended_t: float | None = None
        self.first_action_t: float | None = None  # the responders' first act, at any time
        self.first_response_t: float | None = None  # their first act after AWS's first notice
        self.leaked_key_used_by_responder: Moment | None = None
        self.quarantine_removed_early: Moment | None = None
        self.damage: list[Damage] = []
        self.sessions: dict[str, Session] = {}  # temporary credentials, by access key id
        self.deleted_while_held: set[str] = set()  # keys deleted while a secret held them
        self.step_since: dict[str, Moment | None] = {}
        self._seed_from_scenario()

    @property
    def moment(self) -> Moment:
        return (self.t, self.seq)

    # ── lookups the checks share ──

    def key_id(self, ref: str) -> str | None:
        """The access key id of a key reference: 'leaked' or an estate key's id."""
        return self.leaked_key_id if ref == "leaked" else self.key_refs.get(ref)

    def keys_of(self, user: str) -> list[AccessKey]:
        return [key for key in self.keys.values() if key.user == user]

    def principal_keys(self, *roles: str) -> set[str]:
        return set().union(*(self.principals.get(role, set()) for role in roles))

    def leaked_key(self) -> AccessKey | None:
        return self.keys.get(self.leaked_key_id) if self.leaked_key_id else None

    def leaked_key_works(self) -> bool:
        key = self.leaked_key()
        return key is not None and key.active

    def is_new_team_key(self, key: AccessKey, user: str) -> bool:
        """A key of `user` the team created after the push, and still active."""
        return key.user == user and key.created_t > 0 and key.created_by == TEAM and key.active

    def replacements(self, user: str) -> list[AccessKey]:
        return [key for key in self.keys_of(user) if self.is_new_team_key(key, user)]

    def secrets_holding(self, key_id: str) -> list[Secret]:
        """The secrets seeded with this key: where it was in use."""
        return [s for s in self.secrets.values() if s.seeded_key_id == key_id]

    def secret_rotation(self, secret: Secret) -> tuple[bool, str, str | None]:
        """Whether a secret now holds a working replacement for the key it was seeded with:
        a new key of the same user, made by the team, active, and (for the workload's secret)
        used by the workload since it was put in. The verdict, why, and who did it."""
        old = self.keys.get(secret.seeded_key_id) if secret.seeded_key_id else None
        if secret.deleted_t is not None:
            return False, f"{secret.name} was deleted", None
        if secret.key_id is None:
            return False, f"{secret.name} holds no access key", None
        if old is not None and secret.key_id == old.access_key_id:
            return False, f"{secret.name} still holds {old.label()}", None
        held = self.keys.get(secret.key_id)
        if held is None:
            return False, f"{secret.name} holds {secret.key_id}, a key IAM does not know", None
        owner = old.user if old is not None else held.user
        if held.user != owner:
            return (
                False,
                f"{secret.name} holds {held.label()} of {held.user}, not a key of {owner}",
                None,
            )
        if not self.is_new_team_key(held, owner):
            if not held.active:
                now = "deleted" if not held.exists else held.status
                return False, f"{secret.name} holds {held.label()}, which is {now}", None
            return (
                False,
                f"{secret.name} holds {held.label()}, which the team did not create after the push",
                None,
            )
        workload = self.scenario.workload
        if workload is not None and workload.secret == secret.name and secret.confirmed is None:
            return (
                False,
                f"{secret.name} holds the new key {held.access_key_id}, but "
                f"{workload.name} has not worked with it yet",
                None,
            )
        return True, f"{secret.name} holds the new key {held.access_key_id}", secret.key_set_by

    # ── seeding ──

    def _policy_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        paths = {p.name: p.path for p in self.scenario.account.estate.policies}
        return f"arn:aws:iam::{self.account_id}:policy{paths.get(name, '/')}{name}"

    def _seed_from_scenario(self) -> None:
        estate = self.scenario.account.estate
        for policy in estate.policies:
            arn = self._policy_arn(policy.name)
            self.policies[arn] = ManagedPolicy(arn, document=policy.document)
        for user in estate.users:
            principal = self._user(user.name)
            principal.login_profile = user.console
            for name in user.policies:
                principal.attach(Attachment("managed", self._policy_arn(name)))
            for name, document in user.inline_policies.items():
                principal.attach(Attachment("inline", name, document=document))
        for role in estate.roles:
            principal = self._role(role.name)
            for name in role.policies:
                principal.attach(Attachment("managed", self._policy_arn(name)))
        for trail in estate.trails:
            self.trails[trail.name] = trail.logging
        for secret in estate.secrets:
            self.secrets[secret.name] = Secret(secret.name, secret.region)
        for bucket in estate.buckets:
            self.buckets[bucket.name] = Bucket(bucket.name)

    def _seed_from_world(self, event: Event) -> None:
        for user in event.get("users") or []:
            principal = self._user(str(user["name"]))
            if "console" in user:
                principal.login_profile = bool(user["console"])
            for key in user.get("keys") or []:
                key_id = str(key["access_key_id"])
                ref = key.get("ref")
                status = str(key.get("status") or "Active")
                self.keys[key_id] = AccessKey(
                    key_id,
                    principal.name,
                    status=status,
                    created_t=float(key.get("created_t") or 0.0),
                    ref=ref,
                    active_at_start=status == "Active",
                )
                if ref:
                    self.key_refs[str(ref)] = key_id
        for instance in event.get("instances") or []:
            instance_id = str(instance["instance_id"])
            self.instances[instance_id] = Instance(instance_id, str(instance.get("region", "")))
        for secret in event.get("secrets") or []:
            held = secret.get("access_key_id") or self.key_refs.get(str(secret.get("key_ref")))
            name = str(secret["name"])
            region = str(secret.get("region") or "us-east-1")
            self.secrets[name] = Secret(name, region, seeded_key_id=held, key_id=held)
        for role, ids in (event.get("principals") or {}).items():
            self.principals[str(role)] = {str(i) for i in _as_list(ids) if i}
        if self.leaked_key_id is None:
            self.leaked_key_id = self.key_refs.get(self.leaked_ref)

    def _user(self, name: str) -> Principal:
        if name not in self.users:
            self.users[name] = Principal(name)
        return self.users[name]

    def _role(self, name: str) -> Principal:
        if name not in self.roles:
            self.roles[name] = Principal(name)
        return self.roles[name]

    # ── applying events ──

    def apply(self, event: Event) -> frozenset[str]:
        """Fold one journal event into the state; the topics it touched."""
        self.t = float(event.get("t", self.t))
        kind = str(event.get("kind", ""))
        if kind in RUN_BOOKKEEPING:
            self._bookkeeping += 1
        # Evidence names events by their place in the run's own story: a recovery's mark
        # does not move the events after it, so a recovered run scores as if never stopped.
        self.seq = int(event.get("seq", self.seq + 1 + self._bookkeeping)) - self._bookkeeping
        topic = f"kind:{kind}"
        if self.t0_epoch is None:
            moment = _epoch(event.get("time"))
            if moment is not None:
                self.t0_epoch = moment - self.t
        if kind == "api.call":
            return self._api_call(event)
        if kind == "run.started":
            self.leaked_key_id = event.get("leaked_access_key_id") or self.leaked_key_id
            self.leaked_user = str(event.get("leaked_user") or self.leaked_user)
            self.account_id = str(event.get("account_id") or self.account_id)
            self.team = str(event.get("team") or self.team)
            self.t0_epoch = _epoch(event.get("t0")) or self.t0_epoch
            return frozenset({ALL_TOPICS})
        if kind == "world.seeded":
            self._seed_from_world(event)
            self.seeded = self.seeded or self.moment
            return frozenset({ALL_TOPICS})
        if kind == "inject.delivered":
            return self._inject(event)
        if kind == "attacker.technique":
            self._attacker_left(event.get("created") or [])
        elif kind == "workload.probe":
            self._probe(bool(event.get("ok")), event.get("access_key_id"))
        elif kind == "mark":
            # Only the facilitator validates a manual step; a refused mark changes nothing.
            if event.get("by") == FACILITATOR and event.get("status") != "refused":
                self.marks.setdefault(str(event.get("step")), self.t)
        elif kind == "note":
            if event.get("actor") not in ("framework", "attacker"):
                self._responded()
        elif kind in ("repo.private", "repo.deleted", "repo.pushed"):
            self._repository(kind, event)
        elif kind in CODE_HOST_ACTIONS:
            self._key_reach(event)
        elif kind == "run.ended":
            self.ended_t = self.t
        return frozenset({topic})

    def _responded(self) -> None:
        if self.first_action_t is None:
            self.first_action_t = self.t
        if self.first_response_t is None and self.detected_t is not None:
            self.first_response_t = self.t

    def _inject(self, event: Event) -> frozenset[str]:
        if self.detected is None and _reaches_the_customer(event):
            self.detected, self.detected_t = self.moment, self.t
        if event.get("type") != "quarantine" or event.get("status") == "failed":
            return frozenset({"kind:inject.delivered"})
        # The quarantine may be attached behind the gateway's back; the notice says which.
        data = event.get("data") or {}
        spec = next(
            (
                i
                for i in self.scenario.timeline
                if isinstance(i, QuarantineInject) and i.id == event.get("inject")
            ),
            None,
        )
        version = str(data.get("policy") or (spec.policy if spec is not None else "V3"))
        user = self._user(str(data.get("user_name") or self.leaked_user))
        arn = data.get("policy_arn") or QUARANTINE_BY_VERSION.get(version)
        attachment = (
            Attachment("managed", str(arn), by="aws")
            if arn
            else Attachment("inline", QUARANTINE_INLINE, by="aws")
        )
        if attachment.key not in user.policies:
            user.attach(attachment)
        return frozenset({"kind:inject.delivered", "api:iam"})

    def _probe(self, ok: bool, key_id: Any) -> None:
        workload = self.workload
        if ok and workload.failing_since is not None:
            workload.outage_s += self.t - workload.failing_since
            workload.failing_since = None
        elif not ok and workload.failing_since is None:
            workload.failing_since = self.t
        workload.last_ok = ok
        spec = self.scenario.workload
        secret = self.secrets.get(spec.secret) if spec is not None else None
        if (
            ok
            and secret is not None
            and secret.key_set is not None
            and secret.confirmed is None
            and key_id is not None
            and str(key_id) == secret.key_id
        ):
            secret.confirmed = self.moment

    def _repository(self, kind: str, event: Event) -> None:
        by = TEAM if event.get("actor") == "responder" else str(event.get("actor") or "unknown")
        if event.get("actor") == "responder":
            self._responded()
        if kind == "repo.private":
            self.repository.private = True
            self.repository.private_by = self.repository.private_by or by
        elif kind == "repo.deleted":
            self.repository.deleted = True
            self.repository.deleted_by = self.repository.deleted_by or by
        elif "key_in_history" in event:
            self.repository.key_in_history = bool(event["key_in_history"])
            self.repository.pushed_by = by
        self._key_reach(event)

    def _key_reach(self, event: Event) -> None:
        """Where the code host says the key is after the change the event records."""
        repository = self.repository
        served = repository.key_served
        if "key_served" in event:
            repository.key_served = bool(event["key_served"])
            repository.key_places = tuple(str(p) for p in event.get("key_places") or ())
            repository.key_forks = tuple(str(p) for p in event.get("key_forks") or ())
        elif event.get("kind") == "repo.deleted":
            # a journal from before the host reported it: deleting took every place with it
            repository.key_served, repository.key_places = False, ()
        if repository.key_served != served:  # whose change it was, not who came by later
            actor = event.get("actor")
            repository.served_by = TEAM if actor == "responder" else str(actor or "unknown")

    def _attacker_left(self, created: Iterable[Mapping[str, Any]]) -> None:
        """Resources a technique reports, in case the calls that made them are not journaled."""
        for resource in created:
            kind = str(resource.get("kind", ""))
            name = str(resource.get("id", ""))
            region = str(resource.get("region") or "global")
            parent = str(resource.get("parent") or "")
            if kind == "user":
                user = self._user(name)
                user.created_by = user.created_by or "attacker"
            elif kind == "access-key":
                key = self.keys.setdefault(name, AccessKey(name, parent, created_t=self.t))
                key.created_by = key.created_by or "attacker"
            elif kind == "login-profile":
                user = self._user(parent or name)
                if user.login_profile_by is None:
                    user.login_profile, user.login_profile_by = True, "attacker"
            elif kind == "role":
                role = self._role(name)
                role.created_by = role.created_by or "attacker"
            elif kind == "policy":
                policy = self.policies.setdefault(name, ManagedPolicy(name))
                policy.created_by = policy.created_by or "attacker"
            elif kind == "instance":
                instance = self.instances.setdefault(name, Instance(name, region, created_t=self.t))
                instance.created_by = instance.created_by or "attacker"
                self._launch_seen(region, instance.created_t)
            elif kind == "function":
                function = self.functions.setdefault((region, name), Function(name, region))
                function.created_by = function.created_by or "attacker"
                self._launch_seen(region, self.t)

    def _launch_seen(self, region: str, t: float) -> None:
        """The attacker launched something in `region` (at run time `t`, no later than now)."""
        if region == "global":
            return
        moment = (t, self.seq) if t >= self.t else self.moment
        if region not in self.attacker_launched or self.attacker_launched[region] < moment:
            self.attacker_launched[region] = moment

    def _api_call(self, event: Event) -> frozenset[str]:
        # Most calls are reads nobody's state depends on: settle those from the raw event,
        # and build an `ApiCall` only for the calls a handler folds into the state.
        service = str(event.get("service", "")).lower()
        action = str(event.get("action", ""))
        actor = str(event.get("actor", ""))
        key_id = str(event.get("access_key_id") or "")
        minted = self.keys.get(key_id)
        if minted is not None and minted.created_by == "attacker":
            actor = "attacker"  # a key the attacker minted is the attacker's, whoever signs
        leaked = self.leaked_key_id is not None and key_id == self.leaked_key_id
        if actor == "responder":
            self._responded()
            if leaked and self.leaked_key_used_by_responder is None:
                self.leaked_key_used_by_responder = self.moment
        succeeded = int(event.get("status") or 200) < 400
        name = f"{service}:{action}"
        credited = actor == "responder" and event.get("key_actor") == "responder"
        if actor == "attacker" and leaked:
            self._attacker_traced(event, service, action)
        if succeeded:
            if credited:
                self._team_called(name, event)
            handler = _HANDLERS.get(name)
            if handler is not None:
                handler(self, ApiCall.from_event(event, actor))
        read_only = event.get("read_only")
        if read_only is None:
            read_only = action.startswith(_READ_PREFIXES)
        return _call_topics(
            name if succeeded and credited else "",
            leaked and actor == "responder",
            service if succeeded and not read_only else "",
        )

    def _team_called(self, name: str, event: Event) -> None:
        region = str(event.get("region") or "us-east-1")
        calls = self.responder_calls.setdefault(name, Calls(self.moment))
        calls.regions.setdefault(region, self.moment)
        calls.last[region] = self.moment
        if name == "cloudtrail:LookupEvents" and self._covers_leaked_key(event, region):
            if calls.covering is None:
                calls.covering = self.moment
            calls.covering_last = self.moment

    # ── CloudTrail: what a lookup could see ──

    def _attacker_traced(self, event: Event, service: str, action: str) -> None:
        """A call of the attacker with the leaked key, as the event history records it."""
        if event.get("error_code") in UNAUTHENTICATED_ERRORS or is_data_event(service, action):
            return
        when = self._epoch_of(event)
        if when is None:
            return
        region = trail_region(service, str(event.get("region") or "us-east-1"))
        first, last = self.attacker_trail.get(region, (when, when))
        self.attacker_trail[region] = (min(first, when), max(last, when))

    def _epoch_of(self, event: Event) -> float | None:
        moment = _epoch(event.get("time"))
        if moment is None and self.t0_epoch is not None:
            moment = self.t0_epoch + self.t
        return moment

    def _covers_leaked_key(self, event: Event, region: str) -> bool:
        """A lookup that names the leaked key (or its user) over a window holding everything
        the attacker did with it in the region asked — or, when the key left no trace at all,
        over the whole time since the push, in us-east-1 or a region the company uses."""
        params: Mapping[str, Any] = event.get("params") or {}
        wanted = {("AccessKeyId", self.leaked_key_id), ("Username", self.leaked_user)}
        named = any(
            isinstance(a, Mapping)
            and (str(a.get("AttributeKey")), str(a.get("AttributeValue"))) in wanted
            for a in _as_list(params.get("LookupAttributes"))
        )
        now = self._epoch_of(event)
        if not named or now is None:
            return False
        start = _epoch(params.get("StartTime"))
        end = _epoch(params.get("EndTime"))
        start = now - HISTORY.total_seconds() if start is None else start
        end = now if end is None else end
        activity = self.attacker_trail.get(region)
        if activity is not None:
            first, last = activity
            return start <= first + _SLACK_S and end >= last - _SLACK_S
        if self.attacker_trail or self.t0_epoch is None:
            return False  # the attacker's trail is in another region
        home = {GLOBAL_EVENTS_REGION, *self.scenario.account.regions}
        return region in home and start <= self.t0_epoch + _SLACK_S and end >= now - _NOW_SLACK_S

    # ── keys and damage ──

    def _stopped(self, key: AccessKey, by: str) -> None:
        """A key stopped working (deactivated, or deleted while active)."""
        if key.disabled is None:
            key.disabled, key.disabled_by = self.moment, by
        if self._is_estate_key_of_bystander(key):
            self._damaged(
                "access-key",
                key.access_key_id,
                by,
                f"access key {key.label()} of {key.user}",
                user=key.user,
            )

    def _is_estate_key_of_bystander(self, key: AccessKey) -> bool:
        user = self.users.get(key.user)
        return (
            key.created_by is None
            and key.user != self.leaked_user
            and key.access_key_id != self.leaked_key_id
            and (user is None or user.created_by is None)
        )

    def _damaged(self, kind: Any, name: str, by: str, detail: str, user: str | None = None) -> None:
        if is_team(by):
            self.damage.append(Damage(kind, name, self.t, by, detail, user))

    # ── IAM ──

    def _target_user(self, call: ApiCall) -> Principal:
        return self._user(str(call.get("UserName") or call.user or ""))

    def _removed(self, principal: Principal, attachment: Attachment | None) -> None:
        """A policy came off a user: note it when it was the quarantine, too early."""
        if (
            attachment is not None
            and principal.name == self.leaked_user
            and is_quarantine(attachment)
            and self.leaked_key_works()
            and self.quarantine_removed_early is None
        ):
            self.quarantine_removed_early = self.moment

    def _create_user(self, call: ApiCall) -> None:
        user = self._user(str(call.get("UserName")))
        user.created_by, user.deleted_t, user.deleted_by = call.by, None, None

    def _delete_user(self, call: ApiCall) -> None:
        user = self._target_user(call)
        if user.exists and user.created_by is None:
            self._damaged("user", user.name, call.by, f"user {user.name}")
        for attachment in list(user.policies.values()):
            self._removed(user, user.detach(attachment.key, call.by))
        user.deleted_t, user.deleted_by = self.t, call.by
        if user.login_profile and user.login_profile_by == "attacker":
            user.attacker_login_profile_removed_by = call.by
        user.login_profile = False
        for key in self.keys_of(user.name):
            if key.exists:
                if key.disabled is None:
                    key.disabled, key.disabled_by = self.moment, call.by
                self._key_deleted(key, call.by)

    def _key_deleted(self, key: AccessKey, by: str) -> None:
        key.deleted_t, key.deleted_by = self.t, by
        if any(secret.key_id == key.access_key_id for secret in self.secrets.values()):
            self.deleted_while_held.add(key.access_key_id)

    def _assume_role(self, call: ApiCall) -> None:
        key_id = call.result.get("AccessKeyId")
        role_arn = str(call.get("RoleArn") or "")
        if not key_id or ":role/" not in role_arn:
            return
        issued = self.t0_epoch + self.t if self.t0_epoch is not None else None
        self.sessions[str(key_id)] = Session(
            str(key_id),
            role_arn.rsplit("/", 1)[-1],
            self.t,
            issued,
            _epoch(call.result.get("Expiration")),
            call.by,
        )

    def _get_session_token(self, call: ApiCall) -> None:
        key_id = call.result.get("AccessKeyId")
        if not key_id or not call.user:
            return
        issued = self.t0_epoch + self.t if self.t0_epoch is not None else None
        self.sessions[str(key_id)] = Session(
            str(key_id),
            "",
            self.t,
            issued,
            _epoch(call.result.get("Expiration")),
            call.by,
            user=str(call.user),
        )

    def _create_access_key(self, call: ApiCall) -> None:
        key_id = call.result.get("AccessKeyId")
        if key_id:
            user = self._target_user(call)
            self.keys[str(key_id)] = AccessKey(
                str(key_id), user.name, created_t=self.t, created_by=call.by
            )

    def _update_access_key(self, call: ApiCall) -> None:
        key = self.keys.get(str(call.get("AccessKeyId")))
        if key is None or not key.exists:
            return
        was_active = key.active
        key.status = str(call.get("Status") or key.status)
        if was_active and not key.active:
            self._stopped(key, call.by)
        elif key.active:
            key.disabled, key.disabled_by = None, None

    def _delete_access_key(self, call: ApiCall) -> None:
        key = self.keys.get(str(call.get("AccessKeyId")))
        if key is not None and key.exists:
            if key.active:
                self._stopped(key, call.by)
            elif key.disabled is None:
                key.disabled, key.disabled_by = self.moment, call.by
            self._key_deleted(key, call.by)

    def _create_login_profile(self, call: ApiCall) -> None:
        user = self._target_user(call)
        user.login_profile, user.login_profile_by = True, call.by

    def _delete_login_profile(self, call: ApiCall) -> None:
        user = self._target_user(call)
        if (
            user.login_profile
            and user.login_profile_by is None
            and user.created_by is None
            and user.name != self.leaked_user
        ):
            self._damaged(
                "login-profile", user.name, call.by, f"console password of {user.name}", user.name
            )
        if user.login_profile and user.login_profile_by == "attacker":
            user.attacker_login_profile_removed_by = call.by
        user.login_profile, user.login_profile_by = False, None

    def _attach_user_policy(self, call: ApiCall) -> None:
        self._target_user(call).attach(Attachment("managed", str(call.get("PolicyArn")), call.by))

    def _detach_user_policy(self, call: ApiCall) -> None:
        user = self._target_user(call)
        self._removed(user, user.detach(f"managed:{call.get('PolicyArn')}", call.by))

    def _put_user_policy(self, call: ApiCall) -> None:
        document = parse_document(call.get("PolicyDocument"))
        attachment = Attachment("inline", str(call.get("PolicyName")), call.by, document)
        self._target_user(call).attach(attachment)

    def _delete_user_policy(self, call: ApiCall) -> None:
        user = self._target_user(call)
        self._removed(user, user.detach(f"inline:{call.get('PolicyName')}", call.by))

    def _create_role(self, call: ApiCall) -> None:
        role = self._role(str(call.get("RoleName")))
        role.created_by, role.deleted_t, role.deleted_by = call.by, None, None
        role.policies = {}

    def _delete_role(self, call: ApiCall) -> None:
        role = self._role(str(call.get("RoleName")))
        if role.exists and role.created_by is None:
            self._damaged("role", role.name, call.by, f"role {role.name}")
        role.deleted_t, role.deleted_by, role.policies = self.t, call.by, {}

    def _attach_role_policy(self, call: ApiCall) -> None:
        role = self._role(str(call.get("RoleName")))
        role.attach(Attachment("managed", str(call.get("PolicyArn")), call.by))

    def _detach_role_policy(self, call: ApiCall) -> None:
        self._role(str(call.get("RoleName"))).detach(f"managed:{call.get('PolicyArn')}", call.by)

    def _put_role_policy(self, call: ApiCall) -> None:
        document = parse_document(call.get("PolicyDocument"))
        attachment = Attachment("inline", str(call.get("PolicyName")), call.by, document)
        self._role(str(call.get("RoleName"))).attach(attachment)

    def _delete_role_policy(self, call: ApiCall) -> None:
        self._role(str(call.get("RoleName"))).detach(f"inline:{call.get('PolicyName')}", call.by)

    def _create_policy(self, call: ApiCall) -> None:
        name = str(call.get("PolicyName"))
        path = str(call.get("Path") or "/")
        arn = str(
            call.result.get("PolicyArn") or f"arn:aws:iam::{self.account_id}:policy{path}{name}"
        )
        self.policies[arn] = ManagedPolicy(
            arn, document=parse_document(call.get("PolicyDocument")), created_by=call.by
        )

    def _delete_policy(self, call: ApiCall) -> None:
        policy = self.policies.get(str(call.get("PolicyArn")))
        if policy is not None:
            policy.deleted_t, policy.deleted_by = self.t, call.by

    def _create_policy_version(self, call: ApiCall) -> None:
        policy = self.policies.get(str(call.get("PolicyArn")))
        if policy is not None and str(call.get("SetAsDefault")).lower() == "true":
            policy.document = parse_document(call.get("PolicyDocument"))

    # ── EC2 and Lambda ──

    def _launched(
        self, call: ApiCall, ids: list[str], kind: Literal["instance", "spot-request"]
    ) -> None:
        for instance_id in ids:
            self.instances[instance_id] = Instance(
                instance_id, call.region, kind, created_by=call.by, created_t=self.t
            )
        if ids and call.by == "attacker":
            self._launch_seen(call.region, self.t)

    def _run_instances(self, call: ApiCall) -> None:
        self._launched(call, call.strings("InstanceIds", "InstanceId"), "instance")

    def _request_spot_instances(self, call: ApiCall) -> None:
        ids = call.strings("SpotInstanceRequestIds", "SpotInstanceRequestId")
        self._launched(call, ids, "spot-request")
        self._launched(call, [str(i) for i in _as_list(call.result.get("InstanceIds"))], "instance")

    def _gone(self, ids: list[str], by: str) -> None:
        for instance_id in ids:
            instance = self.instances.get(instance_id)
            if instance is not None and instance.gone_t is None:
                if instance.created_by is None and instance.kind == "instance":
                    self._damaged(
                        "instance",
                        instance_id,
                        by,
                        f"instance {instance_id} ({instance.region})",
                    )
                instance.gone_t, instance.gone_by = self.t, by

    def _terminate_instances(self, call: ApiCall) -> None:
        self._gone(call.strings("InstanceIds", "InstanceId"), call.by)

    def _cancel_spot_instance_requests(self, call: ApiCall) -> None:
        self._gone(call.strings("SpotInstanceRequestIds", "SpotInstanceRequestId"), call.by)

    def _function_name(self, call: ApiCall) -> str:
        return last_segment(str(call.get("FunctionName")), ":function:")

    def _create_function(self, call: ApiCall) -> None:
        name = self._function_name(call)
        self.functions[(call.region, name)] = Function(name, call.region, created_by=call.by)
        if call.by == "attacker":
            self._launch_seen(call.region, self.t)

    def _delete_function(self, call: ApiCall) -> None:
        function = self.functions.get((call.region, self._function_name(call)))
        if function is not None:
            function.deleted_t, function.deleted_by = self.t, call.by

    # ── S3, Secrets Manager, Support, CloudTrail ──

    def _create_bucket(self, call: ApiCall) -> None:
        name = str(call.get("Bucket"))
        self.buckets[name] = Bucket(name, created_by=call.by)

    def _delete_bucket(self, call: ApiCall) -> None:
        bucket = self.buckets.get(str(call.get("Bucket")))
        if bucket is None or bucket.deleted_t is not None:
            return
        if bucket.created_by is None:
            self._damaged("bucket", bucket.name, call.by, f"bucket {bucket.name}")
        bucket.deleted_t = self.t

    def _secret_named(self, call: ApiCall) -> Secret | None:
        given = str(call.result.get("Name") or call.get("SecretId") or "")
        name = last_segment(given, ":secret:")
        for candidate in (name, _SECRET_SUFFIX.sub("", name)):
            if candidate in self.secrets:
                return self.secrets[candidate]
        return None

    def _secret_value_changed(self, call: ApiCall) -> None:
        secret = self._secret_named(call)
        if secret is None:
            return
        if "SecretAccessKeyId" in call.result:
            found = call.result["SecretAccessKeyId"]
            held = str(found) if found else None
        elif "SecretString" in call.params or "SecretBinary" in call.params:
            held = None  # a new value that holds no access key
        else:
            return
        secret.key_id = held
        secret.key_set, secret.key_set_by, secret.confirmed = self.moment, call.by, None

    def _delete_secret(self, call: ApiCall) -> None:
        secret = self._secret_named(call)
        if secret is None or secret.deleted_t is not None:
            return
        self._damaged("secret", secret.name, call.by, f"secret {secret.name}")
        secret.deleted_t = self.t

    def _restore_secret(self, call: ApiCall) -> None:
        secret = self._secret_named(call)
        if secret is not None:
            secret.deleted_t = None

    def _case_replied(self, call: ApiCall) -> None:
        # A reply counts — and answers AWS's follow-up — only once the leaked key is dead.
        if call.by != TEAM:
            return
        if self.leaked_key_works():
            self.case_reply_too_early = self.case_reply_too_early or self.moment
        elif self.case_replied is None:
            self.case_replied = self.moment

    def _case_resolved(self, call: ApiCall) -> None:
        if call.by == TEAM and self.case_resolved is None:
            self.case_resolved = self.moment

    def _trail(self, call: ApiCall) -> str:
        return last_segment(str(call.get("Name")), ":trail/")

    def _logging(self, call: ApiCall) -> None:
        name = self._trail(call)
        self.trails[name] = call.action == "StartLogging"
        self.trail_by[name] = call.by

    def _create_trail(self, call: ApiCall) -> None:
        name = self._trail(call)
        self.trails[name] = False  # a new trail logs only once StartLogging is called
        self.trail_by[name] = call.by
        self.trails_deleted.discard(name)

    def _delete_trail(self, call: ApiCall) -> None:
        name = self._trail(call)
        self.trails.pop(name, None)
        self.trail_by[name] = call.by
        self.trails_deleted.add(name)


def _reaches_the_customer(event: Event) -> bool:
    """A delivered notice a customer receives (a webhook only when the post went through)."""
    kind = event.get("type")
    if kind not in CUSTOMER_CHANNELS:
        return False
    if kind == "webhook":
        return event.get("status") == "sent"
    return event.get("status") not in ("failed", "skipped")


def _epoch(value: Any) -> float | None:
    """Seconds since 1970 from what a journal or a request carries: a number, or ISO-8601."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@lru_cache(maxsize=1024)
def _call_topics(called: str, leaked_by_responder: bool, mutated: str) -> frozenset[str]:
    """The topics of an API call: the responder's action, the leaked key, the service changed."""
    topics = set()
    if called:
        topics.add(f"called:{called}")
    if leaked_by_responder:
        topics.add("leaked-key:responder")
    if mutated:
        topics.add(f"api:{mutated}")
    return frozenset(topics)


def is_quarantine(attachment: Attachment) -> bool:
    """AWS's quarantine: a managed AWSCompromisedKeyQuarantine* or the older inline policy."""
    if attachment.kind == "managed":
        return attachment.name in QUARANTINE_ARNS
    return attachment.name == QUARANTINE_INLINE


_HANDLERS: dict[str, Callable[[State, ApiCall], None]] = {
    "iam:CreateUser": State._create_user,
    "iam:DeleteUser": State._delete_user,
    "iam:CreateAccessKey": State._create_access_key,
    "sts:AssumeRole": State._assume_role,
    "sts:GetSessionToken": State._get_session_token,
    "iam:UpdateAccessKey": State._update_access_key,
    "iam:DeleteAccessKey": State._delete_access_key,
    "iam:CreateLoginProfile": State._create_login_profile,
    "iam:DeleteLoginProfile": State._delete_login_profile,
    "iam:AttachUserPolicy": State._attach_user_policy,
    "iam:DetachUserPolicy": State._detach_user_policy,
    "iam:PutUserPolicy": State._put_user_policy,
    "iam:DeleteUserPolicy": State._delete_user_policy,
    "iam:CreateRole": State._create_role,
    "iam:DeleteRole": State._delete_role,
    "iam:AttachRolePolicy": State._attach_role_policy,
    "iam:DetachRolePolicy": State._detach_role_policy,
    "iam:PutRolePolicy": State._put_role_policy,
    "iam:DeleteRolePolicy": State._delete_role_policy,
    "iam:CreatePolicy": State._create_policy,
    "iam:DeletePolicy": State._delete_policy,
    "iam:CreatePolicyVersion": State._create_policy_version,
    "ec2:RunInstances": State._run_instances,
    "ec2:TerminateInstances": State._terminate_instances,
    "ec2:RequestSpotInstances": State._request_spot_instances,
    "ec2:CancelSpotInstanceRequests": State._cancel_spot_instance_requests,
    "lambda:CreateFunction": State._create_function,
    "lambda:DeleteFunction": State._delete_function,
    "secretsmanager:PutSecretValue": State._secret_value_changed,
    "secretsmanager:UpdateSecret": State._secret_value_changed,
    "secretsmanager:DeleteSecret": State._delete_secret,
    "secretsmanager:RestoreSecret": State._restore_secret,
    "s3:CreateBucket": State._create_bucket,
    "s3:DeleteBucket": State._delete_bucket,
    "support:AddCommunicationToCase": State._case_replied,
    "support:ResolveCase": State._case_resolved,
    "cloudtrail:StopLogging": State._logging,
    "cloudtrail:StartLogging": State._logging,
    "cloudtrail:CreateTrail": State._create_trail,
    "cloudtrail:DeleteTrail": State._delete_trail,
}
