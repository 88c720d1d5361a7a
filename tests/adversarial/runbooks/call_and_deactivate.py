"""The box-ticker with one real act: it deactivates the leaked key, and does nothing else.

Every call of `call_and_claim.py`, its claims, and three minutes later the leaked key's
deactivation from the responders' own principal. Containing the key is worth its points;
the rest of what this team "did" is not — with the box-ticking credited, it used to pass a
false alarm.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit
import call_and_claim
from adversary_kit import attempt

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext


def respond(ctx: RunbookContext) -> None:
    facts = call_and_claim.tick_every_box(ctx)
    ctx.sleep("3m")
    user = kit.user_of(ctx, facts)
    if user is not None:
        attempt(
            ctx.aws.client("iam").update_access_key,
            UserName=user,
            AccessKeyId=facts.key_id,
            Status="Inactive",
        )
        ctx.note(f"Deactivated {facts.key_id}")
    ctx.note(call_and_claim.CLAIMS)
