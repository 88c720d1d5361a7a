"""A team that reads AWS's first notice and does nothing at all.

Whatever it scores is what the scenario gives away: checks that already hold at detection,
steps nobody has to act for.
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


def respond(ctx: RunbookContext) -> None:
    kit.first_notice(ctx)
