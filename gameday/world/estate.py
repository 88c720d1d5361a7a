"""Seeding the victim's estate into the mock account, dated as the scenario says.

Everything is created in-process in moto's backends, before the clock starts, so seeding
leaves no trace in the journal or CloudTrail (it is the account's past, not the exercise).
Ages in the scenario count back from T0, the push: a key of age 412d shows a CreateDate 412
days before the run's T0 to `aws iam list-access-keys`, and its last use as the scenario says.

Access keys carry exactly the IDs and secrets of `decoys.estate_credentials`, so the key in
the decoy repository is live here. The leaked key is registered to the attacker and the
workload's key to the workload; every other key is the responders' to use.

The responders are an estate user too, as they would be in their own account: the one the
scenario names (`responders.user`), or else a security on-call admin added to the estate
(`DEFAULT_RESPONDERS_USER`) — two years old, in the estate's admin group or with
AdministratorAccess, a console password with MFA, one access key about ninety days old and
used a few days ago. Its first active key is the one their AWS profile signs with.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gameday.scenario.model import DEFAULT_RESPONDERS_USER, Scenario, User
from gameday.world.account import (
    ADMINISTRATOR_ACCESS,
    MockAccount,
    Principal,
    backend,
    install_access_key,
    naive_utc,
)
from gameday.world.decoys import Credential, estate_credentials, generate_id, leaked_key_ref
from gameday.world.gateway import moto_time

# Things the scenario gives no age: the account is older than anything in it by this much.
ACCOUNT_MARGIN = timedelta(days=30)
DEFAULT_ACCOUNT_AGE = timedelta(days=3 * 365)
# Running instances were (re)launched by the last deployment, some days before the push.
INSTANCE_AGE = timedelta(days=12)
SEED_REGION = "us-east-1"


@dataclass(frozen=True)
class SeededKey:
    ref: str
    user_name: str
    credential: Credential
    status: str
    created: datetime


@dataclass(frozen=True)
class SeededEstate:
    """What later phases need to know of the seeded account."""

    account_id: str
    keys: Mapping[str, SeededKey]
    leaked: SeededKey
    workload: SeededKey | None
    responders: SeededKey  # the key the responders' profile signs with
    users: tuple[User, ...]  # every user seeded: the scenario's, and the responders' default
    user_arns: Mapping[str, str]
    instances: Mapping[str, tuple[str, ...]]
    secrets: Mapping[str, str]

    def credential(self, key_ref: str) -> Credential:
        return self.keys[key_ref].credential

    def user_of(self, key_ref: str) -> str:
        return self.keys[key_ref].user_name


def seed_estate(account: MockAccount, scenario: Scenario, *, seed: int = 0) -> SeededEstate:
    """Create the scenario's users, groups, roles, policies, keys, secrets, buckets, instances,
    and the responders' user; the account's responder signs as that user from then on."""
    with moto_time.following(account.clock):
        return _seed(account, scenario, seed)


def default_responders_user(scenario: Scenario, seed: int) -> User:
    """The security on-call admin added to an estate whose scenario names no responders' user.

    An engineer would recognise the account: a shared on-call admin made two years ago, in the
    estate's admin group when it has one (else with AdministratorAccess of its own), with a
    console password and MFA, and one access key rotated about ninety days ago and used a few
    days before the leak.
    """
    rng = random.Random(f"gameday-responders:{seed}:{scenario.account.id}")
    estate = scenario.account.estate
    admin_groups = [g.name for g in estate.groups if ADMINISTRATOR_ACCESS in g.policies]
    taken = {key.id for user in estate.users for key in user.keys}
    ref = f"{DEFAULT_RESPONDERS_USER}-key"
    while ref in taken:
        ref += "-x"
    day = 86400
    return User.model_validate(
        {
            "name": DEFAULT_RESPONDERS_USER,
            "age": rng.randint(700 * day, 760 * day),
            "groups": admin_groups[:1],
            "policies": [] if admin_groups else [ADMINISTRATOR_ACCESS],
            "keys": [
                {
                    "id": ref,
                    "age": rng.randint(84 * day, 97 * day),
                    "last_used": rng.randint(2 * day, 5 * day),
                    "last_used_service": "iam",
                    "last_used_region": scenario.account.regions[0],
                }
            ],
            "console": True,
            "mfa": True,
            "tags": {"team": "security", "purpose": "incident response on-call"},
        }
    )


def responders_user(scenario: Scenario, seed: int) -> User:
    """The estate user the responders sign as: the scenario's `responders.user`, or the default."""
    named = scenario.responders.user
    if named is None:
        return default_responders_user(scenario, seed)
    for user in scenario.account.estate.users:
        if user.name == named:
            return user
    raise ValueError(f"responders.user '{named}' is not a user of the estate")


def _with_user(scenario: Scenario, user: User) -> Scenario:
    estate = scenario.account.estate
    grown = estate.model_copy(update={"users": [*estate.users, user]})
    account = scenario.account.model_copy(update={"estate": grown})
    return scenario.model_copy(update={"account": account})


def _responders_key(user: User) -> str:
    for key in user.keys:
        if key.status == "Active":
            return key.id
    raise ValueError(f"user '{user.name}' has no active access key for the responders")


def _seed(account: MockAccount, scenario: Scenario, seed: int) -> SeededEstate:
    if scenario.account.id != account.account_id:
        raise ValueError(
            f"the mock serves account {account.account_id}, "
            f"the scenario is for {scenario.account.id}"
        )
    estate = scenario.account.estate
    t0 = account.clock.t0
    account_id = account.account_id
    rng = random.Random(f"gameday-estate:{seed}:{account_id}")
    credentials = estate_credentials(scenario, seed)
    born = t0 - _account_age(scenario)
    iam = account.iam()
    if scenario.account.alias:
        iam.create_account_alias(scenario.account.alias)

    policy_arns: dict[str, str] = {}
    for policy in estate.policies:
        created = iam.create_policy(
            description=policy.description,
            path=policy.path,
            policy_document=json.dumps(policy.document),
            policy_name=policy.name,
            tags=[],
        )
        created.id = generate_id("ANPA", account_id, rng)
        created.create_date = created.update_date = naive_utc(born)
        for version in created.versions:
            version.create_date = naive_utc(born)
        policy_arns[policy.name] = created.arn

    def arn_of(policy: str) -> str:
        return policy if policy.startswith("arn:") else policy_arns[policy]

    for group in estate.groups:
        made = iam.create_group(group.name, group.path)
        made.id = generate_id("AGPA", account_id, rng)
        made.create_date = naive_utc(born)
        for attached in group.policies:
            iam.attach_group_policy(arn_of(attached), group.name)

    for role in estate.roles:
        made = iam.create_role(
            role_name=role.name,
            assume_role_policy_document=json.dumps(
                _trust_document(role.trust.services, role.trust.accounts)
            ),
            path=role.path,
            permissions_boundary=None,
            description=role.description,
            tags=[],
            max_session_duration="3600",
        )
        # moto files a role under its id: file it again under the one it now has, or
        # DeleteRole would look for it under the old one and fail.
        del iam.roles[made.id]
        made.id = generate_id("AROA", account_id, rng)
        iam.roles[made.id] = made
        made.create_date = naive_utc(born)
        for attached in role.policies:
            iam.attach_role_policy(arn_of(attached), role.name)

    keys: dict[str, SeededKey] = {}
    user_arns: dict[str, str] = {}
    for user in estate.users:
        user_arns[user.name] = _seed_user(account, user, credentials, keys, arn_of, rng, born)
    users = list(estate.users)
    responders = responders_user(scenario, seed)
    if scenario.responders.user is None:
        # Its own streams: the estate's ids and keys stay what they are without it.
        users.append(responders)
        credentials = estate_credentials(_with_user(scenario, responders), seed)
        own = random.Random(f"gameday-responders-estate:{seed}:{account_id}")
        user_arns[responders.name] = _seed_user(
            account, responders, credentials, keys, arn_of, own, born
        )
    responders_key = keys[_responders_key(responders)]
    account.adopt_responder(
        Principal(
            user_name=responders.name,
            arn=user_arns[responders.name],
            actor="responder",
            credential=responders_key.credential,
        ),
        [keys[key.id].credential.access_key_id for key in responders.keys],
    )

    leaked = keys[leaked_key_ref(scenario)]
    account.register_key(leaked.credential.access_key_id, "attacker")
    workload: SeededKey | None = None
    if scenario.workload is not None:
        workload = keys[scenario.workload.key]
        account.register_key(workload.credential.access_key_id, "workload")

    secret_arns = _seed_secrets(account, scenario, credentials, rng, born)
    _seed_buckets(account, scenario, born)
    _seed_trails(account, scenario)
    instances = _seed_instances(account, scenario, t0 - INSTANCE_AGE)
    return SeededEstate(
        account_id=account_id,
        keys=keys,
        leaked=leaked,
        workload=workload,
        responders=responders_key,
        users=tuple(users),
        user_arns=user_arns,
        instances=instances,
        secrets=secret_arns,
    )


def _account_age(scenario: Scenario) -> timedelta:
    ages = [0.0]
    for user in scenario.account.estate.users:
        ages.append(user.age or 0.0)
        ages.extend(key.age for key in user.keys)
    oldest = timedelta(seconds=max(ages))
    return max(DEFAULT_ACCOUNT_AGE, oldest + ACCOUNT_MARGIN)


def _trust_document(services: list[str], accounts: list[str]) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    if services:
        statements.append(
            {"Effect": "Allow", "Principal": {"Service": services}, "Action": "sts:AssumeRole"}
        )
    if accounts:
        statements.append(
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
                "Action": "sts:AssumeRole",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _seed_user(
    account: MockAccount,
    user: User,
    credentials: Mapping[str, Credential],
    keys: dict[str, SeededKey],
    arn_of: Any,
    rng: random.Random,
    born: datetime,
) -> str:
    from moto.iam.models import AccessKeyLastUsed

    t0 = account.clock.t0
    iam = account.iam()
    oldest_key = max((key.age for key in user.keys), default=0.0)
    created = (
        t0 - timedelta(seconds=user.age)
        if user.age is not None
        else max(born, t0 - timedelta(seconds=oldest_key) - timedelta(days=1))
    )
    tags = [{"Key": k, "Value": v} for k, v in user.tags.items()]
    made = iam.create_user(region_name=SEED_REGION, user_name=user.name, path=user.path, tags=tags)
    made.id = generate_id("AIDA", account.account_id, rng)
    made.create_date = naive_utc(created)
    for group in user.groups:
        iam.add_user_to_group(group, user.name)
    for policy in user.policies:
        iam.attach_user_policy(arn_of(policy), user.name)
    for name, document in user.inline_policies.items():
        iam.put_user_policy(user.name, name, json.dumps(document))
    if user.console:
        iam.create_login_profile(user.name, _password(rng))
        made.password_last_used = naive_utc(t0 - timedelta(hours=rng.randint(2, 72)))
    if user.mfa:
        device = iam.create_virtual_mfa_device(device_name=user.name, path="/")
        iam.enable_mfa_device(user.name, device.serial_number, "123456", "654321")
        # moto dates both the virtual device and the user's record of it "now" (T0)
        enabled = naive_utc(created + timedelta(hours=1))
        device.enable_date = enabled
        made.mfa_devices[device.serial_number].enable_date = enabled
    for key in user.keys:
        credential = credentials[key.id]
        key_created = t0 - timedelta(seconds=key.age)
        moto_key = install_access_key(
            account.account_id, user.name, credential, status=key.status, created=key_created
        )
        if key.last_used is not None:
            moto_key.last_used = AccessKeyLastUsed(
                timestamp=naive_utc(t0 - timedelta(seconds=key.last_used)),
                service=key.last_used_service,
                region=key.last_used_region,
            )
        keys[key.id] = SeededKey(key.id, user.name, credential, key.status, key_created)
    return str(made.arn)


def _password(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*-_"
    return "".join(rng.choice(alphabet) for _ in range(20))


def _seed_secrets(
    account: MockAccount,
    scenario: Scenario,
    credentials: Mapping[str, Credential],
    rng: random.Random,
    born: datetime,
) -> dict[str, str]:
    arns: dict[str, str] = {}
    for secret in scenario.account.estate.secrets:
        if secret.from_key is not None:
            credential = credentials[secret.from_key]
            value = json.dumps(
                {
                    "aws_access_key_id": credential.access_key_id,
                    "aws_secret_access_key": credential.secret_access_key,
                }
            )
            # The secret was last written when the key it holds was created.
            changed = next(
                (
                    account.clock.t0 - timedelta(seconds=key.age)
                    for user in scenario.account.estate.users
                    for key in user.keys
                    if key.id == secret.from_key
                ),
                born,
            )
        elif isinstance(secret.value, dict):
            value, changed = json.dumps(secret.value), born
        elif isinstance(secret.value, str):
            value, changed = secret.value, born
        else:
            value, changed = _password(rng), born
        manager = backend("secretsmanager", account.account_id, secret.region)
        manager.create_secret(
            name=secret.name,
            secret_string=value,
            secret_binary=None,
            description=secret.description,
            tags=None,
            kms_key_id=None,
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        stored = manager.secrets[secret.name]
        stored.created_date = int(min(born, changed).timestamp())
        stored.last_changed_date = int(changed.timestamp())
        for version in stored.versions.values():
            version["createdate"] = int(changed.timestamp())
        arns[secret.name] = str(stored.arn)
    return arns


def _seed_buckets(account: MockAccount, scenario: Scenario, born: datetime) -> None:
    storage = backend("s3", account.account_id, "aws")
    for bucket in scenario.account.estate.buckets:
        made = storage.create_bucket(bucket.name, bucket.region)
        made.creation_date = born
        for item in bucket.objects:
            stored = storage.put_object(bucket.name, item.key, item.body.encode("utf-8"))
            stored.last_modified = naive_utc(account.clock.t0 - timedelta(days=1))


def _seed_trails(account: MockAccount, scenario: Scenario) -> None:
    for trail in scenario.account.estate.trails:
        trails = backend("cloudtrail", account.account_id, trail.region)
        trails.create_trail(
            trail.name,
            trail.bucket,
            "",
            "",
            True,
            trail.multi_region,
            True,
            False,
            "",
            "",
            "",
            [],
        )
        if trail.logging:
            trails.start_logging(trail.name)


def seeded_event(scenario: Scenario, estate: SeededEstate, account: MockAccount) -> dict[str, Any]:
    """The fields of the `world.seeded` journal event (docs/journal.md) for a seeded estate."""
    t0 = account.clock.t0
    return {
        "users": [
            {
                "name": user.name,
                "console": user.console,
                "keys": [
                    {
                        "ref": key.id,
                        "access_key_id": estate.credential(key.id).access_key_id,
                        "status": key.status,
                        "created_t": (estate.keys[key.id].created - t0).total_seconds(),
                    }
                    for key in user.keys
                ],
            }
            for user in estate.users
        ],
        "instances": [
            {"instance_id": i, "region": region}
            for region, ids in estate.instances.items()
            for i in ids
        ],
        "secrets": [
            {
                "name": s.name,
                "region": s.region,
                "key_ref": s.from_key,
                "access_key_id": estate.credential(s.from_key).access_key_id
                if s.from_key
                else None,
            }
            for s in scenario.account.estate.secrets
        ],
        "trails": [
            {"name": t.name, "region": t.region, "logging": t.logging}
            for t in scenario.account.estate.trails
        ],
        "principals": {
            "responder": [
                estate.keys[key.id].credential.access_key_id
                for user in estate.users
                if user.name == account.responder.user_name
                for key in user.keys
            ],
            "framework": account.framework_credential.access_key_id,
            "workload": estate.workload.credential.access_key_id if estate.workload else None,
            "attacker": estate.leaked.credential.access_key_id,
        },
    }


def _seed_instances(
    account: MockAccount, scenario: Scenario, launched: datetime
) -> dict[str, tuple[str, ...]]:
    by_region: dict[str, list[str]] = {}
    for group in scenario.account.estate.instances:
        compute = backend("ec2", account.account_id, group.region)
        image_id = _default_image(compute)
        reservation = compute.run_instances(
            image_id,
            group.count,
            None,
            [],
            instance_type=group.type,
            is_instance_type_default=False,
            placement=None,
            region_name=group.region,
            tags={"instance": {"Name": group.name, **group.tags}},
        )
        for instance in reservation.instances:
            instance.launch_time = naive_utc(launched)
            by_region.setdefault(group.region, []).append(str(instance.id))
    return {region: tuple(ids) for region, ids in by_region.items()}


# The company's own golden image, as an id: moto's public images are not loaded (see
# prepare_moto) and an instance needs no registered image to run in the mock.
WEB_TIER_IMAGE = "ami-0c7217cdde317cfec"


def _default_image(compute: Any) -> str:
    images = list(compute.amis.values())
    for image in images:
        if "amzn" in str(getattr(image, "name", "")).lower():
            return str(image.id)
    return str(images[0].id) if images else WEB_TIER_IMAGE
