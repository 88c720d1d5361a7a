"""The reference runbook — the one `validate --deep` plays, and every team copies — through
`gameday run-many` and `gameday run` (in the test process, on the worker's warm mock).

It starts on whichever notice AWS sends first, whatever the channel, and learns from IAM
what a notice does not say (the Health event and a chat alert name the key, not its user).
It looks for the attacker in CloudTrail from the leaked key's creation, or as far back as
the event history goes, not over the day before the notice: a leak AWS notices two days
after the attacker dug in (a run lasts up to a week) still has everything it left removed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from gameday_cli import gameday_here

from . import REPO_ROOT, SMALL_SCENARIO

REFERENCE = REPO_ROOT / "runbooks" / "reference.py"
DEEP_DIR = Path(__file__).resolve().parent / "deep"
SMALL_TIMELINE = "  - {id: support-case, type: support-case, at: 2m}\n"
DAY = 86400.0


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def chat_hook() -> Iterator[str]:
    """A chat tool's incoming webhook on loopback: its URL."""
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/security"
    finally:
        server.shutdown()
        server.server_close()


def only_notice(notice: str, *, plan: str = "business") -> str:
    """The small scenario, told of the leak by `notice` alone (after the quarantine)."""
    text = SMALL_SCENARIO.replace(SMALL_TIMELINE, f"  - {notice}\n")
    return text.replace("support_plan: business", f"support_plan: {plan}")


def test_the_reference_runbook_acts_on_any_notice_aws_sends(tmp_path: Path, chat_hook: str) -> None:
    # The support case alone is the guide's small scenario (tests/test_docs_examples.py);
    # these name the key but not its user, or come by telephone.
    variants = {
        "health-event": only_notice("{id: notice, type: health-event, at: 2m}"),
        "phone-call": only_notice(
            "{id: notice, type: phone-call, at: 2m, to: primary}", plan="enterprise"
        ),
        "webhook": only_notice(f"{{id: notice, type: webhook, at: 2m, url: '{chat_hook}'}}"),
    }
    paths = []
    for channel, text in variants.items():
        assert text != SMALL_SCENARIO
        path = tmp_path / f"{channel}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    out = tmp_path / "runs"
    # one job: played in the test process, on the worker's warm mock
    result = gameday_here(
        "run-many", *map(str, paths), "--responder", str(REFERENCE), "--out", str(out),
        "--jobs", "1", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for channel in variants:
        (score_file,) = (out / channel).rglob("score.json")
        score = json.loads(score_file.read_text(encoding="utf-8"))
        steps = {step["id"]: step["status"] for step in score["steps"]}
        assert steps == {"disable-leaked-key": "success"}, channel
        assert score["detected_at_s"] == 120.0, channel


def test_a_leak_noticed_two_days_late_still_has_the_attackers_leftovers_removed(
    tmp_path: Path,
) -> None:
    # The attacker makes a user (with a key) and a role at minutes 3 and 4; AWS's quarantine
    # and first notice come two days later (tests/scenarios/deep/noticed-two-days-late.yaml).
    out = tmp_path / "run"
    result = gameday_here(
        "run",
        str(DEEP_DIR / "noticed-two-days-late.yaml"),
        "--clock", "virtual",
        "--responder", str(REFERENCE),
        "--out", str(out),
        "--plain",
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # the console and the report write a moment past the first day with its days
    assert "T+2d 00:01:00 AWS         support-case:" in result.stdout
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "the first notice the company received, at T+2d 00:01:00" in report
    score = json.loads((out / "score.json").read_text(encoding="utf-8"))
    steps = {step["id"]: step["status"] for step in score["steps"]}
    assert steps == {"disable-leaked-key": "success", "remove-attacker-leftovers": "success"}
    assert score["detected_at_s"] == 2 * DAY + 60

    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    calls = [event for event in events if event["kind"] == "api.call"]
    t0 = datetime.fromisoformat(next(e for e in events if e["kind"] == "run.started")["time"])
    created = {
        call["action"]: call["t"]
        for call in calls
        if call["actor"] == "attacker" and call["action"].startswith("Create") and ok(call)
    }
    assert set(created) == {"CreateUser", "CreateAccessKey", "CreateRole"}
    responder = [call for call in calls if call["actor"] == "responder"]
    # what the attacker made is over two days older than anything the runbook does ...
    assert responder[0]["t"] - max(created.values()) > 2 * DAY - 10 * 60
    # ... so a search of the 24 hours before any of the runbook's CloudTrail lookups finds
    # none of the attacker's calls; the runbook's own searches start at the key's creation
    lookups = [call for call in responder if call["action"] == "LookupEvents"]
    assert lookups
    attacker_times = [call["t"] for call in calls if call["actor"] == "attacker"]
    for lookup in lookups:
        assert not [t for t in attacker_times if lookup["t"] - DAY <= t <= lookup["t"]]
        start = float(lookup["params"]["StartTime"]) - t0.timestamp()
        assert start <= min(created.values())
        assert start == -30 * DAY  # the leaked key was made 30 days before the push

    removed = [
        (call["action"], json.dumps(call.get("params")))
        for call in responder
        if call["action"] in ("DeleteUser", "DeleteRole", "DeleteAccessKey") and ok(call)
    ]
    assert ("DeleteUser", '{"UserName": "svc-metrics"}') in removed
    assert ("DeleteRole", '{"RoleName": "ops-audit-bkp"}') in removed
    assert any(
        action == "DeleteAccessKey" and "svc-metrics" in params for action, params in removed
    )


def ok(call: dict[str, object]) -> bool:
    status = call.get("status", 200)
    return isinstance(status, int) and status < 300
