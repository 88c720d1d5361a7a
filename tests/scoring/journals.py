"""Journals for the scoring tests, written like incident stories, one event at a time.

    story = JournalBuilder(scenario)                      # run.started, world.seeded at T0
    story.at("60s").quarantine()
    story.at("4m").attacker_backdoor_user("svc-backup-admin")
    story.at("8m").deactivate("leaked")
    events = story.events()

Events carry the fields docs/journal.md lists, the way the gateway, the injects, the
attacker, the workload and the code host write them. Keys are the run's real decoy keys
(`estate_credentials`), so ids look and decode like the ones a run produces. Events may be
added out of time order (a stretch of workload probes, then the actions during it);
`events()` puts them in time order, stable for equal times, and numbers them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from gameday.journal import Event, iso
from gameday.scenario import load_scenario
from gameday.scenario.durations import parse_duration
from gameday.scenario.model import REGIONS, Scenario
from gameday.world.decoys import estate_credentials, generate_access_key, leaked_key_ref

HERE = Path(__file__).parent
T0 = datetime(2026, 3, 2, 12, 33, 12, tzinfo=UTC)
RESPONDER_USER = "security-oncall"  # the default responders' user
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
QUARANTINE_V3 = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3"
ATTACKER_AGENT = "python-requests/2.31.0"
RESPONDER_AGENT = "aws-cli/1.46.0 Python/3.11.9 Linux/6.8 botocore/1.40.0"
_READ = ("Get", "List", "Describe", "Lookup", "Head")
# A probe's key, worked out in `events()`: whatever the workload's secret holds by then.
IN_THE_SECRET = "<the key in the workload's secret>"


@cache
def northwind() -> Scenario:
    """The scoring tests' scenario (tests/scoring/northwind.yaml); immutable, so shared."""
    return load_scenario(HERE / "northwind.yaml")


Moment = str | float


class JournalBuilder:
    def __init__(
        self,
        scenario: Scenario,
        *,
        team: str = "blue",
        seed: int = 7,
        responder_key: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.now = 0.0
        self._events: list[tuple[float, int, dict[str, Any]]] = []
        self._rng = random.Random(f"scoring-journal:{seed}")
        self.credentials = estate_credentials(scenario, seed)
        self.leaked = self.credentials[leaked_key_ref(scenario)].access_key_id
        self.responder_key = (
            self.credentials[responder_key].access_key_id if responder_key else self.new_key_id()
        )
        self.framework_key = self.new_key_id()
        workload = scenario.workload
        self.workload_key = self.credentials[workload.key].access_key_id if workload else ""
        self.attacker_key = self.leaked
        # Whose each key is, as the gateway's key registry says (`key_actor`).
        self.key_owner: dict[str, str] = {
            self.responder_key: "responder",
            self.framework_key: "framework",
            self.leaked: "attacker",
        }
        if self.workload_key:
            self.key_owner.setdefault(self.workload_key, "workload")
        self.user_keys: dict[str, list[str]] = {
            user.name: [self.credentials[k.id].access_key_id for k in user.keys]
            for user in scenario.account.estate.users
        }
        self.user_policies: dict[str, list[str]] = {}
        self.mined: list[tuple[str, str]] = []  # (instance id, region) the attacker launched
        self._case_id = str(self._rng.randrange(10**9, 10**10))
        self._started(team, seed)

    # ── time and raw events ──

    def at(self, when: Moment) -> JournalBuilder:
        self.now = parse_duration(when)
        return self

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        record = {"t": round(self.now, 3), "kind": kind, **fields}
        self._events.append((self.now, len(self._events), record))
        return record

    def count(self, kind: str) -> int:
        return sum(1 for _, _, record in self._events if record["kind"] == kind)

    def events(self) -> list[Event]:
        ordered = sorted(self._events, key=lambda item: (item[0], item[1]))
        numbered = []
        secret = self.scenario.workload.secret if self.scenario.workload else None
        held = self.workload_key  # what the workload reads from its secret, as time goes by
        for seq, (t, _, record) in enumerate(ordered, start=1):
            moment = iso(T0 + timedelta(seconds=t))
            event = {"seq": seq, "time": moment, **record, "wall": moment}
            if (
                event.get("action") == "PutSecretValue"
                and secret is not None
                and secret in str(event["params"].get("SecretId"))
            ):
                held = event["result"].get("SecretAccessKeyId") or held
            if event.get("access_key_id") == IN_THE_SECRET:
                event["access_key_id"] = held
            numbered.append(event)
        return numbered

    def key(self, ref_or_id: str) -> str:
        """An access key id from 'leaked', an estate key's id, or an access key id."""
        if ref_or_id == "leaked":
            return self.leaked
        credential = self.credentials.get(ref_or_id)
        return credential.access_key_id if credential else ref_or_id

    def new_key_id(self) -> str:
        return generate_access_key(self.scenario.account.id, self._rng).access_key_id

    def _instance_id(self) -> str:
        return "i-" + "".join(self._rng.choice("0123456789abcdef") for _ in range(17))

    def call(
        self,
        actor: str,
        action: str,
        params: dict[str, Any] | None = None,
        result: dict[str, Any] | None = None,
        *,
        status: int = 200,
        error_code: str | None = None,
        region: str = "us-east-1",
        key: str | None = None,
    ) -> dict[str, Any]:
        service, name = action.split(":", 1)
        signer = (
            key
            or {
                "responder": self.responder_key,
                "attacker": self.attacker_key,
                "workload": self.workload_key,
                "framework": self.framework_key,
            }[actor]
        )
        user = {
            "responder": RESPONDER_USER,
            "attacker": self.scenario.leak.user,
            "workload": self.scenario.workload.user if self.scenario.workload else "",
            "framework": "",  # AWS acting in the account is no user of it
        }[actor]
        return self.event(
            "api.call",
            actor=actor,
            key_actor=self.key_owner.get(signer),
            access_key_id=signer,
            user=user,
            service=service,
            action=name,
            region=region,
            params=params or {},
            status=status,
            error_code=error_code,
            read_only=name.startswith(_READ),
            result=result or {},
            source_ip=f"185.220.101.{self._rng.randrange(2, 250)}"
            if actor == "attacker"
            else "10.20.0.15",
            user_agent=ATTACKER_AGENT if actor == "attacker" else RESPONDER_AGENT,
        )

    # ── the run and the world ──

    def _started(self, team: str, seed: int) -> None:
        scenario = self.scenario
        self.event(
            "run.started",
            scenario=scenario.id,
            team=team,
            seed=seed,
            clock="virtual",
            speed=None,
            responder="replay",
            t0=iso(T0),
            account_id=scenario.account.id,
            leaked_access_key_id=self.leaked,
            leaked_user=scenario.leak.user,
            public_url=f"https://github.com/{scenario.leak.repository.owner}/"
            f"{scenario.leak.repository.name}/blob/4b825dc/{scenario.leak.path}",
            repository=f"{scenario.leak.repository.owner}/{scenario.leak.repository.name}",
        )
        estate = scenario.account.estate
        users = [
            {
                "name": user.name,
                "console": user.console,
                "keys": [
                    {
                        "ref": key.id,
                        "access_key_id": self.credentials[key.id].access_key_id,
                        "status": key.status,
                        "created_t": -key.age,
                    }
                    for key in user.keys
                ],
            }
            for user in estate.users
        ]
        instances = [
            {
                "instance_id": self._instance_id(),
                "region": group.region,
                "type": group.type,
                "name": group.name,
            }
            for group in estate.instances
            for _ in range(group.count)
        ]
        secrets = [
            {
                "name": secret.name,
                "region": secret.region,
                "key_ref": secret.from_key,
                "access_key_id": self.credentials[secret.from_key].access_key_id
                if secret.from_key
                else None,
            }
            for secret in estate.secrets
        ]
        self.event(
            "world.seeded",
            users=users,
            instances=instances,
            secrets=secrets,
            principals={
                "responder": self.responder_key,
                "framework": self.framework_key,
                "workload": self.workload_key,
                "attacker": self.leaked,
            },
        )

    def end(self, at: Moment | None = None, reason: str = "duration") -> JournalBuilder:
        self.now = parse_duration(at) if at is not None else self.scenario.duration
        self.event("run.ended", reason=reason)
        return self

    # ── AWS's side ──

    def notice(self, inject_id: str) -> JournalBuilder:
        spec = next(i for i in self.scenario.timeline if i.id == inject_id)
        self.event(
            "inject.delivered",
            inject=inject_id,
            type=spec.type,
            subject=f"Your AWS account {self.scenario.account.id} is compromised",
            data={
                "account_id": self.scenario.account.id,
                "access_key_id": self.leaked,
                "user_name": self.scenario.leak.user,
                "case_id": self._case_id,
            },
        )
        return self

    def quarantine(self, inject_id: str = "quarantine") -> JournalBuilder:
        self.call(
            "framework",
            "iam:AttachUserPolicy",
            {"UserName": self.scenario.leak.user, "PolicyArn": QUARANTINE_V3},
        )
        return self.notice(inject_id)

    def aws_notices(self) -> JournalBuilder:
        """The northwind timeline's first minutes: quarantine, support case, email."""
        self.at("60s").quarantine()
        self.at("110s").notice("support-case")
        return self.at("116s").notice("case-email")

    # ── the attacker ──

    def attacker_whoami(self) -> JournalBuilder:
        self.call("attacker", "sts:GetCallerIdentity")
        self.event(
            "attacker.technique", technique="aws.discovery.whoami", status="succeeded", created=[]
        )
        return self

    def attacker_discovery(self, regions: Iterable[str] = ("us-east-1",)) -> JournalBuilder:
        self.call("attacker", "iam:ListUsers")
        self.call("attacker", "iam:ListRoles")
        self.call("attacker", "s3:ListBuckets")
        for region in regions:
            self.call("attacker", "ec2:DescribeInstances", region=region)
            self.call("attacker", "secretsmanager:ListSecrets", region=region)
        return self

    def attacker_backdoor_user(self, name: str) -> str:
        """CreateUser, AttachUserPolicy (AdministratorAccess), CreateAccessKey; the new key."""
        self.call("attacker", "iam:CreateUser", {"UserName": name}, {"UserName": name})
        self.call("attacker", "iam:AttachUserPolicy", {"UserName": name, "PolicyArn": ADMIN})
        minted = self.new_key_id()
        self.call(
            "attacker",
            "iam:CreateAccessKey",
            {"UserName": name},
            {"AccessKeyId": minted, "UserName": name},
        )
        self.user_keys.setdefault(name, []).append(minted)
        self.key_owner[minted] = "attacker"
        self.user_policies.setdefault(name, []).append(ADMIN)
        self.event(
            "attacker.technique",
            technique="aws.persistence.iam-create-backdoor-user",
            status="succeeded",
            created=[
                {"kind": "user", "id": name, "region": "global", "parent": ""},
                {"kind": "access-key", "id": minted, "region": "global", "parent": name},
            ],
        )
        self.attacker_key = minted  # attackers prefer the key nobody has quarantined
        return minted

    def attacker_mining(self, regions: Iterable[str], count: int = 2) -> list[str]:
        launched: list[str] = []
        created = []
        for region in regions:
            ids = [self._instance_id() for _ in range(count)]
            self.call(
                "attacker",
                "ec2:RunInstances",
                {"InstanceType": "p3.16xlarge", "MinCount": count, "MaxCount": count},
                {"InstanceIds": ids},
                region=region,
            )
            launched += ids
            self.mined += [(i, region) for i in ids]
            created += [{"kind": "instance", "id": i, "region": region, "parent": ""} for i in ids]
        self.event(
            "attacker.technique",
            technique="aws.impact.ec2-mining",
            status="succeeded",
            created=created,
        )
        return launched

    def attacker_stop_logging(self, trail: str) -> JournalBuilder:
        self.call("attacker", "cloudtrail:StopLogging", {"Name": trail})
        return self

    def attacker_refused(self, action: str, region: str = "us-east-1") -> JournalBuilder:
        """A call with a key that no longer works: InvalidClientTokenId, nothing changes."""
        self.call(
            "attacker",
            action,
            status=403,
            error_code="InvalidClientTokenId",
            region=region,
            key=self.leaked,
        )
        return self

    # ── the responders ──

    def note(self, text: str) -> JournalBuilder:
        self.event("note", actor="responder", text=text)
        return self

    def mark(self, step: str) -> JournalBuilder:
        self.event("mark", step=step, by="facilitator")
        return self

    def look_up_events(self) -> JournalBuilder:
        self.call(
            "responder",
            "cloudtrail:LookupEvents",
            {"LookupAttributes": [{"AttributeKey": "AccessKeyId", "AttributeValue": self.leaked}]},
        )
        return self

    def deactivate(self, key: str) -> JournalBuilder:
        self.call(
            "responder", "iam:UpdateAccessKey", {"AccessKeyId": self.key(key), "Status": "Inactive"}
        )
        return self

    def reactivate(self, key: str) -> JournalBuilder:
        self.call(
            "responder", "iam:UpdateAccessKey", {"AccessKeyId": self.key(key), "Status": "Active"}
        )
        return self

    def delete_key(self, key: str) -> JournalBuilder:
        self.call("responder", "iam:DeleteAccessKey", {"AccessKeyId": self.key(key)})
        return self

    def create_key(self, user: str) -> str:
        minted = self.new_key_id()
        self.call(
            "responder",
            "iam:CreateAccessKey",
            {"UserName": user},
            {"AccessKeyId": minted, "UserName": user},
        )
        self.user_keys.setdefault(user, []).append(minted)
        self.key_owner[minted] = "responder"  # a key a team call created is the team's
        return minted

    def rotate(self, ref: str, user: str) -> str:
        """A new key for the user, then the old one deactivated and deleted."""
        fresh = self.create_key(user)
        self.deactivate(ref).delete_key(ref)
        return fresh

    def sweep(
        self, action: str = "ec2:DescribeInstances", regions: Iterable[str] = REGIONS
    ) -> JournalBuilder:
        for region in regions:
            self.call("responder", action, region=region)
        return self

    def terminate(self, instances: Iterable[tuple[str, str]]) -> JournalBuilder:
        by_region: dict[str, list[str]] = {}
        for instance_id, region in instances:
            by_region.setdefault(region, []).append(instance_id)
        for region, ids in by_region.items():
            self.call("responder", "ec2:TerminateInstances", {"InstanceIds": ids}, region=region)
        return self

    def remove_user(self, name: str) -> JournalBuilder:
        """What IAM makes a responder do: keys, then policies, then the user."""
        for key_id in self.user_keys.get(name, []):
            self.delete_key(key_id)
        for arn in self.user_policies.get(name, []):
            self.call("responder", "iam:DetachUserPolicy", {"UserName": name, "PolicyArn": arn})
        self.call("responder", "iam:DeleteUser", {"UserName": name})
        return self

    def put_secret(self, name: str, key_id: str | None) -> JournalBuilder:
        self.call(
            "responder",
            "secretsmanager:PutSecretValue",
            {"SecretId": name, "SecretString": "***"},
            {"Name": name, "VersionId": "b7e3c1d2", "SecretAccessKeyId": key_id},
        )
        return self

    def start_logging(self, trail: str) -> JournalBuilder:
        self.call("responder", "cloudtrail:StartLogging", {"Name": trail})
        return self

    def reply_to_case(self) -> JournalBuilder:
        self.call(
            "responder",
            "support:AddCommunicationToCase",
            {"caseId": self._case_id, "communicationBody": "Key disabled, clean-up done."},
            {"result": True},
        )
        return self

    def resolve_case(self) -> JournalBuilder:
        self.call("responder", "support:ResolveCase", {"caseId": self._case_id})
        return self

    def repo_private(self) -> JournalBuilder:
        self.event("repo.private", actor="responder")
        return self

    def repo_deleted(self) -> JournalBuilder:
        self.event("repo.deleted", actor="responder")
        return self

    def repo_pushed(self, *, key_in_history: bool, forced: bool = True) -> JournalBuilder:
        self.event(
            "repo.pushed",
            actor="responder",
            forced=forced,
            refs=["refs/heads/main"],
            key_in_history=key_in_history,
        )
        return self

    # ── the workload ──

    def probes(self, start: Moment, end: Moment, *, ok: bool) -> JournalBuilder:
        """A probe every `probe_every` from `start` up to (not including) `end`."""
        assert self.scenario.workload is not None
        every = self.scenario.workload.probe_every
        saved = self.now
        self.now = parse_duration(start)
        stop = parse_duration(end)
        while self.now < stop:
            self.event(
                "workload.probe",
                ok=ok,
                access_key_id=IN_THE_SECRET,
                error_code=None if ok else "InvalidClientTokenId",
            )
            self.now += every
        self.now = saved
        return self
