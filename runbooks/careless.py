"""A panicking team: fast, busy, and wrong in the ways real teams are wrong under pressure.

What it does, minutes after the notice, in this order:
1. "Is that really our key?" — it copies the key and secret out of the leaked file and calls
   sts:GetCallerIdentity with them, mixing its own call into the attacker's trail.
2. Deletes the repository: out of sight, and the evidence with it.
3. Deletes the leaked key at once, with no look at CloudTrail first.
4. "Rotates" by deleting every access key older than the notice — a production service's key
   included, with nothing in its secret to replace it.
5. Deletes the IAM users created in the last day (the obvious backdoor) but looks no
   further: keys on existing users, console passwords and roles stay.
6. Terminates the instances launched in the last day in the regions it works in — and never
   looks at the others.
7. Tells AWS it is all fixed.

Every scenario of the library should fail with it: it is the yardstick of what the scoring
catches (penalties, outages, leftovers), not a strawman of any one scenario.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

RECENT = timedelta(days=1)  # "anything from the last day is suspicious"
PUBLIC_URL = re.compile(r"/blob/(?P<commit>[0-9a-f]{7,40})/(?P<path>.+)$")
RELEASE_URL = re.compile(r"/releases/download/(?P<tag>[^/]+)/(?P<asset>[^/]+)$")
SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def respond(ctx: RunbookContext) -> None:
    notice = ctx.wait_for("email").data
    key_id, user = str(notice["access_key_id"]), str(notice["user_name"])
    noticed = ctx.time()
    ctx.note(f"AWS says {key_id} leaked — everybody on it!")
    # Errors are somebody else's problem today: every step below shrugs them off.
    ctx.sleep("90s")

    secret = secret_from_repository(Path(ctx.repo), str(notice.get("public_url", "")), key_id)
    if secret is not None:
        with suppress(ClientError):
            ctx.aws.client(
                "sts", aws_access_key_id=key_id, aws_secret_access_key=secret
            ).get_caller_identity()
        ctx.note("Tried the leaked key ourselves to see whose it is")

    ctx.delete_repo()
    iam = ctx.aws.client("iam")
    with suppress(ClientError):
        iam.delete_access_key(UserName=user, AccessKeyId=key_id)
    ctx.note("Repository deleted, leaked key deleted")

    ctx.sleep("2m")
    ours = ctx.aws.get_credentials().access_key  # the one key nobody here would delete
    for name in everyone(iam):
        for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            if key["CreateDate"] < noticed and key["AccessKeyId"] != ours:
                with suppress(ClientError):
                    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    ctx.note("Deleted every old access key, just to be safe")

    ctx.sleep("2m")
    for name in everyone(iam):
        created = iam.get_user(UserName=name)["User"]["CreateDate"]
        if created >= noticed - RECENT:
            with suppress(ClientError):
                delete_user(iam, name)
                ctx.note(f"Deleted the suspicious user {name}")

    for region in regions_we_use(ctx):
        ec2 = ctx.aws.client("ec2", region_name=region)
        running = ec2.describe_instances(
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        )["Reservations"]
        strangers = [
            instance["InstanceId"]
            for reservation in running
            for instance in reservation["Instances"]
            if instance["LaunchTime"] >= noticed - RECENT
        ]
        if strangers:
            ec2.terminate_instances(InstanceIds=strangers)
    ctx.note("Killed the strange instances")

    with suppress(ClientError):
        support = ctx.aws.client("support", region_name="us-east-1")
        for case in support.describe_cases()["cases"]:
            support.add_communication_to_case(
                caseId=case["caseId"], communicationBody="Key deleted. All fixed, thanks."
            )
    ctx.note("Told AWS it is fixed")


def secret_from_repository(repo: Path, public_url: str, key_id: str) -> str | None:
    """The secret beside the key in the leaked file, as the commit in the notice has it."""
    released = RELEASE_URL.search(public_url)
    if released:
        return secret_from_release(
            repo, unquote(released["tag"]), unquote(released["asset"]), key_id
        )
    found = PUBLIC_URL.search(public_url)
    if not found:
        return None
    commit, path = found.group("commit"), found.group("path")
    shown = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=repo, capture_output=True, text=True, check=False
    )
    if shown.returncode != 0:
        # not in our clone (history rewritten?): the code host still serves it by its id
        subprocess.run(["git", "fetch", "-q", "origin", commit], cwd=repo, check=False)
        shown = subprocess.run(
            ["git", "show", f"{commit}:{path}"], cwd=repo, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
    if key_id not in shown.stdout:
        return None
    secret = SECRET_KEY.search(shown.stdout.split(key_id, 1)[1])
    return secret.group(0) if secret else None


def secret_from_release(repo: Path, tag: str, asset: str, key_id: str) -> str | None:
    """The secret beside the key in a release's download, archives opened up (what `curl`
    of the link and `tar x` show; the code host's downloads sit beside its repository)."""
    from gameday.world.artifacts import archive_text
    from gameday.world.codehost import HostFiles

    origin = subprocess.run(
        ["git", "remote", "get-url", "origin"], cwd=repo, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if origin.returncode != 0:
        return None
    download = HostFiles((repo / origin.stdout.strip()).resolve()).release_assets(tag).get(asset)
    if download is None:
        return None
    text = archive_text(download.read_bytes()).decode(errors="replace")
    if key_id not in text:
        return None
    secret = SECRET_KEY.search(text.split(key_id, 1)[1])
    return secret.group(0) if secret else None


def everyone(iam: Any) -> Iterator[str]:
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            yield str(user["UserName"])


def delete_user(iam: Any, name: str) -> None:
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy in iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
        iam.detach_user_policy(UserName=name, PolicyArn=policy["PolicyArn"])
    with suppress(ClientError):
        iam.delete_login_profile(UserName=name)
    iam.delete_user(UserName=name)


def regions_we_use(ctx: RunbookContext) -> list[str]:
    if ctx.scenario is not None:
        return [str(region) for region in ctx.scenario.account.regions]
    return [str(ctx.aws.region_name)]
