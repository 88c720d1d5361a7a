"""The reference's whole response, but nobody asks support to purge: the history is rewritten
and force-pushed, the tag and release deleted — and the host keeps the old commits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.append(str(Path(__file__).resolve().parents[2] / "adversarial" / "runbooks"))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

SKIPPED = "purge-commit"


def respond(ctx: RunbookContext) -> None:
    reference = kit.library_runbook("reference", fresh=True)
    pressed = reference.host_action

    def host_action(ctx: RunbookContext, action: str, target: str) -> bool:
        if action == SKIPPED:
            return False
        return bool(pressed(ctx, action, target))

    reference.host_action = host_action
    reference.respond(ctx)
