"""What a well-drilled team does when AWS says a key has leaked.

1. Read the first notice AWS sends, whatever its channel (the support case, an email, the
   Health event, Enterprise Support's call, a chat alert): which key, which user, where it
   leaked. Triage before touching anything: is the key still active, and does a production
   service run with it (a secret in Secrets Manager holding that very key)?
2. Contain from another principal (the leaked key's own user is quarantined and cannot act).
   A service's key is rotated through its secret first, so the service never stops; then the
   key is deactivated — deactivated, not deleted, so the investigation keeps its subject. The
   repository goes private, kept as evidence.
3. Investigate in CloudTrail: every call the key made, then every call of the keys and users
   it created, until a round finds nothing new — in each region the company works in.
4. Eradicate: the attacker's keys first (so nothing relaunches), then its users, console
   passwords, roles, policies and functions; restart any trail that was stopped; then
   terminate what the attacker launched, in every region, including the never-used ones.
5. Recover: rotate every service key through its secret and every other key created before
   the exposure — a new key first, where the old one was used, then the old one off; the
   leaked key's user gets a new key too. Ask the owners of other secrets the attacker read to
   change them at the source; lift AWS's quarantine from a user that works again on a new
   key, once its leaked key is dead.
6. Communicate: take the key off the code host — delete the other branches and the tags
   (with their releases) whose history holds it and the release AWS cites, rewrite the
   default branch without it, and have support purge the old commits the host keeps —, reply
   to AWS's case (in the console when the support plan has no Support API), delete the
   leaked key.

A false alarm — the key was already inactive and nothing it tried succeeded — gets the
evidence, the tidy-up and the reply, and nothing that could break production.

The runbook learns what happened from the injects and the account: the notice, IAM, Secrets
Manager, CloudTrail, the repository. What the team knows of itself (the regions it works in)
comes from the scenario's account, as it would from the team's own inventory.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from gameday.exercise.responders import Notice, RunbookContext

QUARANTINE_POLICY = re.compile(r"^arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine(V\d)?$")
QUARANTINE_INLINE = "AWSExposedCredentialPolicy_DO_NOT_REMOVE"
PUBLIC_URL = re.compile(r"/blob/(?P<commit>[0-9a-f]{7,40})/(?P<path>.+)$")
# a release's download: the key is in the asset (an sdist, an image), maybe never committed
RELEASE_URL = re.compile(r"/releases/download/(?P<tag>[^/]+)/(?P<asset>[^/]+)$")
SECRET_KEY = re.compile(rb"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
OTHER_PARTITIONS = ("cn-", "us-gov-")
SERVICE_PICKUP = "2m"  # how long a service takes to read its rotated secret
CLOUDTRAIL_HISTORY = timedelta(days=90)  # how far back LookupEvents answers
# Every way AWS tells a customer of an exposed key: whichever comes first starts the response.
NOTICES = ("support-case", "email", "health-event", "phone-call", "webhook")


# ── what the team knows ───────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Incident:
    """The facts of AWS's notice."""

    account_id: str
    key_id: str
    user: str
    public_url: str
    key_created: datetime | None = None  # None: the key is already gone from IAM

    @classmethod
    def from_notices(cls, notices: list[Notice], aws: Any) -> Incident:
        """The facts of the notices received so far, the first one's first.

        Every notice names the key; not all name its user (the Health event and a chat
        alert do not) or say where it leaked. What no notice says, IAM does: the key's
        user from `GetAccessKeyLastUsed`, as AWS's own automation finds it.
        """
        facts: dict[str, str] = {}
        for notice in notices:
            for name in ("account_id", "access_key_id", "user_name", "public_url"):
                value = notice.data.get(name)
                if value and name not in facts:
                    facts[name] = str(value)
        key_id = facts["access_key_id"]
        user = facts.get("user_name")
        if user is None:
            used = aws.client("iam").get_access_key_last_used(AccessKeyId=key_id)
            user = str(used["UserName"])
        account = facts.get("account_id")
        if account is None:
            account = str(aws.client("sts").get_caller_identity()["Account"])
        created = key_created(aws.client("iam"), user, key_id)
        return cls(account, key_id, user, facts.get("public_url", ""), created)

    def history_start(self, now: datetime) -> datetime:
        """Where a CloudTrail search for the attacker starts: when the key was created
        (nobody used it before), or as far back as the event history goes.

        A leak is often noticed days after the push; a window counted back from the notice
        would miss what the attacker did first, and leave it behind.
        """
        oldest = now - CLOUDTRAIL_HISTORY
        return max(self.key_created, oldest) if self.key_created else oldest

    @property
    def leak_commit(self) -> str | None:
        found = PUBLIC_URL.search(self.public_url)
        return found.group("commit") if found else None

    @property
    def release(self) -> tuple[str, str] | None:
        """(tag, asset) when AWS found the key in a release's download."""
        found = RELEASE_URL.search(self.public_url)
        return (unquote(found.group("tag")), unquote(found.group("asset"))) if found else None


@dataclass(frozen=True)
class ServiceKey:
    """A production service's key, as held in its Secrets Manager secret."""

    secret: str
    region: str
    user: str
    key_id: str
    created: datetime


@dataclass
class Findings:
    """What CloudTrail says the attacker did and left behind."""

    keys: dict[str, str] = field(default_factory=dict)  # access key id → its user
    users: list[str] = field(default_factory=list)
    login_profiles: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)  # managed policy ARNs it created
    attached: list[tuple[str, str, str]] = field(default_factory=list)  # (user|role, name, arn)
    inline: list[tuple[str, str, str]] = field(default_factory=list)  # (user|role, name, policy)
    functions: list[tuple[str, str]] = field(default_factory=list)  # (region, name)
    trails: list[tuple[str, str]] = field(default_factory=list)  # (region, trail) it stopped
    secrets_read: list[tuple[str, str]] = field(default_factory=list)  # (region, secret id)
    sessions: list[str] = field(default_factory=list)  # roles it took temporary credentials of
    user_sessions: list[str] = field(default_factory=list)  # users whose own sessions it took
    succeeded: int = 0  # calls of the attacker's principals that worked

    def principals(self) -> set[str]:
        return set(self.users) | set(self.keys)

    def left_behind(self) -> str:
        """What the attacker created and eradication removes."""
        return _listing(
            ("users", self.users),
            ("access keys", [f"{k} ({u})" for k, u in self.keys.items()]),
            ("console passwords", self.login_profiles),
            ("roles", self.roles),
            ("policies", self.policies + [f"{a} on {n}" for _, n, a in self.attached]),
            ("inline policies", [f"{p} on {n}" for _, n, p in self.inline]),
            ("functions", [name for _, name in self.functions]),
        )

    def touched(self) -> str:
        """What the attacker changed or read without creating anything."""
        return _listing(
            ("stopped trails", [name for _, name in self.trails]),
            ("secrets read", [secret_name(name) for _, name in self.secrets_read]),
            ("role sessions taken", self.sessions),
            ("user sessions taken", self.user_sessions),
        )


def _listing(*parts: tuple[str, list[str]]) -> str:
    found = [f"{label}: {', '.join(items)}" for label, items in parts if items]
    return "; ".join(found) or "nothing"


# ── the response ──────────────────────────────────────────────────────────────────────────


def respond(ctx: RunbookContext) -> None:
    first = ctx.wait_for(NOTICES)
    incident = Incident.from_notices([first, *ctx.inbox()], ctx.aws)
    ctx.note(f"Incident opened for {incident.key_id} ({incident.user}); incident lead assigned")
    iam = ctx.aws.client("iam")

    # triage: read-only questions first
    ctx.sleep("2m")
    status = key_status(iam, incident)
    last_used = last_use(iam, incident)
    services = service_keys(ctx)
    breach = breach_time(ctx, incident)
    if status != "Active":
        findings = investigate(ctx, incident)
        if not findings.succeeded:
            respond_to_dead_key(ctx, incident, status, last_used)
            return
        # Dead now, but it worked for someone: an incident like any other (or this runbook
        # starting again after a recovery — everything below looks before it acts).

    # contain
    retired: list[tuple[str, str]] = []  # (user, key) deactivated, to delete at the end
    if status == "Active":
        ctx.sleep("1m")
        for service in services:
            if service.key_id == incident.key_id:
                ctx.note(f"{incident.key_id} is the key {service.secret} holds: rotating first")
                retired.append(rotate_service(ctx, service))
        if not retired:
            iam.update_access_key(
                UserName=incident.user, AccessKeyId=incident.key_id, Status="Inactive"
            )
    ctx.make_repo_private()
    ctx.note(f"{incident.key_id} deactivated; repository made private")

    # investigate
    ctx.sleep("3m")
    findings = investigate(ctx, incident)
    ctx.note(
        f"CloudTrail: {findings.succeeded} successful calls by the key and what it made; left: "
        f"{findings.left_behind()}; also: {findings.touched()}"
    )

    # eradicate
    ctx.sleep("3m")
    eradicate(ctx, findings)
    restart_trails(ctx)
    sweep_regions(ctx, incident, findings, breach)

    # recover
    ctx.sleep("3m")
    for service in services:
        if service.key_id != incident.key_id and service.created < breach:
            retired.append(rotate_service(ctx, service))
    rotated = {service.secret for service in services}
    for region, secret in findings.secrets_read:
        if secret_name(secret) not in rotated:
            ctx.note(f"{secret_name(secret)} ({region}) was read: its owner changes it at source")
    rotate_old_keys(ctx, incident, breach, skip={s.user for s in services})
    lift_quarantine(ctx, incident)

    # communicate, then finish the leaked key
    ctx.sleep("2m")
    clean_code_host(ctx, incident)
    reply_to_case(ctx, report_text(incident, findings))
    for user, key in [(incident.user, incident.key_id), *retired]:
        ignore_missing(iam.delete_access_key, UserName=user, AccessKeyId=key)
    ctx.note("Leaked key deleted after the investigation; retired service keys deleted")


def respond_to_dead_key(
    ctx: RunbookContext, incident: Incident, status: str, last_used: datetime | None
) -> None:
    """The key could not be used: prove it, tidy up, tell AWS — and change nothing else."""
    ctx.make_repo_private()
    used = f"last used {last_used:%Y-%m-%d %H:%M} UTC" if last_used else "never used"
    ctx.note(f"{incident.key_id} was {status} at the notice, {used}; every call was refused")
    ctx.sleep("3m")
    clean_code_host(ctx, incident)
    reply_to_case(
        ctx,
        f"The exposed key {incident.key_id} ({incident.user}) was {status.lower()} when it was "
        f"published and was {used}. CloudTrail shows that every call made with it since was "
        "refused. We deleted the key, made the repository private and removed the key from "
        "its history. No other change was needed.",
    )
    ignore_missing(
        ctx.aws.client("iam").delete_access_key,
        UserName=incident.user,
        AccessKeyId=incident.key_id,
    )
    ctx.note("False alarm confirmed and documented; the dead key is deleted")


# ── triage ────────────────────────────────────────────────────────────────────────────────


def company_regions(ctx: RunbookContext) -> list[str]:
    """The regions the company works in: its inventory (here, the scenario's account)."""
    if ctx.scenario is not None:
        return [str(region) for region in ctx.scenario.account.regions]
    return [str(ctx.aws.region_name)]


def last_use(iam: Any, incident: Incident) -> datetime | None:
    with ignoring("NoSuchEntity"):
        used = iam.get_access_key_last_used(AccessKeyId=incident.key_id)["AccessKeyLastUsed"]
        moment = used.get("LastUsedDate")
        return moment if isinstance(moment, datetime) else None
    return None


def key_created(iam: Any, user: str, key_id: str) -> datetime | None:
    """When the key was created, or None when it no longer exists."""
    with ignoring("NoSuchEntity"):
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            if key["AccessKeyId"] == key_id:
                created = key["CreateDate"]
                return created if isinstance(created, datetime) else None
    return None


def key_status(iam: Any, incident: Incident) -> str:
    try:
        keys = iam.list_access_keys(UserName=incident.user)["AccessKeyMetadata"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "NoSuchEntity":
            return "Deleted"
        raise
    for key in keys:
        if key["AccessKeyId"] == incident.key_id:
            return str(key["Status"])
    return "Deleted"


def service_keys(ctx: RunbookContext) -> list[ServiceKey]:
    """Secrets that hold an access key: what production services run with."""
    iam = ctx.aws.client("iam")
    found: list[ServiceKey] = []
    for region in company_regions(ctx):
        secrets = ctx.aws.client("secretsmanager", region_name=region)
        for page in secrets.get_paginator("list_secrets").paginate():
            for entry in page["SecretList"]:
                try:
                    text = secrets.get_secret_value(SecretId=entry["ARN"]).get("SecretString")
                    value = json.loads(text or "")
                except (ClientError, ValueError):
                    continue
                key_id = value.get("aws_access_key_id") if isinstance(value, dict) else None
                if not key_id:
                    continue
                try:
                    user = str(iam.get_access_key_last_used(AccessKeyId=key_id)["UserName"])
                    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
                except ClientError:
                    continue
                for key in keys:
                    if key["AccessKeyId"] == key_id:
                        found.append(
                            ServiceKey(entry["Name"], region, user, str(key_id), key["CreateDate"])
                        )
    return found


def breach_time(ctx: RunbookContext, incident: Incident) -> datetime:
    """When the key went public: the leak commit's date, read from the repository."""
    commit = incident.leak_commit
    if commit is None and incident.release is not None:
        commit = f"refs/tags/{incident.release[0]}^{{commit}}"  # the release's build
    if commit:
        shown = git(Path(ctx.repo), "show", "-s", "--format=%ct", commit, check=False)
        if shown.returncode == 0 and shown.stdout.strip():
            return datetime.fromtimestamp(int(shown.stdout.decode().strip()), UTC)
    return ctx.time() - timedelta(seconds=ctx.now())


# ── containment and rotation ──────────────────────────────────────────────────────────────


def rotate_service(ctx: RunbookContext, service: ServiceKey) -> tuple[str, str]:
    """New key into the secret, let the service pick it up, then deactivate the old key.

    Returns the retired key: deleted at the end, once the investigation is done with it.
    """
    iam = ctx.aws.client("iam")
    secrets = ctx.aws.client("secretsmanager", region_name=service.region)
    make_room(iam, service.user, keep=service.key_id)
    fresh = iam.create_access_key(UserName=service.user)["AccessKey"]
    secrets.put_secret_value(
        SecretId=service.secret,
        SecretString=json.dumps(
            {
                "aws_access_key_id": fresh["AccessKeyId"],
                "aws_secret_access_key": fresh["SecretAccessKey"],
            }
        ),
    )
    ctx.sleep(SERVICE_PICKUP)
    iam.update_access_key(UserName=service.user, AccessKeyId=service.key_id, Status="Inactive")
    ctx.note(f"Rotated {service.user}'s key through {service.secret}; the old one is inactive")
    return service.user, service.key_id


def make_room(iam: Any, user: str, keep: str | set[str]) -> None:
    """An IAM user holds two keys at most: delete an inactive spare to make room."""
    kept = {keep} if isinstance(keep, str) else keep
    keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    if len(keys) < 2:
        return
    for key in keys:
        if key["Status"] == "Inactive" and key["AccessKeyId"] not in kept:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
            return


def rotate_old_keys(
    ctx: RunbookContext, incident: Incident, breach: datetime, skip: set[str]
) -> None:
    """Every user but services and ourselves whose keys predate the breach gets a new key
    (handed to its owner out of band) before its old ones are deactivated — the leaked key's
    user too: the leaked key is dead, but whoever used it needs one that works."""
    iam = ctx.aws.client("iam")
    myself = ctx.aws.client("sts").get_caller_identity()["Arn"].rsplit("/", 1)[-1]
    rotated = 0
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            name = user["UserName"]
            if name == myself or name in skip:
                continue
            keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
            old = [
                key
                for key in keys
                if key["CreateDate"] < breach
                and (key["Status"] == "Active" or key["AccessKeyId"] == incident.key_id)
            ]
            if not old:
                continue
            if not any(k["Status"] == "Active" and k["CreateDate"] >= breach for k in keys):
                make_room(iam, name, keep={key["AccessKeyId"] for key in old})
                iam.create_access_key(UserName=name)  # handed to its owner out of band
            for key in old:
                if key["Status"] == "Active":
                    iam.update_access_key(
                        UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive"
                    )
            rotated += len(old)
    ctx.note(f"Rotated {rotated} access key(s) created before the exposure")


def lift_quarantine(ctx: RunbookContext, incident: Incident) -> None:
    """Once the leaked key is dead, a user that still runs a service gets its powers back."""
    iam = ctx.aws.client("iam")
    try:
        keys = iam.list_access_keys(UserName=incident.user)["AccessKeyMetadata"]
    except ClientError:
        return
    leaked_dead = all(k["Status"] != "Active" for k in keys if k["AccessKeyId"] == incident.key_id)
    still_working = any(
        k["Status"] == "Active" and k["AccessKeyId"] != incident.key_id for k in keys
    )
    if not (leaked_dead and still_working):
        return
    for policy in iam.list_attached_user_policies(UserName=incident.user)["AttachedPolicies"]:
        if QUARANTINE_POLICY.match(policy["PolicyArn"]):
            iam.detach_user_policy(UserName=incident.user, PolicyArn=policy["PolicyArn"])
    if QUARANTINE_INLINE in iam.list_user_policies(UserName=incident.user)["PolicyNames"]:
        iam.delete_user_policy(UserName=incident.user, PolicyName=QUARANTINE_INLINE)
    ctx.note(f"Lifted AWS's quarantine from {incident.user}: it runs on its new key")


# ── investigation ─────────────────────────────────────────────────────────────────────────


def lookup(
    ctx: RunbookContext, incident: Incident, region: str, key: str, value: str
) -> Iterator[dict[str, Any]]:
    """Every event of the region's history that matches, since the leaked key could be used."""
    trail = ctx.aws.client("cloudtrail", region_name=region)
    now = ctx.time()
    pages = trail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
        StartTime=incident.history_start(now),
        EndTime=now,
    )
    for page in pages:
        for event in page["Events"]:
            yield json.loads(event["CloudTrailEvent"])


def investigate(ctx: RunbookContext, incident: Incident) -> Findings:
    """Follow the leaked key through CloudTrail to every principal it created, and theirs."""
    findings = Findings()
    regions = list(dict.fromkeys(["us-east-1", *company_regions(ctx)]))  # IAM logs in us-east-1
    queue: list[tuple[str, str]] = [("AccessKeyId", incident.key_id)]
    followed: set[tuple[str, str]] = set()
    while queue:
        attribute = queue.pop(0)
        if attribute in followed:
            continue
        followed.add(attribute)
        for region in regions:
            for record in lookup(ctx, incident, region, *attribute):
                if record.get("errorCode"):
                    continue
                findings.succeeded += 1
                queue += note_event(record, findings, incident)
    return findings


def note_event(record: dict[str, Any], findings: Findings, incident: Incident) -> list[Any]:
    """Record what one successful call created; return principals to follow next."""
    name = record["eventName"]
    request = record.get("requestParameters") or {}
    response = record.get("responseElements") or {}
    follow: list[tuple[str, str]] = []
    if name == "CreateUser":
        findings.users.append(request["userName"])
        follow.append(("Username", request["userName"]))
    elif name == "CreateAccessKey":
        minted = response.get("accessKey") or {}
        if minted.get("accessKeyId"):
            owner = request.get("userName") or minted.get("userName") or ""
            findings.keys[minted["accessKeyId"]] = owner
            follow.append(("AccessKeyId", minted["accessKeyId"]))
    elif name == "CreateLoginProfile":
        findings.login_profiles.append(request["userName"])
    elif name == "CreateRole":
        findings.roles.append(request["roleName"])
    elif name == "CreatePolicy":
        path = request.get("path") or "/"
        findings.policies.append(
            f"arn:aws:iam::{incident.account_id}:policy{path}{request['policyName']}"
        )
    elif name in ("AttachUserPolicy", "AttachRolePolicy"):
        kind = "user" if name == "AttachUserPolicy" else "role"
        target = str(request.get("userName") or request.get("roleName"))
        findings.attached.append((kind, target, str(request["policyArn"])))
    elif name in ("PutUserPolicy", "PutRolePolicy"):
        kind = "user" if name == "PutUserPolicy" else "role"
        target = str(request.get("userName") or request.get("roleName"))
        findings.inline.append((kind, target, str(request["policyName"])))
    elif name == "CreateFunction" or name.startswith("CreateFunction20"):
        findings.functions.append((record["awsRegion"], request["functionName"]))
    elif name in ("StopLogging", "DeleteTrail"):
        findings.trails.append((record["awsRegion"], request.get("name", "")))
    elif name == "GetSecretValue":
        findings.secrets_read.append((record["awsRegion"], request.get("secretId", "")))
    elif name == "AssumeRole":
        # Temporary credentials outlive the key that took them: revoke the role's sessions,
        # and follow what the session itself did.
        role = str(request.get("roleArn", "")).rsplit("/", 1)[-1]
        if role and role not in findings.sessions:
            findings.sessions.append(role)
        session_key = (response.get("credentials") or {}).get("accessKeyId")
        if session_key:
            follow.append(("AccessKeyId", session_key))
    elif name == "GetSessionToken":
        # The user's own session acts as the user, whatever becomes of the key.
        user = str((record.get("userIdentity") or {}).get("userName") or "")
        if user and user not in findings.user_sessions:
            findings.user_sessions.append(user)
        session_key = (response.get("credentials") or {}).get("accessKeyId")
        if session_key:
            follow.append(("AccessKeyId", session_key))
    return follow


# ── eradication ───────────────────────────────────────────────────────────────────────────


def eradicate(ctx: RunbookContext, findings: Findings) -> None:
    iam = ctx.aws.client("iam")
    # keys first: an attacker with no working key cannot relaunch or re-create anything
    for key, user in findings.keys.items():
        ignore_missing(iam.delete_access_key, UserName=user, AccessKeyId=key)
    created = set(findings.users)
    for user in findings.login_profiles:
        if user not in created:
            ignore_missing(iam.delete_login_profile, UserName=user)
    for kind, name, arn in findings.attached:
        if name in created or name in findings.roles:
            continue  # goes with its principal
        if kind == "user":
            ignore_missing(iam.detach_user_policy, UserName=name, PolicyArn=arn)
        else:
            ignore_missing(iam.detach_role_policy, RoleName=name, PolicyArn=arn)
    for kind, name, policy in findings.inline:
        if name in created or name in findings.roles:
            continue
        if kind == "user":
            ignore_missing(iam.delete_user_policy, UserName=name, PolicyName=policy)
        else:
            ignore_missing(iam.delete_role_policy, RoleName=name, PolicyName=policy)
    for user in findings.users:
        ignore_missing(delete_user, iam, user)
    for role in findings.roles:
        ignore_missing(delete_role, iam, role)
    for arn in findings.policies:
        ignore_missing(delete_policy, iam, arn)
    for role in findings.sessions:
        if role not in findings.roles:  # a role the attacker made goes altogether
            revoke_sessions(iam, role, ctx.time())
    for user in findings.user_sessions:
        if user not in findings.users:  # a user the attacker made goes altogether
            revoke_sessions(iam, user, ctx.time(), kind="user")
    for region, function in findings.functions:
        lambdas = ctx.aws.client("lambda", region_name=region)
        with ignoring("ResourceNotFoundException"):
            lambdas.delete_function(FunctionName=function)
    ctx.note(f"Removed what the attacker left: {findings.left_behind()}")


def revoke_sessions(iam: Any, name: str, now: datetime, kind: str = "role") -> None:
    """What the IAM console's "Revoke active sessions" does: deny every session of the role
    (or of the user's own) issued before now; sessions issued later still work."""
    issued_before = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}},
            }
        ],
    }
    with ignoring("NoSuchEntity"):
        if kind == "user":
            iam.put_user_policy(
                UserName=name,
                PolicyName="AWSRevokeOlderSessions",
                PolicyDocument=json.dumps(document),
            )
        else:
            iam.put_role_policy(
                RoleName=name,
                PolicyName="AWSRevokeOlderSessions",
                PolicyDocument=json.dumps(document),
            )


def delete_user(iam: Any, user: str) -> None:
    for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    ignore_missing(iam.delete_login_profile, UserName=user)
    for policy in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=user, PolicyArn=policy["PolicyArn"])
    for policy in iam.list_user_policies(UserName=user)["PolicyNames"]:
        iam.delete_user_policy(UserName=user, PolicyName=policy)
    for group in iam.list_groups_for_user(UserName=user)["Groups"]:
        iam.remove_user_from_group(UserName=user, GroupName=group["GroupName"])
    iam.delete_user(UserName=user)


def delete_role(iam: Any, role: str) -> None:
    for policy in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=role, PolicyArn=policy["PolicyArn"])
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=policy)
    for profile in iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]:
        iam.remove_role_from_instance_profile(
            InstanceProfileName=profile["InstanceProfileName"], RoleName=role
        )
    iam.delete_role(RoleName=role)


def delete_policy(iam: Any, arn: str) -> None:
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    for user in entities["PolicyUsers"]:
        iam.detach_user_policy(UserName=user["UserName"], PolicyArn=arn)
    for role in entities["PolicyRoles"]:
        iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
    for group in entities["PolicyGroups"]:
        iam.detach_group_policy(GroupName=group["GroupName"], PolicyArn=arn)
    for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
        if not version["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
    iam.delete_policy(PolicyArn=arn)


def restart_trails(ctx: RunbookContext) -> None:
    """A trail that exists but does not log is worse than none: it looks fine."""
    homes: set[tuple[str, str]] = set()
    for region in company_regions(ctx):
        trails = ctx.aws.client("cloudtrail", region_name=region)
        for trail in trails.describe_trails(includeShadowTrails=True)["trailList"]:
            homes.add((str(trail.get("HomeRegion") or region), str(trail["TrailARN"])))
    for region, arn in sorted(homes):
        trails = ctx.aws.client("cloudtrail", region_name=region)
        if not trails.get_trail_status(Name=arn).get("IsLogging"):
            trails.start_logging(Name=arn)
            ctx.note(f"Restarted logging on {arn}")


def sweep_regions(
    ctx: RunbookContext, incident: Incident, findings: Findings, breach: datetime
) -> None:
    """Every region, used or not: terminate what the attacker launched.

    In a region the company never uses, every running instance and every Lambda function is
    the attacker's. In the company's own regions, an instance launched since the breach is
    the attacker's when CloudTrail says one of the attacker's principals launched it.
    """
    ours = set(company_regions(ctx))
    attacker = findings.principals() | {incident.key_id, incident.user}
    regions = ctx.aws.client("ec2").describe_regions()["Regions"]
    for region in sorted(r["RegionName"] for r in regions):
        if region.startswith(OTHER_PARTITIONS):
            continue  # China and GovCloud are other partitions: this account's keys do not work
        ec2 = ctx.aws.client("ec2", region_name=region)
        reservations = ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        )["Reservations"]
        rogue = [
            instance["InstanceId"]
            for reservation in reservations
            for instance in reservation["Instances"]
            if region not in ours
            or (
                instance["LaunchTime"] >= breach
                and launched_by(ctx, incident, region, instance["InstanceId"]) & attacker
            )
        ]
        if rogue:
            ec2.terminate_instances(InstanceIds=rogue)
            ctx.note(f"Terminated {len(rogue)} rogue instance(s) in {region}")
        if region not in ours:
            # AWS's notice asks for Lambda functions too, in every region: in one the company
            # never uses, every function is the attacker's (its own regions were followed
            # through CloudTrail by `investigate`)
            lambdas = ctx.aws.client("lambda", region_name=region)
            functions = [
                function["FunctionName"]
                for page in lambdas.get_paginator("list_functions").paginate()
                for function in page["Functions"]
            ]
            for function in functions:
                ignore_missing(lambdas.delete_function, FunctionName=function)
            if functions:
                ctx.note(f"Deleted {len(functions)} rogue Lambda function(s) in {region}")


def launched_by(ctx: RunbookContext, incident: Incident, region: str, instance_id: str) -> set[str]:
    """The key and user that launched an instance, from the region's event history."""
    for record in lookup(ctx, incident, region, "ResourceName", instance_id):
        if record["eventName"] == "RunInstances" and not record.get("errorCode"):
            identity = record.get("userIdentity") or {}
            return {str(identity.get("accessKeyId")), str(identity.get("userName"))}
    return set()


# ── the repository ────────────────────────────────────────────────────────────────────────


def git(
    repo: Path, *args: str, stdin: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    environment["GIT_TERMINAL_PROMPT"] = "0"
    result = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, env=environment, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"git {args[0]}: {result.stderr.decode(errors='replace').strip()}")
    return result


def scrub(stream: bytes, key_id: bytes) -> tuple[bytes, bool]:
    """A fast-export stream with the key, and the secret beside it, masked in every blob."""
    out = bytearray()
    found = False
    position = 0
    while position < len(stream):
        end = stream.index(b"\n", position) + 1
        line = stream[position:end]
        position = end
        if not line.startswith(b"data "):
            out += line
            continue
        size = int(line[5:].strip())
        body = stream[position : position + size]
        position += size
        if key_id in body:
            found = True
            body = SECRET_KEY.sub(b"REMOVED", body.replace(key_id, b"REMOVED"))
        out += b"data %d\n" % len(body) + body
    return bytes(out), found


def clean_code_host(ctx: RunbookContext, incident: Incident) -> None:
    """Take the key out of every place the code host serves it from: the branches and tags
    whose history holds it (another branch and a tag are deleted with the tag's release, the
    default branch rewritten), the release AWS cites, then — the host keeps the old commits
    a force-push leaves, served by their id — support purges those."""
    repo = Path(ctx.repo)
    git(repo, "fetch", "--quiet", "--prune", "--tags", "--force", "origin", check=False)
    leaked = key_commits(repo, incident)
    default = git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False)  # as cloned
    contains = [f"--contains={commit}" for commit in leaked]
    holding = git(repo, "for-each-ref", "--format=%(refname)", *contains, check=False)
    for ref in holding.stdout.decode().split() if contains else []:
        if ref.startswith("refs/tags/"):
            tag = ref.removeprefix("refs/tags/")
            for action in ("delete-release", "delete-tag"):
                host_action(ctx, action, tag)
            git(repo, "tag", "-d", tag, check=False)
        elif ref.startswith("refs/remotes/origin/") and ref != "refs/remotes/origin/HEAD":
            branch = ref.removeprefix("refs/remotes/origin/")
            if branch != default.stdout.decode().strip():
                host_action(ctx, "delete-branch", branch)
                git(repo, "update-ref", "-d", ref, check=False)
                git(repo, "branch", "-D", branch, check=False)
    take_down_release(ctx, incident)
    if purge_history(ctx, incident):
        ctx.note("Rewrote the repository's history without the key and force-pushed it")
    cited = [incident.leak_commit] if incident.leak_commit else []
    for commit in dict.fromkeys([*cited, *leaked]):
        if host_action(ctx, "purge-commit", commit):
            break  # support purges every commit the host keeps unreachable at once


def key_commits(repo: Path, incident: Incident) -> list[str]:
    """The commits of the clone that bring the key in: in a file (plain, or base64 as in a
    Kubernetes Secret) or in the message."""
    key = incident.key_id
    found: list[str] = []
    encoded = base64.b64encode(key.encode()).decode()
    for search in (f"-S{key}", f"-S{encoded}", f"--grep={key}"):
        listed = git(repo, "log", "--all", "-F", search, "--format=%H", check=False)
        found += listed.stdout.decode().split()
    return list(dict.fromkeys(found))


def host_action(ctx: RunbookContext, action: str, target: str) -> bool:
    """One of the code host's buttons; False (noted) when the host refuses it."""
    try:
        ctx.note(ctx.repo_action(action, target))
    except Exception as error:  # the host refuses: gone already, or nothing to do
        ctx.note(f"Code host, {action} {target}: {error}")
        return False
    return True


def take_down_release(ctx: RunbookContext, incident: Incident) -> None:
    """A key found in a release's download: delete the release with its assets (the key is
    rotated already; a history rewrite cannot reach a file that was never committed)."""
    if incident.release is None:
        return
    tag, asset = incident.release
    try:
        ctx.repo_action("delete-release", tag)
    except Exception as error:  # the host refuses: gone already
        ctx.note(f"Release {tag}: {error}")
        return
    ctx.note(f"Deleted release {tag} and its asset {asset}, which held the key")


def purge_history(ctx: RunbookContext, incident: Incident) -> bool:
    """Rewrite every commit without the key and force-push: new clones no longer carry it."""
    repo = Path(ctx.repo)
    # colleagues may have pushed since the clone was made: rewrite their commits too
    git(repo, "pull", "--ff-only", "--quiet", check=False)
    exported = git(repo, "fast-export", "--all", "--signed-tags=strip").stdout
    cleaned, found = scrub(exported, incident.key_id.encode())
    if not found:
        return False
    git(repo, "fast-import", "--force", "--quiet", stdin=cleaned)
    git(repo, "reset", "--hard", "--quiet")
    git(repo, "push", "--force", "--all", "origin")
    git(repo, "push", "--force", "--tags", "origin")
    return True


# ── communication ─────────────────────────────────────────────────────────────────────────


def report_text(incident: Incident, findings: Findings) -> str:
    return (
        f"We deactivated {incident.key_id} ({incident.user}) from another principal and "
        "reviewed its CloudTrail activity and that of everything it created. We removed what "
        f"the attacker left ({findings.left_behind()}) and dealt with what else it touched "
        f"({findings.touched()}). We terminated unauthorised instances in every region, "
        "restarted logging where it had been stopped, and rotated every service key through "
        "its secret and every other key older than the exposure. The repository is "
        "private and its history no longer holds the key; the leaked key is deleted. The "
        "account owner is changing the root password and confirming root MFA."
    )


def reply_to_case(ctx: RunbookContext, text: str) -> None:
    support = ctx.aws.client("support", region_name="us-east-1")
    try:
        cases = support.describe_cases(includeResolvedCases=False)["cases"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "SubscriptionRequiredException":
            raise
        # Basic and Developer Support have no Support API: the reply goes through the console.
        ctx.note(f"Replied on the case in the Support Center console: {text}")
        return
    for case in cases:
        support.add_communication_to_case(caseId=case["caseId"], communicationBody=text)
    ctx.note("Replied to AWS on the support case")


# ── small helpers ─────────────────────────────────────────────────────────────────────────


def secret_name(secret_id: str) -> str:
    """A secret's name from its name or ARN (`…:secret:NAME-AbCdEf`)."""
    if secret_id.startswith("arn:") and ":secret:" in secret_id:
        return re.sub(r"-[A-Za-z0-9]{6}$", "", secret_id.split(":secret:", 1)[1])
    return secret_id


class ignoring:
    """Swallow the listed AWS error codes (something already gone is not a failure)."""

    def __init__(self, *codes: str) -> None:
        self.codes = codes

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> bool:
        return isinstance(error, ClientError) and error.response["Error"]["Code"] in self.codes


def ignore_missing(call: Callable[..., object], *args: Any, **params: Any) -> None:
    with ignoring("NoSuchEntity"):
        call(*args, **params)
