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

`State.apply(event)` returns the topics the event touched (see `gameday.scoring.checks.registry`),
so only the checks that read them are evaluated again. Pure Python, no I/O: the same events
always give the same state.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from gameday.scenario.model import QuarantineInject, Scenario
from gameday.world.decoys import leaked_key_ref

Moment = tuple[float, int]  # (t, seq): events at the same virtual instant keep their order
Event = Mapping[str, Any]

ALL_TOPICS = "*"
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


# ── what the state is made of ────────────────────────────────────────────────────────────


@dataclass
class AccessKey:
    access_key_id: str
    user: str
    status: str = "Active"
    created_t: float = 0.0
    ref: str | None = None
    created_by: str | None = None
    deleted_t: float | None = None

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
    policies: dict[str, Attachment] = field(default_factory=dict)
    history: dict[str, Attachment] = field(default_factory=dict)
    login_profile: bool = False
    login_profile_by: str | None = None

    @property
    def exists(self) -> bool:
        return self.deleted_t is None

    def attach(self, attachment: Attachment) -> None:
        self.policies[attachment.key] = attachment
        self.history[attachment.key] = attachment

    def detach(self, key: str) -> Attachment | None:
        return self.policies.pop(key, None)


@dataclass
class ManagedPolicy:
    arn: str
    document: Any = None
    created_by: str | None = None
    deleted_t: float | None = None


@dataclass
class Instance:
    """An EC2 instance, or a Spot request (which, left in place, launches instances)."""

    id: str
    region: str
    kind: Literal["instance", "spot-request"] = "instance"
    created_by: str | None = None
    created_t: float = 0.0
    gone_t: float | None = None


@dataclass
class Function:
    name: str
    region: str
    created_by: str | None = None
    deleted_t: float | None = None


@dataclass
class Secret:
    name: str
    region: str
    seeded_key_id: str | None = None
    key_id: str | None = None


@dataclass
class Calls:
    """The responder's successful calls of one action: the first, and the first per region."""

    first: Moment
    regions: dict[str, Moment] = field(default_factory=dict)


@dataclass
class Repository:
    private: bool = False
    deleted: bool = False
    key_in_history: bool = True


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
        return cls(
            actor=actor if actor is not None else str(event.get("actor", "")),
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
        self.trails: dict[str, bool] = {}
        self.trails_deleted: set[str] = set()
        self.responder_calls: dict[str, Calls] = {}
        self.case_replied: Moment | None = None
        self.case_resolved: Moment | None = None
        self.repository = Repository()
        self.workload = Workload()
        self.marks: dict[str, float] = {}
        self.detected_t: float | None = None
        self.ended_t: float | None = None
        self.first_action_t: float | None = None  # the responders' first act, at any time
        self.first_response_t: float | None = None  # their first act after AWS's first notice
        self.leaked_key_used_by_responder: Moment | None = None
        self.quarantine_removed_early: Moment | None = None
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

    def _seed_from_world(self, event: Event) -> None:
        for user in event.get("users") or []:
            principal = self._user(str(user["name"]))
            if "console" in user:
                principal.login_profile = bool(user["console"])
            for key in user.get("keys") or []:
                key_id = str(key["access_key_id"])
                ref = key.get("ref")
                self.keys[key_id] = AccessKey(
                    key_id,
                    principal.name,
                    status=str(key.get("status") or "Active"),
                    created_t=float(key.get("created_t") or 0.0),
                    ref=ref,
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
        self.seq = int(event.get("seq", self.seq + 1))
        kind = str(event.get("kind", ""))
        topic = f"kind:{kind}"
        if kind == "api.call":
            return self._api_call(event)
        if kind == "run.started":
            self.leaked_key_id = event.get("leaked_access_key_id") or self.leaked_key_id
            self.leaked_user = str(event.get("leaked_user") or self.leaked_user)
            self.account_id = str(event.get("account_id") or self.account_id)
            self.team = str(event.get("team") or self.team)
            return frozenset({ALL_TOPICS})
        if kind == "world.seeded":
            self._seed_from_world(event)
            return frozenset({ALL_TOPICS})
        if kind == "inject.delivered":
            return self._inject(event)
        if kind == "attacker.technique":
            self._attacker_left(event.get("created") or [])
        elif kind == "workload.probe":
            self._probe(bool(event.get("ok")))
        elif kind == "mark":
            self.marks.setdefault(str(event.get("step")), self.t)
        elif kind == "note":
            if event.get("actor") not in ("framework", "attacker"):
                self._responded()
        elif kind in ("repo.private", "repo.deleted", "repo.pushed"):
            self._repository(kind, event)
        elif kind == "run.ended":
            self.ended_t = self.t
        return frozenset({topic})

    def _responded(self) -> None:
        if self.first_action_t is None:
            self.first_action_t = self.t
        if self.first_response_t is None and self.detected_t is not None:
            self.first_response_t = self.t

    def _inject(self, event: Event) -> frozenset[str]:
        # Detection is AWS's first act the customer can see — the quarantine policy appearing
        # on the user counts; the facilitator's console cues do not.
        if self.detected_t is None and event.get("type") != "console":
            self.detected_t = self.t
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
            Attachment("managed", str(arn), by="framework")
            if arn
            else Attachment("inline", QUARANTINE_INLINE, by="framework")
        )
        if attachment.key not in user.policies:
            user.attach(attachment)
        return frozenset({"kind:inject.delivered", "api:iam"})

    def _probe(self, ok: bool) -> None:
        workload = self.workload
        if ok and workload.failing_since is not None:
            workload.outage_s += self.t - workload.failing_since
            workload.failing_since = None
        elif not ok and workload.failing_since is None:
            workload.failing_since = self.t
        workload.last_ok = ok

    def _repository(self, kind: str, event: Event) -> None:
        if event.get("actor") == "responder":
            self._responded()
        if kind == "repo.private":
            self.repository.private = True
        elif kind == "repo.deleted":
            self.repository.deleted = True
        elif "key_in_history" in event:
            self.repository.key_in_history = bool(event["key_in_history"])

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
            elif kind == "function":
                function = self.functions.setdefault((region, name), Function(name, region))
                function.created_by = function.created_by or "attacker"

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
        if succeeded:
            if actor == "responder":
                calls = self.responder_calls.setdefault(name, Calls(self.moment))
                calls.regions.setdefault(str(event.get("region") or "us-east-1"), self.moment)
            handler = _HANDLERS.get(name)
            if handler is not None:
                handler(self, ApiCall.from_event(event, actor))
        read_only = event.get("read_only")
        if read_only is None:
            read_only = action.startswith(_READ_PREFIXES)
        return _call_topics(
            name if succeeded and actor == "responder" else "",
            leaked and actor == "responder",
            service if succeeded and not read_only else "",
        )

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
        user.created_by, user.deleted_t = call.actor, None

    def _delete_user(self, call: ApiCall) -> None:
        user = self._target_user(call)
        for attachment in list(user.policies.values()):
            self._removed(user, user.detach(attachment.key))
        user.deleted_t = self.t
        user.login_profile = False
        for key in self.keys_of(user.name):
            if key.exists:
                key.deleted_t = self.t

    def _create_access_key(self, call: ApiCall) -> None:
        key_id = call.result.get("AccessKeyId")
        if key_id:
            user = self._target_user(call)
            self.keys[str(key_id)] = AccessKey(
                str(key_id), user.name, created_t=self.t, created_by=call.actor
            )

    def _update_access_key(self, call: ApiCall) -> None:
        key = self.keys.get(str(call.get("AccessKeyId")))
        if key is not None and key.exists:
            key.status = str(call.get("Status") or key.status)

    def _delete_access_key(self, call: ApiCall) -> None:
        key = self.keys.get(str(call.get("AccessKeyId")))
        if key is not None and key.exists:
            key.deleted_t = self.t

    def _create_login_profile(self, call: ApiCall) -> None:
        user = self._target_user(call)
        user.login_profile, user.login_profile_by = True, call.actor

    def _delete_login_profile(self, call: ApiCall) -> None:
        user = self._target_user(call)
        user.login_profile, user.login_profile_by = False, None

    def _attach_user_policy(self, call: ApiCall) -> None:
        self._target_user(call).attach(
            Attachment("managed", str(call.get("PolicyArn")), call.actor)
        )

    def _detach_user_policy(self, call: ApiCall) -> None:
        user = self._target_user(call)
        self._removed(user, user.detach(f"managed:{call.get('PolicyArn')}"))

    def _put_user_policy(self, call: ApiCall) -> None:
        document = parse_document(call.get("PolicyDocument"))
        attachment = Attachment("inline", str(call.get("PolicyName")), call.actor, document)
        self._target_user(call).attach(attachment)

    def _delete_user_policy(self, call: ApiCall) -> None:
        user = self._target_user(call)
        self._removed(user, user.detach(f"inline:{call.get('PolicyName')}"))

    def _create_role(self, call: ApiCall) -> None:
        role = self._role(str(call.get("RoleName")))
        role.created_by, role.deleted_t, role.policies = call.actor, None, {}

    def _delete_role(self, call: ApiCall) -> None:
        role = self._role(str(call.get("RoleName")))
        role.deleted_t, role.policies = self.t, {}

    def _attach_role_policy(self, call: ApiCall) -> None:
        role = self._role(str(call.get("RoleName")))
        role.attach(Attachment("managed", str(call.get("PolicyArn")), call.actor))

    def _detach_role_policy(self, call: ApiCall) -> None:
        self._role(str(call.get("RoleName"))).detach(f"managed:{call.get('PolicyArn')}")

    def _put_role_policy(self, call: ApiCall) -> None:
        document = parse_document(call.get("PolicyDocument"))
        attachment = Attachment("inline", str(call.get("PolicyName")), call.actor, document)
        self._role(str(call.get("RoleName"))).attach(attachment)

    def _delete_role_policy(self, call: ApiCall) -> None:
        self._role(str(call.get("RoleName"))).detach(f"inline:{call.get('PolicyName')}")

    def _create_policy(self, call: ApiCall) -> None:
        name = str(call.get("PolicyName"))
        path = str(call.get("Path") or "/")
        arn = str(
            call.result.get("PolicyArn") or f"arn:aws:iam::{self.account_id}:policy{path}{name}"
        )
        self.policies[arn] = ManagedPolicy(
            arn, document=parse_document(call.get("PolicyDocument")), created_by=call.actor
        )

    def _delete_policy(self, call: ApiCall) -> None:
        policy = self.policies.get(str(call.get("PolicyArn")))
        if policy is not None:
            policy.deleted_t = self.t

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
                instance_id, call.region, kind, created_by=call.actor, created_t=self.t
            )

    def _run_instances(self, call: ApiCall) -> None:
        self._launched(call, call.strings("InstanceIds", "InstanceId"), "instance")

    def _request_spot_instances(self, call: ApiCall) -> None:
        ids = call.strings("SpotInstanceRequestIds", "SpotInstanceRequestId")
        self._launched(call, ids, "spot-request")
        self._launched(call, [str(i) for i in _as_list(call.result.get("InstanceIds"))], "instance")

    def _gone(self, ids: list[str]) -> None:
        for instance_id in ids:
            instance = self.instances.get(instance_id)
            if instance is not None and instance.gone_t is None:
                instance.gone_t = self.t

    def _terminate_instances(self, call: ApiCall) -> None:
        self._gone(call.strings("InstanceIds", "InstanceId"))

    def _cancel_spot_instance_requests(self, call: ApiCall) -> None:
        self._gone(call.strings("SpotInstanceRequestIds", "SpotInstanceRequestId"))

    def _function_name(self, call: ApiCall) -> str:
        return last_segment(str(call.get("FunctionName")), ":function:")

    def _create_function(self, call: ApiCall) -> None:
        name = self._function_name(call)
        self.functions[(call.region, name)] = Function(name, call.region, created_by=call.actor)

    def _delete_function(self, call: ApiCall) -> None:
        function = self.functions.get((call.region, self._function_name(call)))
        if function is not None:
            function.deleted_t = self.t

    # ── Secrets Manager, Support, CloudTrail ──

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
            secret.key_id = str(found) if found else None
        elif "SecretString" in call.params or "SecretBinary" in call.params:
            secret.key_id = None  # a new value that holds no access key

    def _case_replied(self, call: ApiCall) -> None:
        if call.actor == "responder" and self.case_replied is None:
            self.case_replied = self.moment

    def _case_resolved(self, call: ApiCall) -> None:
        if call.actor == "responder" and self.case_resolved is None:
            self.case_resolved = self.moment

    def _trail(self, call: ApiCall) -> str:
        return last_segment(str(call.get("Name")), ":trail/")

    def _logging(self, call: ApiCall) -> None:
        name = self._trail(call)
        self.trails[name] = call.action == "StartLogging"

    def _create_trail(self, call: ApiCall) -> None:
        name = self._trail(call)
        self.trails[name] = False  # a new trail logs only once StartLogging is called
        self.trails_deleted.discard(name)

    def _delete_trail(self, call: ApiCall) -> None:
        name = self._trail(call)
        self.trails.pop(name, None)
        self.trails_deleted.add(name)


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
    "support:AddCommunicationToCase": State._case_replied,
    "support:ResolveCase": State._case_resolved,
    "cloudtrail:StopLogging": State._logging,
    "cloudtrail:StartLogging": State._logging,
    "cloudtrail:CreateTrail": State._create_trail,
    "cloudtrail:DeleteTrail": State._delete_trail,
}
