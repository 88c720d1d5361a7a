"""Contain the key and hide the repository: private, and nothing else on the code host."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.append(str(Path(__file__).resolve().parents[2] / "adversarial" / "runbooks"))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext


def respond(ctx: RunbookContext) -> None:
    facts = kit.first_notice(ctx)
    user = kit.user_of(ctx, facts)
    iam = ctx.aws.client("iam")
    kit.attempt(iam.update_access_key, UserName=user, AccessKeyId=facts.key_id, Status="Inactive")
    ctx.make_repo_private()
    ctx.note("Key deactivated; the repository is private, so the key is no longer served")
