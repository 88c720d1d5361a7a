"""`gameday validate --deep`, through the real command line.

Each file in tests/scenarios/deep/warned/ loads and runs, but only playing it shows what would
spoil its game day. Its first line, `# warn: path:line:col: warning: message`, and the
`# also:` lines after it are what `gameday validate --deep` prints on stderr for it, in order.
The library passes `--deep --strict` (`make lint-scenarios`), deep-validated in one process.
The quick cases run the command line in the test process (`gameday_here`), whose plays take
the worker's warm mock; a static error and the library sweep run it as a process of its own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from gameday_cli import gameday, gameday_here, shown

from . import REPO_ROOT, SMALL_SCENARIO

DEEP_DIR = Path(__file__).resolve().parent / "deep"
WARNED = sorted((DEEP_DIR / "warned").glob("*.yaml"))


def expected_lines(path: Path) -> list[str]:
    return [
        line[len("# warn: ") :]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(("# warn: ", "# also: "))
    ]


class _Recording(BaseHTTPRequestHandler):
    posts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.posts.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def team_chat() -> Iterator[tuple[str, list[str]]]:
    """A chat tool's webhook on loopback: its URL, and the paths posted to it."""
    posts: ClassVar[list[str]] = []
    handler = type("Handler", (_Recording,), {"posts": posts})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/security", posts
    finally:
        server.shutdown()
        server.server_close()


def test_deep_warnings_are_located_and_pass(
    tmp_path: Path, team_chat: tuple[str, list[str]]
) -> None:
    # Beside them, a scenario that warns of nothing and posts to the team's chat: validating
    # plays it against a listener of its own, and the chat hears nothing.
    url, posts = team_chat
    chat = tmp_path / "chat.yaml"
    timeline = "  - {id: support-case, type: support-case, at: 2m}\n"
    alert = f"  - {{id: chat-alert, type: webhook, at: 3m, url: '{url}'}}\n"
    chat.write_text(SMALL_SCENARIO.replace(timeline, timeline + alert), encoding="utf-8")
    result = gameday_here("validate", "--deep", *(shown(p) for p in WARNED), str(chat), timeout=600)
    assert "Traceback" not in result.stderr
    assert result.returncode == 0, result.stderr
    expected = [line for p in WARNED for line in expected_lines(p)]
    assert result.stderr.splitlines() == expected
    count = len(WARNED) + 1
    assert result.stdout == f"{count} scenario(s) valid, {len(expected)} warning(s)\n"
    assert posts == []


def test_strict_fails_on_deep_warnings() -> None:
    path = DEEP_DIR / "warned" / "silent-call.yaml"
    result = gameday_here("validate", "--deep", "--strict", shown(path), timeout=600)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected_lines(path)


def test_a_static_error_stops_before_playing(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    text = (DEEP_DIR / "warned" / "silent-call.yaml").read_text(encoding="utf-8")
    path.write_text(text.replace("duration: 1h", "duration: 1:30"), encoding="utf-8")
    result = gameday("validate", "--deep", str(path))
    assert result.returncode == 2
    assert "warning:" not in result.stderr  # nothing played: the file must be fixed first
    assert f"{path}:" in result.stderr


@pytest.mark.sweep
def test_the_library_passes_deep_strict_validation() -> None:
    library = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
    started = time.perf_counter()
    result = gameday("validate", "--deep", "--strict", *(shown(p) for p in library), timeout=900)
    elapsed = time.perf_counter() - started
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout == f"{len(library)} scenario(s) valid\n"
    # seconds a scenario, not minutes: the plays share one warm mock
    assert elapsed < 30 * len(library), f"{elapsed:.0f}s for {len(library)} scenarios"


def test_a_webhook_to_a_receiver_on_this_machine_that_is_down_is_warned_of(
    tmp_path: Path,
) -> None:
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/security"
    path = tmp_path / "pager.yaml"
    timeline = "  - {id: support-case, type: support-case, at: 2m}\n"
    alert = f"  - {{id: pager, type: webhook, at: 3m, url: '{url}'}}\n"
    path.write_text(SMALL_SCENARIO.replace(timeline, timeline + alert), encoding="utf-8")
    line = SMALL_SCENARIO.split(timeline)[0].count("\n") + 2
    column = alert.index("'http") + 1  # the value starts at its quote
    result = gameday_here("validate", "--deep", str(path), timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{path}:{line}:{column}: warning: nothing answers at {url} now (connection refused): "
        "unless its receiver is up when the run starts, the post fails, inject 'pager' tells "
        "nobody and detection waits for the next notice — start the receiver first, or fix "
        "the url"
    ]
