"""The facilitator's dashboard: the token, the page, the live stream, the buttons, the call audio.

The dashboard's door is the facilitator token: the address printed on the facilitator's
console carries it, the server keeps only its hash, a command posted with a wrong token or
from another site is refused (403) and journaled as refused, and a malformed post gets a
400 — never a traceback on the facilitator's console.

Most tests put a dashboard in front of the real run pieces — a wall clock, the timeline with
the seed scenario's injects, the live score, the control watcher with the run's own command
handlers — and talk to it over HTTP on loopback, as a browser does. The last drives headless
Chromium through WebDriver against a real `gameday run --dashboard` in another process: an
inject appears, pause stops the clock, resume starts it, end ends the run.

Chromium and chromedriver are the Debian `chromium` and `chromium-driver` packages, the
WebDriver client is `selenium` from PyPI, and the call's audio needs `espeak-ng`. Without
them those tests skip on a developer machine, and fail under CI (env CI set).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from needs import not_installed

from gameday.exercise.clock import WallClock
from gameday.exercise.control import ControlWatcher
from gameday.exercise.dashboard import Dashboard
from gameday.exercise.facilitator import Authority
from gameday.exercise.injects import MARKER, preview, sample_facts
from gameday.exercise.injects.phone_call import SPOKEN_MARKER, record_call, spoken_lines
from gameday.exercise.run import LiveScore, LiveState, _control_handlers
from gameday.exercise.timeline import Timeline, schedule_injects
from gameday.journal import Event, Journal, read_journal
from gameday.paths import SCENARIOS
from gameday.rundir import RunDir
from gameday.scenario.model import Inject, Scenario

SEED_SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
GAMEDAY = Path(sys.executable).with_name("gameday")


class FakeCodeHost:
    """The code host's buttons, journaled as the real one journals them."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def make_private(self) -> None:
        self.journal.append("repo.private")

    def delete(self) -> None:
        self.journal.append("repo.deleted")


@dataclass
class Room:
    """A live run without the mock account: what the dashboard reads and commands act on."""

    run: RunDir
    scenario: Scenario
    clock: WallClock
    journal: Journal
    timeline: Timeline
    watcher: ControlWatcher
    dashboard: Dashboard
    token: str
    fired: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The address the facilitator's console shows: the token in it."""
        return self.dashboard.address(self.token)

    def events(self, kind: str | None = None) -> list[Event]:
        return [e for e in read_journal(self.run.journal) if kind is None or e["kind"] == kind]

    def deliver(self, inject: Inject) -> None:
        self.fired.append(inject.id)
        self.journal.append(
            "inject.delivered",
            inject=inject.id,
            type=inject.type,
            subject=f"[{MARKER}] {inject.id} subject",
            body=f"{MARKER}\n{inject.id} body",
            data={},
        )


@pytest.fixture
def room(tmp_path: Path, seed_scenario: Scenario) -> Iterator[Room]:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.calls.mkdir()
    run.write_status(pid=os.getpid(), state="running", scenario=seed_scenario.id, team="blue")
    clock = WallClock(speed=60.0)
    journal = Journal(run.journal, clock, durable=False)
    live = LiveScore(seed_scenario, journal)
    journal.subscribe(live)
    timeline = Timeline(clock, journal, end=seed_scenario.duration)
    authority = Authority.issue(run)
    watcher = ControlWatcher(
        run,
        _control_handlers(clock, timeline, journal, FakeCodeHost(journal), seed_scenario),  # type: ignore[arg-type]
        authority,
        interval=0.02,
        on_refused=lambda refusal: journal.append("control.refused", **refusal),
    )
    dashboard = Dashboard(
        run,
        seed_scenario,
        "blue",
        now=clock.now,
        paused=lambda: clock.paused,
        pending=timeline.pending,
        score=live.score,
        rate=60.0,
        token_hash=authority.digest,
    )
    journal.subscribe(dashboard)
    dashboard.start()
    room = Room(run, seed_scenario, clock, journal, timeline, watcher, dashboard, authority.token)
    schedule_injects(
        timeline,
        seed_scenario.timeline,
        room.deliver,
        LiveState(seed_scenario, live.evaluator.state),
    )
    watcher.start()
    journal.append("run.started", t=0.0, scenario=seed_scenario.id, team="blue")
    clock.start()
    yield room
    watcher.stop()
    clock.close()
    dashboard.stop()
    journal.close()


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post(
    url: str, body: Any, content_type: str = "application/json", **headers: str
) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": content_type, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload)
        except ValueError:
            return error.code, {"text": payload.decode()}


def command(room: Room, **body: Any) -> tuple[int, dict[str, Any]]:
    return post(room.url + "command", body)


class Stream:
    """A page's Server-Sent Events connection, read event by event."""

    def __init__(self, url: str, last_id: int = 0) -> None:
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {"Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = str(last_id)
        self.connection.request("GET", parts.path + "events", headers=headers)
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.headers["Content-Type"].startswith("text/event-stream")

    def next(self) -> tuple[str, dict[str, Any], str | None]:
        name, data, ident = "message", "", None
        while True:
            line = self.response.readline().decode()
            if line == "":
                raise EOFError("the stream closed")
            line = line.rstrip("\n")
            if not line:
                if data:
                    return name, json.loads(data), ident
                continue
            field_name, _, value = line.partition(": ")
            if field_name == "event":
                name = value
            elif field_name == "data":
                data += value
            elif field_name == "id":
                ident = value

    def until(
        self, wanted: Callable[[str, dict[str, Any]], bool], timeout: float = 10.0
    ) -> list[tuple[str, dict[str, Any]]]:
        seen: list[tuple[str, dict[str, Any]]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            name, data, _ = self.next()
            seen.append((name, data))
            if wanted(name, data):
                return seen
        raise AssertionError(f"not seen within {timeout} s: {seen[-5:]}")

    def close(self) -> None:
        self.connection.close()


# ── the door ──────────────────────────────────────────────────────────────────────────────


def test_the_dashboard_listens_on_loopback_under_the_facilitator_token(room: Room) -> None:
    url = room.url
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1"
    assert parts.port == room.dashboard.port != 0
    token = parts.path.strip("/")
    assert token == room.token and len(token) >= 43
    # the server holds the token's hash, not the token
    assert token not in json.dumps(vars(room.dashboard), default=str)
    origin = room.dashboard.origin
    forbidden = [
        origin + "/",
        origin + "/state",
        origin + "/events",
        origin + "/favicon.ico",
        f"{origin}/{token[:-1]}/",
        f"{origin}/{token}x/state",
        f"{origin}/{token.upper() if token.upper() != token else token.lower()}/state",
    ]
    for address in forbidden:
        status, _, body = get(address)
        assert status == 403, address
        assert b"token" in body
    status, _ = post(origin + "/command", {"command": "end"})
    assert status == 403
    assert room.events("run.paused") == [] and not room.timeline.stopped
    # With the token, the bare token redirects to the page.
    status, _, _ = get(f"{origin}/{token}")
    assert status == 200


def test_the_page_is_self_contained_and_marked_as_a_simulation(room: Room) -> None:
    status, headers, body = get(room.url)
    assert status == 200
    page = body.decode()
    assert headers["Content-Type"].startswith("text/html")
    assert "SIMULATION — game day exercise" in page
    assert room.scenario.title in page
    # Nothing comes from elsewhere: no external address in the page, and the policy forbids it.
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    nonce = policy.split("'nonce-", 1)[1].split("'", 1)[0]
    assert page.count(f'nonce="{nonce}"') == 3  # the style, the config, the script
    assert "unsafe-inline" not in policy
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"
    # Every manual step is in the page's configuration, for the mark button.
    config = json.loads(page.split('id="config"', 1)[1].split(">", 1)[1].split("</script>")[0])
    manual = [s["id"] for s in config["steps"] if s["manual"]]
    assert manual == ["acknowledge-case", "root-password"]


# ── what the pages are sent ───────────────────────────────────────────────────────────────


def test_a_page_gets_the_history_then_live_items_and_the_state_every_second(room: Room) -> None:
    stream = Stream(room.url)
    try:
        seen = stream.until(lambda name, data: name == "state")
        assert ("item", "run.started") in [(n, d.get("kind")) for n, d in seen]
        state = seen[-1][1]
        assert [p["id"] for p in state["pending"]][:4] == [
            "quarantine",
            "support-case",
            "case-email",  # 6 s after the case, though it waits on it
            "health-event",
        ]
        assert state["pending"][0]["clock"] == "T+0:01:07"
        assert {"id": "case-email", "type": "email", "due": None, "clock": None,
                "after": "support-case"} in state["pending"]  # fmt: skip
        assert state["score"]["pass_mark"] == 70
        assert [s["id"] for s in state["score"]["steps"]] == [s.id for s in room.scenario.steps]
        assert state["rate"] == 60.0 and state["paused"] is False

        room.journal.append(
            "api.call", actor="responder", service="iam", action="UpdateAccessKey",
            region="us-east-1", params={}, status=200, error_code=None,
        )  # fmt: skip
        room.journal.append(
            "api.call", actor="attacker", service="iam", action="ListUsers",
            region="us-east-1", params={}, status=200, error_code=None,
        )  # fmt: skip
        room.journal.append("note", actor="responder", text="paged the incident lead")
        seen = stream.until(lambda name, data: data.get("kind") == "note")
        items = [d for n, d in seen if n == "item"]
        assert [(d["lane"], d["text"]) for d in items] == [
            ("RESPONDER", "iam:UpdateAccessKey (us-east-1) ok"),
            ("NOTE", "responder: paged the incident lead"),
        ]  # the attacker's raw calls show as its techniques, not one by one

        # A state arrives at least once a second, with the clock moving at the run's speed.
        first = stream.until(lambda name, data: name == "state")[-1][1]
        second = stream.until(lambda name, data: name == "state")[-1][1]
        assert second["t"] > first["t"]
    finally:
        stream.close()


def test_injects_are_shown_without_the_repeated_marker_and_cues_stay_for_the_facilitator(
    room: Room,
) -> None:
    (room.run.calls / "001080-enterprise-call.wav").write_bytes(b"RIFF")
    room.journal.append(
        "inject.delivered", inject="enterprise-call", type="phone-call",
        subject=f"[{MARKER}] Phone call: the TAM calls", body="the script",
        script="calls/001080-enterprise-call.md", audio="calls/001080-enterprise-call.wav",
        data={},
    )  # fmt: skip
    room.journal.append(
        "inject.delivered", inject="case-email", type="email",
        subject=f"[{MARKER}] Your AWS account is compromised", body="the email", data={},
    )  # fmt: skip
    stream = Stream(room.url)
    try:
        seen = stream.until(lambda name, data: data.get("inject") == "case-email")
    finally:
        stream.close()
    call, mail = [d for n, d in seen if n == "item" and d["kind"] == "inject.delivered"]
    assert call["text"] == "phone-call: Phone call: the TAM calls"
    assert call["private"] == "the script"
    assert call["audio"] == "calls/001080-enterprise-call.wav"
    assert mail["text"] == "email: Your AWS account is compromised"
    assert "private" not in mail  # what responders received is no secret


def test_a_reconnecting_page_gets_only_what_it_missed(room: Room) -> None:
    stream = Stream(room.url)
    try:
        seen = stream.until(lambda name, data: name == "state")
    finally:
        stream.close()
    last = max(d["id"] for n, d in seen if n == "item")
    room.journal.append("note", actor="responder", text="while the page was away")
    again = Stream(room.url, last_id=last)
    try:
        seen = again.until(lambda name, data: name == "state")
    finally:
        again.close()
    assert [d["text"] for n, d in seen if n == "item"] == ["responder: while the page was away"]


def test_the_call_files_are_served_from_the_calls_folder_only(room: Room) -> None:
    (room.run.calls / "000600-call.wav").write_bytes(b"RIFF....WAVE")
    (room.run.calls / "000600-call.md").write_text("# the script", encoding="utf-8")
    status, headers, body = get(room.url + "calls/000600-call.wav")
    assert (status, headers["Content-Type"], body) == (200, "audio/wav", b"RIFF....WAVE")
    status, headers, _ = get(room.url + "calls/000600-call.md")
    assert status == 200 and headers["Content-Type"].startswith("text/markdown")
    for name in ("../run.json", "..%2Frun.json", "%2e%2e/run.json", "missing.wav", ".hidden.wav"):
        status, _, _ = get(room.url + "calls/" + name)
        assert status == 404, name


# ── the buttons ───────────────────────────────────────────────────────────────────────────


def test_the_buttons_go_through_the_control_path(room: Room) -> None:
    status, reply = command(room, command="pause")
    assert (status, reply["ok"]) == (200, True)
    assert reply["message"].startswith("paused at T+")
    assert room.clock.paused
    (paused,) = room.events("run.paused")
    assert (paused["by"], paused["via"]) == ("facilitator", "dashboard")
    frozen = room.clock.now()
    time.sleep(0.3)
    assert room.clock.now() == frozen
    assert room.dashboard.state()["t"] == round(frozen, 3)

    assert command(room, command="pause") == (200, {"ok": True, "message": "already paused"})
    status, reply = command(room, command="fire-next")
    assert (status, reply["message"]) == (
        200,
        "quarantine fires now — on resume: the clock is paused",
    )
    (forced,) = room.events("inject.forced")
    assert forced["inject"] == "quarantine"

    status, reply = command(room, command="resume")
    assert (status, reply["ok"]) == (200, True) and not room.clock.paused
    assert room.events("run.resumed")[0]["by"] == "facilitator"

    assert command(room, command="mark", step="root-password")[0] == 200
    (mark,) = room.events("mark")
    assert (mark["step"], mark["by"], mark["via"]) == ("root-password", "facilitator", "dashboard")
    assert command(room, command="note", text="  the room took a break  ")[0] == 200
    (note,) = room.events("note")
    assert (note["actor"], note["text"]) == ("facilitator", "the room took a break")
    assert note["by"] == "facilitator"
    assert room.events("control.refused") == []

    status, reply = command(room, command="end")
    assert status == 200 and reply["message"].startswith("ending")
    assert room.timeline.stopped


def test_bad_commands_are_refused_with_a_reason(room: Room) -> None:
    assert command(room, command="mark", step="acknowledge-cas")[0] == 400
    assert command(room, command="note", text="   ")[0] == 400
    assert command(room, command="repo", action="delete")[0] == 400  # not a facilitator's button
    status, reply = command(room, command="format-disk")
    assert status == 400 and "unknown command" in reply["message"]
    url = room.url + "command"
    assert post(url, {"command": "end"}, content_type="text/plain")[0] == 415
    assert post(url, b"[1, 2", content_type="application/json")[0] == 400
    assert post(url, b"[" * 8000, content_type="application/json")[0] == 400
    assert post(url, b"\xff\xfe", content_type="application/json")[0] == 400
    assert post(url, {"command": "pause"}, Origin=room.dashboard.origin)[0] == 200
    assert not room.timeline.stopped


def test_forged_commands_are_refused_and_journaled(room: Room) -> None:
    wrong = f"{room.dashboard.origin}/{room.token[:-2]}xx/command"
    status, _ = post(wrong, {"command": "mark", "step": "root-password"})
    assert status == 403
    time.sleep(1.1)  # refusals are journaled at most one a second
    status, _ = post(room.url + "command", {"command": "end"}, Origin="http://evil.example")
    assert status == 403
    refusals = wait_for(lambda: len(room.events("control.refused")) == 2 and room.events(
        "control.refused"), 10, "the refusals in the journal")  # fmt: skip
    assert [(r["command"], r.get("step"), r["by"], r["via"]) for r in refusals] == [
        ("mark", "root-password", "team", "dashboard"),
        ("end", None, "team", "dashboard"),
    ]
    assert "wrong facilitator token" in refusals[0]["reason"]
    assert "http://evil.example" in refusals[1]["reason"]
    assert room.events("mark") == [] and not room.timeline.stopped
    # a flood of forged posts journals one a second, not one a post
    for _ in range(20):
        assert post(wrong, {"command": "pause"})[0] == 403
    time.sleep(0.5)
    assert len(room.events("control.refused")) <= 3
    assert not room.clock.paused


def raw_post(room: Room, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """A hand-written request, as a tool (not a browser) can send it; the status and body."""
    path = urlsplit(room.url).path + "command"
    with socket.create_connection(("127.0.0.1", room.dashboard.port), timeout=10) as raw:
        raw.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
        raw.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[-1]


def test_malformed_posts_get_a_400_never_a_traceback(
    room: Room, capfd: pytest.CaptureFixture[str]
) -> None:
    json_type = "Content-Type: application/json\r\n"
    cases = [
        f"{json_type}Content-Length: abc\r\n",
        f"{json_type}Content-Length: -5\r\n",
        f"{json_type}Content-Length: 99999999999999999999\r\n",
        f"{json_type}Content-Length: 0\r\n",
        f"{json_type}",  # no length at all
        f"{json_type}Content-Length: 1e3\r\n",
    ]
    for head in cases:
        status, body = raw_post(room, head, b'{"command": "pause"}')
        assert status == 400, head
        assert b"Content-Length" in body
    # a body shorter than its length: the server answers once the client stops sending
    status, _ = raw_post(room, f"{json_type}Content-Length: 50\r\n", b'{"command"')
    assert status == 400
    assert not room.clock.paused
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    # and the door still works
    assert command(room, command="pause")[0] == 200


def test_a_fire_next_with_nothing_left_is_refused(room: Room) -> None:
    for inject in ("quarantine", "support-case", "health-event", "enterprise-call",
                   "facilitator-hint", "follow-up", "check-in", "check-in-call"):  # fmt: skip
        assert command(room, command="fire-next")[1]["message"].startswith(inject)
    status, reply = command(room, command="fire-next")
    assert status == 409 and "no inject is left" in reply["message"]


def test_buttons_after_the_run_ended_get_a_clear_error(room: Room) -> None:
    room.watcher.stop()
    room.run.write_status(state="ended", reason="end")
    status, reply = command(room, command="pause")
    assert status == 409
    assert "the run has ended (end)" in reply["message"]
    assert room.events("run.paused") == []


def test_a_page_open_when_the_run_ends_gets_the_end_and_the_final_state(room: Room) -> None:
    stream = Stream(room.url)
    try:
        stream.until(lambda name, data: name == "state")
        room.journal.append("run.ended", reason="end")
        seen = stream.until(lambda name, data: name == "state" and data["ended"] == "end")
        assert ("item", "run.ended") in [(n, d.get("kind")) for n, d in seen]
        room.dashboard.stop(grace=5.0)
        with pytest.raises(EOFError):
            while True:
                stream.next()
    finally:
        stream.close()


# ── the call's audio ─────────────────────────────────────────────────────────────────────


def the_call_script(scenario: Scenario) -> str:
    (call,) = [d for d in preview(scenario, sample_facts(scenario)) if d.id == "enterprise-call"]
    return call.body


def test_the_recorded_call_speaks_the_callers_lines_only(seed_scenario: Scenario) -> None:
    lines = spoken_lines(the_call_script(seed_scenario))
    assert lines[0].startswith("Hello, this is Alex from AWS Enterprise Support.")
    spoken = " ".join(lines)
    assert "Ring the responder's phone" not in spoken  # a stage direction
    assert "Please put a replacement" not in spoken  # said only if the answer is yes
    assert "SIMULATION" not in spoken  # the recording says so in words of its own
    assert "Have you noticed any activity or charges you don't recognise?" in lines
    assert "A, K, I, A," in spoken  # a key ID is read out character by character
    assert "[" not in spoken and "*" not in spoken and ">" not in spoken


def test_the_call_is_recorded_as_a_wav_when_espeak_ng_is_installed(
    seed_scenario: Scenario, tmp_path: Path
) -> None:
    program = shutil.which("espeak-ng")
    if program is None:
        not_installed("espeak-ng", "apt-get install espeak-ng")
    target = tmp_path / "calls" / "001080-enterprise-call.wav"
    target.parent.mkdir()
    record_call(the_call_script(seed_scenario), target, program)
    with wave.open(str(target)) as audio:
        assert audio.getnchannels() == 1
        assert audio.getsampwidth() == 2
        seconds = audio.getnframes() / audio.getframerate()
    # The marker and the caller's lines, with a pause after each, take a minute or two.
    assert 45 < seconds < 600
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no partial file left
    assert SPOKEN_MARKER.startswith("This is a recorded call for a game day exercise.")


# ── the real thing, in a browser ──────────────────────────────────────────────────────────


def webdriver_or_skip(profile: Path) -> Any:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    missing = [
        name
        for name, found in (
            ("chromium", chromium),
            ("chromedriver", driver),
            ("selenium", webdriver),
        )
        if found is None
    ]
    if missing:
        not_installed(
            ", ".join(missing), "apt-get install chromium chromium-driver; pip install selenium"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={profile}", "--window-size=1600,1000",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(driver)), options=options)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


@pytest.mark.slow
def test_a_facilitator_runs_a_live_exercise_from_the_dashboard(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser = webdriver_or_skip(tmp_path / "profile")
    run = RunDir(tmp_path / "run")
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        [str(GAMEDAY), "run", str(SEED_SCENARIO), "--out", str(run.path), "--speed", "60",
         "--dashboard", "--plain", "--team", "projector"],
        stdin=subprocess.DEVNULL, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    address = re.compile(r"^dashboard: (http://127\.0\.0\.1:\d+/\S+/)$", re.MULTILINE)

    def printed_address() -> str | None:
        found = address.search(log.read_text(encoding="utf-8"))
        return found.group(1) if found else None

    try:
        # the address is printed on the facilitator's console, and kept in no file
        url = wait_for(printed_address, 60, "the dashboard's address")
        wait_for(lambda: run.status().get("state") == "running", 60, "the run to start")
        token = urlsplit(url).path.strip("/")
        assert run.status()["dashboard"] == url.removesuffix(f"{token}/")
        for path in run.path.rglob("*"):
            if path.is_file() and path.stat().st_size < 10_000_000:
                assert token.encode() not in path.read_bytes(), path
        browser.get(url)
        element = browser.find_element

        def text(element_id: str) -> str:
            return str(element(By.ID, element_id).text)

        assert "SIMULATION — game day exercise" in text("simulation")
        # The quarantine lands at T+1:07, a second in at 60×: it appears without a reload.
        wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, '#fired li[data-inject="quarantine"]'),
            30,
            "the quarantine inject on the page",
        )
        assert text("run-state") == "RUNNING"
        before = text("clock")
        wait_for(lambda: text("clock") != before, 10, "the clock to move")

        element(By.ID, "pause").click()
        wait_for(lambda: text("feedback").startswith("paused at T+"), 10, "the pause reply")
        assert [e["by"] for e in read_journal(run.journal) if e["kind"] == "run.paused"] == [
            "facilitator"
        ]
        wait_for(lambda: text("run-state") == "PAUSED", 5, "the paused badge")
        stopped = text("clock")
        time.sleep(1.5)
        assert text("clock") == stopped  # the run clock stands still
        assert element(By.ID, "resume").is_enabled() and not element(By.ID, "pause").is_enabled()

        element(By.ID, "resume").click()
        wait_for(lambda: text("feedback").startswith("resumed at T+"), 10, "the resume reply")
        assert any(e["kind"] == "run.resumed" for e in read_journal(run.journal))
        wait_for(lambda: text("clock") != stopped, 10, "the clock to move again")

        # Projector mode hides the score and the facilitator's cues.
        assert element(By.ID, "score-panel").is_displayed()
        element(By.ID, "projector").click()
        assert not element(By.ID, "score-panel").is_displayed()
        assert not element(By.ID, "facilitator-panel").is_displayed()

        element(By.ID, "end").click()  # arms
        assert text("end") == "Press again to end"
        element(By.ID, "end").click()
        wait_for(lambda: text("run-state").startswith("ENDED"), 30, "the end on the page")
        process.wait(timeout=120)
        output = log.read_text(encoding="utf-8")
        assert process.returncode == 1, output  # nobody responded: the run fails its pass mark
        events = read_journal(run.journal)
        assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "end"
        assert "dashboard: http://127.0.0.1:" in output
        console = [entry for entry in browser.get_log("browser") if entry["level"] != "DEBUG"]
        assert console == []  # no script error, nothing blocked by the page's own policy
    finally:
        browser.quit()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
