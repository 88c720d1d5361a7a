"""A team that contains like the reference but only pretends to rotate.

Containment, investigation, eradication, the reply and the history rewrite are the
reference runbook's. Rotation is faked both ways a hurried team fakes it:
- a production secret gets another employee's existing, active key — the responder's own
  personal key, whose secret it holds, so the service keeps working — instead of a new key
  of the service's user; the service's old key is then deactivated;
- "rotating every old key" deactivates them and creates no replacement.
It "rotates" on every scenario, a false alarm included (where the reference rightly leaves
production alone): its rotation is a box it ticks, not a conclusion.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit
from adversary_kit import attempt

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext


def respond(ctx: RunbookContext) -> None:
    email = ctx.wait_for("email")
    reference: Any = kit.library_runbook("reference", fresh=True)
    faker = FakeRotation(reference)
    reference.rotate_service = faker.copy_a_colleagues_key
    reference.rotate_old_keys = faker.deactivate_old_keys
    reference.respond(kit.Borrowed(ctx, notice=email))
    if not faker.rotated:
        # The reference found nothing to rotate (a dead key): the box gets ticked anyway.
        incident = reference.Incident.from_notices([email], ctx.aws)
        for service in reference.service_keys(ctx):
            faker.copy_a_colleagues_key(ctx, service)
        faker.deactivate_old_keys(ctx, incident, reference.breach_time(ctx, incident), set())


class FakeRotation:
    """The reference's two rotations, faked; `rotated` once either has run."""

    def __init__(self, reference: Any) -> None:
        self.reference = reference
        self.rotated = False

    def copy_a_colleagues_key(self, ctx: RunbookContext, service: Any) -> tuple[str, str]:
        """The secret gets a key that already works; the service's own key is deactivated."""
        self.rotated = True
        iam: Any = ctx.aws.client("iam")
        secrets: Any = ctx.aws.client("secretsmanager", region_name=service.region)
        credentials = ctx.aws.get_credentials()
        if credentials is not None:
            value = {
                "aws_access_key_id": credentials.access_key,
                "aws_secret_access_key": credentials.secret_key,
            }
            attempt(
                secrets.put_secret_value, SecretId=service.secret, SecretString=json.dumps(value)
            )
            ctx.note(f"{service.secret} now holds a key that works (ours, for the time being)")
        ctx.sleep(self.reference.SERVICE_PICKUP)
        attempt(
            iam.update_access_key,
            UserName=service.user,
            AccessKeyId=service.key_id,
            Status="Inactive",
        )
        return service.user, service.key_id

    def deactivate_old_keys(
        self, ctx: RunbookContext, incident: Any, breach: datetime, skip: set[str]
    ) -> None:
        """Rotation as mere deactivation: every key older than the exposure, no new key."""
        self.rotated = True
        iam: Any = ctx.aws.client("iam")
        me = kit.myself(ctx)
        retired = 0
        for user in list(kit.users(iam)):
            name = str(user["UserName"])
            if name == me or name in skip:
                continue
            keys = attempt(iam.list_access_keys, UserName=name) or {}
            for key in keys.get("AccessKeyMetadata", []):
                if key["Status"] == "Active" and key["CreateDate"] < breach:
                    attempt(
                        iam.update_access_key,
                        UserName=name,
                        AccessKeyId=key["AccessKeyId"],
                        Status="Inactive",
                    )
                    retired += 1
        ctx.note(f"Rotated {retired} access key(s) created before the exposure")
