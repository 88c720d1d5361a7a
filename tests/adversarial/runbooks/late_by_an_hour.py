"""The reference runbook, an hour late: the notice sat unread in a mailbox for 60 minutes.

It does exactly what the well-drilled team does, starting 60 minutes of run time after the
first notice. It must score below the reference (targets and deadlines run from detection)
and above the careless team (late, but right).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

LATE = "60m"


def respond(ctx: RunbookContext) -> None:
    facts = kit.first_notice(ctx)
    ctx.sleep(LATE)
    ctx.note(f"Read AWS's notice about {facts.key_id} only now")
    kit.library_runbook("reference").respond(kit.Borrowed(ctx, notice=facts.notice))
