"""The reference's whole response, but the release stays: the tag goes, the history is
rewritten and support purges the old commits — the release's archive still holds the key."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.append(str(Path(__file__).resolve().parents[2] / "adversarial" / "runbooks"))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

SKIPPED = "delete-release"


def respond(ctx: RunbookContext) -> None:
    reference = kit.library_runbook("reference", fresh=True)
    pressed = reference.host_action

    def host_action(ctx: RunbookContext, action: str, target: str) -> bool:
        if action == SKIPPED:
            return False
        return bool(pressed(ctx, action, target))

    reference.host_action = host_action
    reference.take_down_release = lambda ctx, incident: None
    reference.respond(ctx)
