"""What reaches a runbook, through `gameday run`: only what reaches a customer.

The facilitator's console cues are not the team's: `ctx.wait_for("console")` is a clear
error, and `ctx.inbox()` never holds one. A webhook with nowhere to post is skipped: it is no
notice, so it neither reaches the runbook nor starts the detection clock.
"""

from __future__ import annotations

import json
from pathlib import Path

from gameday_cli import gameday_here

from . import SMALL_SCENARIO

PROBE = """
def respond(ctx):
    try:
        ctx.wait_for("console", timeout="1m")
    except Exception as error:
        ctx.note(f"console: {type(error).__name__}: {error}")
    try:
        ctx.wait_for("webhook", timeout="4m")
    except TimeoutError as error:
        ctx.note(f"webhook: {error}")
    ctx.sleep_until("6m")
    ctx.note("inbox: " + ", ".join(notice.kind for notice in ctx.inbox()))
"""

TIMELINE = """\
  - {id: support-case, type: support-case, at: 2m}
"""
HIDDEN = """\
  - {id: cue, type: console, at: 1m, text: Ask the team who owns the deploy key.}
  - {id: chat-alert, type: webhook, at: 2m}
  - {id: support-case, type: support-case, at: 5m}
"""


def test_console_cues_and_unposted_webhooks_reach_no_runbook(tmp_path: Path) -> None:
    scenario = tmp_path / "hidden.yaml"
    scenario.write_text(SMALL_SCENARIO.replace(TIMELINE, HIDDEN), encoding="utf-8")
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE, encoding="utf-8")
    out = tmp_path / "run"
    # the command line in the test process (its runbook in a process of its own, as always)
    result = gameday_here(
        "run", str(scenario), "--clock", "virtual", "--responder", str(probe), "--out", str(out),
        "--plain", timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # it did nothing: failed
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    notes = [e["text"] for e in events if e["kind"] == "note"]
    assert notes[0].startswith(
        "console: NotACustomerChannel: console cues are the facilitator's, not the team's"
    )
    assert notes[1:] == ["webhook: no webhook inject arrived within 4m", "inbox: support-case"]
    skipped = [e for e in events if e["kind"] == "inject.delivered" and e["type"] == "webhook"]
    assert [e["status"] for e in skipped] == ["skipped"]
    score = json.loads((out / "score.json").read_text(encoding="utf-8"))
    assert score["detected_at_s"] == 300.0  # the support case, not the skipped webhook
