"""The reference runbook, told of the leak days late.

A run lasts at most a day, but a real leak is often noticed days after the attacker dug in.
This runbook is the reference runbook with every clock it reads `DAYS_LATE` days ahead of
the run's: its CloudTrail searches come that long after the attacker's first acts, as they
would for a notice that came days late.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DAYS_LATE = timedelta(days=2)
# The runbook it plays (the project's reference runbook unless the environment says).
RUNBOOK = Path(
    os.environ.get("GAMEDAY_DAYS_LATE_RUNBOOK")
    or Path(__file__).resolve().parents[3] / "runbooks" / "reference.py"
)


class Late:
    """The run's context, its clock `DAYS_LATE` ahead."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def time(self) -> datetime:
        moment: datetime = self._ctx.time()
        return moment + DAYS_LATE


def respond(ctx: Any) -> None:
    spec = importlib.util.spec_from_file_location("days_late_reference", RUNBOOK)
    assert spec is not None and spec.loader is not None
    reference = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = reference  # its dataclasses look their module up
    spec.loader.exec_module(reference)
    reference.respond(Late(ctx))
