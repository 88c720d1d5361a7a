"""The reference runbook — the one `validate --deep` plays, and every team copies — through
`gameday run-many` and `gameday run`.

It starts on whichever notice AWS sends first, whatever the channel, and learns from IAM
what a notice does not say (the Health event and a chat alert name the key, not its user).
It looks for the attacker in CloudTrail from the leaked key's creation, or as far back as
the event history goes, not over the day before the notice: a leak noticed days after the
attacker dug in still has everything it left removed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from . import REPO_ROOT, SMALL_SCENARIO

REFERENCE = REPO_ROOT / "runbooks" / "reference.py"
DEEP_DIR = Path(__file__).resolve().parent / "deep"
SMALL_TIMELINE = "  - {id: support-case, type: support-case, at: 2m}\n"


def gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


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
    result = gameday("run-many", *map(str, paths), "--responder", str(REFERENCE), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    for channel in variants:
        (score_file,) = (out / channel).rglob("score.json")
        score = json.loads(score_file.read_text(encoding="utf-8"))
        steps = {step["id"]: step["status"] for step in score["steps"]}
        assert steps == {"disable-leaked-key": "success"}, channel
        assert score["detected_at_s"] == 120.0, channel


def test_a_leak_noticed_days_late_still_has_the_attackers_leftovers_removed(
    tmp_path: Path,
) -> None:
    # The attacker acts at minutes 3 and 4; the runbook (the reference, through a clock two
    # days ahead: tests/scenarios/deep/days_late.py) searches CloudTrail two days and three
    # hours later — a window of the last 24 hours would find neither the user nor the role.
    out = tmp_path / "run"
    result = gameday(
        "run",
        str(DEEP_DIR / "late-notice.yaml"),
        "--clock", "virtual",
        "--responder", str(DEEP_DIR / "days_late.py"),
        "--out", str(out),
        "--plain",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    score = json.loads((out / "score.json").read_text(encoding="utf-8"))
    steps = {step["id"]: step["status"] for step in score["steps"]}
    assert steps == {"disable-leaked-key": "success", "remove-attacker-leftovers": "success"}
    removed = [
        (event["action"], json.dumps(event.get("params")))
        for event in map(json.loads, (out / "journal.jsonl").read_text().splitlines())
        if event["kind"] == "api.call"
        and event.get("actor") == "responder"
        and event.get("action") in ("DeleteUser", "DeleteRole")
        and event.get("status", 200) < 300
    ]
    assert [action for action, _ in removed] == ["DeleteUser", "DeleteRole"]
    assert "svc-metrics" in removed[0][1] and "ops-audit-bkp" in removed[1][1]
