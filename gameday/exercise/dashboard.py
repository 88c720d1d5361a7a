"""The facilitator's dashboard: a live web page of the run, for the facilitator and the projector.

`gameday run --dashboard` serves one self-contained page (inline CSS and JavaScript, nothing
fetched from elsewhere) on 127.0.0.1, on a port the system picks, under the facilitator token
(gameday.exercise.facilitator): the address printed once on the facilitator's console
carries it and is the only way in; any request without it gets 403. The server keeps only
the token's hash, and no file holds the address with the token (run.json keeps the bare
origin; `gameday status --token …` shows the whole address again). The page shows the run
clock, AWS's injects sent and still to come, the attacker's activity, the responders' API
calls as they happen, the steps satisfied and the running score (a toggle hides the score
and the facilitator's cues when the page is projected), and has the facilitator's buttons:
pause, resume, fire the next inject now, mark a manual step, add a note, end.

What the page shows comes from the journal: the dashboard is a journal listener that turns
events into items and streams them to every open page with Server-Sent Events, along with the
clock, the injects to come and the score once a second. A button posts a command, and the
command goes through `gameday.exercise.control.send` like the CLI's `gameday pause`, signed
with the token the request's address carries: the run's `ControlWatcher` checks it and takes
it in order with everyone else's, so the dashboard obeys exactly the rules other terminals do.

A command posted with a wrong token, or from another site's page (a foreign `Origin`), is
refused with 403 and journaled as refused (`control.refused`, at most one a second); a body
that is not what the page sends (a bad `Content-Length`, not JSON) gets 400. Nothing a
request does prints on the facilitator's console.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import queue
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from gameday.errors import UserError
from gameday.exercise.control import send, wait_reply
from gameday.exercise.injects import MARKER
from gameday.exercise.timeline import Pending
from gameday.exercise.view import clock_text, describe
from gameday.journal import Event
from gameday.paths import TEMPLATES
from gameday.rundir import RunDir
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

DASHBOARD_TEMPLATES = TEMPLATES / "dashboard"
HOST = "127.0.0.1"
HISTORY = 2000  # items a page opened late (or reconnecting) is sent before the live ones
TICK_S = 1.0  # how often every page gets the clock, the injects to come and the score
SHUTDOWN_POLL_S = 0.05  # how soon the server's loop sees `stop`: a run's end waits for it
COMMANDS = ("pause", "resume", "fire-next", "mark", "note", "end")
MAX_BODY = 8192
REFUSALS_JOURNALED_EVERY_S = 1.0  # a flood of forged commands journals one a second
MAX_NOTE = 2000
# Injects whose text is for the facilitator's eyes only: cues, and call scripts to read aloud.
FACILITATOR_ONLY = ("console", "phone-call")
_CALL_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.(wav|md)$")
_CONTENT_TYPES = {"wav": "audio/wav", "md": "text/markdown; charset=utf-8"}

ScoreSource = Callable[[float], Score]


class Dashboard:
    """Journal listener and web server of one run's dashboard; `start()`, then `stop()`."""

    def __init__(
        self,
        run: RunDir,
        scenario: Scenario,
        team: str,
        *,
        now: Callable[[], float],
        paused: Callable[[], bool],
        pending: Callable[[], list[Pending]],
        score: ScoreSource | None = None,
        rate: float | None = None,
        token_hash: str,
        port: int = 0,
        reply_timeout: float = 5.0,
    ) -> None:
        self.run = run
        self.scenario = scenario
        self.team = team
        self.now = now
        self.paused = paused
        self.pending = pending
        self.score = score
        self.rate = rate  # run seconds per real second, for the page to move its clock smoothly
        self.reply_timeout = reply_timeout
        self.token_hash = token_hash  # the facilitator token's SHA-256: the token is not kept
        self._port = port
        self._last_refusal = 0.0
        self._lock = threading.Lock()
        self._history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        # an inbox gets items, and None when the dashboard closes (a wake-up, not an item)
        self._subscribers: set[queue.Queue[dict[str, Any] | None]] = set()
        self._counter = 0
        self._ended: str | None = None
        self._closing = threading.Event()
        self._streams = threading.Condition()
        self._open_streams = 0
        self._state_cache: tuple[float, dict[str, Any]] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._page_template = Environment(
            loader=FileSystemLoader(DASHBOARD_TEMPLATES),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        ).get_template("dashboard.html.j2")

    # ── lifecycle ────────────────────────────────────────────────────────────────────────

    def start(self) -> Dashboard:
        self._server = _Server((HOST, self._port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_S,),
            name="dashboard",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the dashboard has not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def address(self, token: str) -> str:
        """The page's address with the facilitator token: whoever has it controls the run."""
        return f"{self.origin}/{token}/"

    def admits(self, token: str) -> bool:
        """Whether `token` is the facilitator's (checked against the hash alone)."""
        given = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        return hmac.compare_digest(given, self.token_hash)

    def stop(self, grace: float = 2.0) -> None:
        """Close every stream (each page gets what is left and the final state), then the server."""
        self._closing.set()
        with self._lock:  # wake the streams now rather than at their next tick
            for subscriber in self._subscribers:
                with contextlib.suppress(queue.Full):
                    subscriber.put_nowait(None)
        deadline = time.monotonic() + grace
        with self._streams:
            while self._open_streams and time.monotonic() < deadline:
                self._streams.wait(max(0.0, deadline - time.monotonic()))
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    # ── the journal's side ───────────────────────────────────────────────────────────────

    def __call__(self, event: Event) -> None:
        item = self.item(event)
        if event["kind"] == "run.ended":
            self._ended = str(event.get("reason") or "ended")
        if item is None:
            return
        with self._lock:
            if event["kind"] in ("run.paused", "run.resumed", "run.ended"):
                self._state_cache = None  # the state sent right after must say so
            self._counter += 1
            item["id"] = self._counter
            self._history.append(item)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.put_nowait(item)
            except queue.Full:
                # A page that stopped reading must not hold the run up: it is dropped, and
                # reconnects from the history if it comes back.
                with self._lock:
                    self._subscribers.discard(subscriber)

    def item(self, event: Event) -> dict[str, Any] | None:
        """What the page shows of one journal event, or None for events it does not show."""
        described = describe(event)
        if described is None:
            return None
        lane, text = described
        # The page is marked SIMULATION once, at its top, in large type; every subject
        # repeating the marker would only crowd the projector.
        text = text.replace(f"[{MARKER}] ", "")
        t = float(event["t"])
        item: dict[str, Any] = {
            "seq": event.get("seq"),
            "t": t,
            "clock": clock_text(t),
            "kind": event["kind"],
            "lane": lane,
            "text": text,
        }
        if event["kind"] == "inject.delivered":
            item["inject"] = event.get("inject")
            item["type"] = event.get("type")
            if event.get("type") in FACILITATOR_ONLY:
                item["private"] = str(event.get("body") or "")
                for field in ("script", "audio"):
                    value = event.get(field)
                    if isinstance(value, str) and value.startswith("calls/"):
                        item[field] = value
        elif event["kind"] == "check.changed":
            item["check"] = event.get("check")
            item["value"] = bool(event.get("value"))
        elif event["kind"] == "mark":
            item["step"] = event.get("step")
        return item

    # ── what the pages are sent ──────────────────────────────────────────────────────────

    def state(self) -> dict[str, Any]:
        """The clock, the injects to come and the score; computed at most once a tick."""
        moment = time.monotonic()
        with self._lock:
            cached = self._state_cache
        if cached is not None and moment - cached[0] < TICK_S / 4 and not self._closing.is_set():
            return cached[1]
        t = self.now()
        snapshot: dict[str, Any] = {
            "t": round(t, 3),
            "clock": clock_text(t),
            "paused": self.paused(),
            "ended": self._ended,
            "rate": self.rate,
            "pending": [_pending_item(p) for p in self.pending() if p.kind == "inject"][:8],
            "score": _score_item(self.score(t)) if self.score is not None else None,
        }
        with self._lock:
            self._state_cache = (moment, snapshot)
        return snapshot

    def page(self, nonce: str) -> str:
        """The page; its inline script and style carry `nonce`, which the CSP allows alone."""
        config = {
            "scenario": self.scenario.id,
            "title": self.scenario.title,
            "team": self.team,
            "run": self.run.path.name,
            "passMark": self.scenario.pass_mark,
            "steps": [
                {"id": s.id, "title": s.title, "manual": s.check.type == "manual"}
                for s in self.scenario.steps
            ],
        }
        return self._page_template.render(
            config=config,
            nonce=nonce,
            scenario=self.scenario,
            team=self.team,
            run=self.run.path.name,
        )

    def stream(self, last_id: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event name, data) pairs for one page: the history after `last_id`, then live."""
        inbox: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=HISTORY)
        with self._lock:
            backlog = [item for item in self._history if item["id"] > last_id]
            self._subscribers.add(inbox)
        try:
            for item in backlog:
                yield "item", item
            yield "state", self.state()
            next_tick = time.monotonic() + TICK_S
            while not self._closing.is_set():
                try:
                    news = inbox.get(timeout=max(0.0, next_tick - time.monotonic()))
                except queue.Empty:
                    yield "state", self.state()
                    next_tick = time.monotonic() + TICK_S
                    continue
                if news is None:
                    continue  # `stop` woke the stream: the run is closing
                yield "item", news
                if news["kind"] in ("run.paused", "run.resumed", "run.ended"):
                    yield "state", self.state()
            while True:  # the run is closing: what is left, then the final state
                try:
                    left = inbox.get_nowait()
                except queue.Empty:
                    break
                if left is not None:
                    yield "item", left
            yield "state", self.state()
        finally:
            with self._lock:
                self._subscribers.discard(inbox)

    def command(self, request: dict[str, Any], token: str) -> tuple[HTTPStatus, dict[str, Any]]:
        """A button's command, signed with `token` as `gameday pause --token` signs one."""
        name = request.get("command")
        if name not in COMMANDS:
            return HTTPStatus.BAD_REQUEST, {
                "ok": False,
                "message": f"unknown command {str(name)[:40]!r} — one of {', '.join(COMMANDS)}",
            }
        arguments: dict[str, Any] = {}
        if name == "mark":
            step = request.get("step")
            if step not in {s.id for s in self.scenario.steps}:
                return HTTPStatus.BAD_REQUEST, {"ok": False, "message": f"no step {step!s:.80}"}
            arguments["step"] = step
        elif name == "note":
            text = str(request.get("text") or "").strip()
            if not text or len(text) > MAX_NOTE:
                return HTTPStatus.BAD_REQUEST, {
                    "ok": False,
                    "message": f"a note is 1 to {MAX_NOTE} characters",
                }
            arguments.update(text=text, **{"as": "facilitator"})
        try:
            sent = send(self.run, str(name), token=token, via="dashboard", **arguments)
            reply = wait_reply(sent, self.run, self.reply_timeout)
        except UserError as error:
            return HTTPStatus.CONFLICT, {"ok": False, "message": str(error)}
        status = HTTPStatus.OK if reply.ok else HTTPStatus.CONFLICT
        return status, {"ok": reply.ok, "message": reply.message}

    def refuse(self, request: dict[str, Any], reason: str) -> None:
        """Have the run journal a command refused at the door (wrong token, foreign origin).

        At most one a second: a flood of forged posts cannot flood the journal.
        """
        name = request.get("command")
        if name not in COMMANDS:
            return  # not a command of the run's: there is nothing it would have done
        now = time.monotonic()
        with self._lock:
            if now - self._last_refusal < REFUSALS_JOURNALED_EVERY_S:
                return
            self._last_refusal = now
        fields: dict[str, Any] = {"refused": reason}
        if name == "mark":
            fields["step"] = str(request.get("step"))[:200]
        # once the run has ended there is nothing left to protect, nor a journal to write
        with contextlib.suppress(UserError):
            send(self.run, str(name), via="dashboard", **fields)

    def call_file(self, name: str) -> tuple[Path, str] | None:
        """A call script or its audio, by file name, from RUN_DIR/calls/ and nowhere else."""
        match = _CALL_FILE.match(name)
        if match is None:
            return None
        folder = self.run.calls.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file():
            return None
        return path, _CONTENT_TYPES[match.group(1)]

    # ── for the server ───────────────────────────────────────────────────────────────────

    def stream_opened(self) -> None:
        with self._streams:
            self._open_streams += 1

    def stream_closed(self) -> None:
        with self._streams:
            self._open_streams -= 1
            self._streams.notify_all()

    @property
    def closing(self) -> bool:
        return self._closing.is_set()


def _pending_item(entry: Pending) -> dict[str, Any]:
    return {
        "id": entry.id,
        "type": entry.fields.get("type"),
        "due": entry.due,
        "clock": clock_text(entry.due) if entry.due is not None else None,
        "after": entry.after,
    }


def _score_item(score: Score) -> dict[str, Any]:
    return {
        "score": score.score,
        "passed": score.passed,
        "pass_mark": score.pass_mark,
        "steps": [
            {
                "id": s.id,
                "title": s.title,
                "phase": s.phase,
                "status": s.status,
                "points": s.points,
                "awarded": s.awarded,
                "manual": s.manual,
                "critical": s.critical,
                "at": clock_text(s.satisfied_at_s) if s.satisfied_at_s is not None else None,
            }
            for s in score.steps
        ],
        "penalties": [
            {"id": p.id, "title": p.title, "points": p.points}
            for p in score.penalties
            if p.points > 0
        ],
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], board: Dashboard
    ) -> None:
        self.board = board
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up or sent nonsense is no news for the facilitator's console
        # (the default prints a traceback there); a request the handler could not serve
        # was already answered 500 by `_Handler.handle_one_request`.
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "gameday-dashboard"
    sys_version = ""
    timeout = 30.0  # a client that stops sending mid-request is dropped, not waited for

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as error:  # a bug: answered, never a traceback on the console
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._send_json(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    {"ok": False, "message": f"{type(error).__name__} in the dashboard"},
                )

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the facilitator's console is for the exercise, not an access log

    # ── routing ──────────────────────────────────────────────────────────────────────────

    def _split(self) -> tuple[str, str, bool]:
        """The token, the path after it, and whether there is a slash between them."""
        path = urlsplit(self.path).path.lstrip("/")
        token, slash, rest = path.partition("/")
        return token, rest, bool(slash)

    def _forbidden(self) -> None:
        self._send_text(
            HTTPStatus.FORBIDDEN,
            "403 forbidden — open the dashboard with the address `gameday run` printed on the "
            "facilitator's console (it carries the facilitator token)\n",
        )

    def _route(self) -> str | None:
        """The path after the token, or None (and a 403 sent) when the token is wrong."""
        token, rest, slash = self._split()
        if not self.server.board.admits(token):
            self._forbidden()
            return None
        if not slash:
            self._redirect(f"/{token}/")
            return None
        return rest

    def do_GET(self) -> None:
        rest = self._route()
        if rest is None:
            return
        board = self.server.board
        if rest == "":
            nonce = secrets.token_urlsafe(16)
            page = board.page(nonce).encode()
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page, nonce=nonce)
        elif rest == "state":
            self._send_json(HTTPStatus.OK, board.state())
        elif rest == "events":
            self._events()
        elif rest.startswith("calls/"):
            found = board.call_file(rest.removeprefix("calls/"))
            if found is None:
                self._send_text(HTTPStatus.NOT_FOUND, "no such call file\n")
            else:
                self._send(HTTPStatus.OK, found[1], found[0].read_bytes())
        else:
            self._send_text(HTTPStatus.NOT_FOUND, "not found\n")

    def do_POST(self) -> None:
        token, rest, _ = self._split()
        board = self.server.board
        if rest != "command":
            if self._route() is not None:
                self._send_text(HTTPStatus.NOT_FOUND, "not found\n")
            return
        request = self._json_body()
        if request is None:
            return
        # Another site's page cannot post here: it has no token, a cross-origin JSON post
        # needs a preflight this server never grants, and the Origin must be ours.
        origin = self.headers.get("Origin")
        if origin is not None and origin != board.origin:
            board.refuse(request, f"a command posted from another site ({origin[:80]})")
            self._send_text(HTTPStatus.FORBIDDEN, "403 forbidden — cross-origin command\n")
            return
        if not board.admits(token):
            board.refuse(request, "a wrong facilitator token in the dashboard's address")
            self._forbidden()
            return
        status, reply = board.command(request, token)
        self._send_json(status, reply)

    def _json_body(self) -> dict[str, Any] | None:
        """The posted JSON object, or None with a 4xx sent: never an exception."""
        if not str(self.headers.get("Content-Type", "")).startswith("application/json"):
            self._send_json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"ok": False, "message": "JSON"})
            return None
        given = str(self.headers.get("Content-Length") or "").strip()
        length = int(given) if given.isdigit() and len(given) <= 6 else -1
        if not 0 < length <= MAX_BODY:
            self.close_connection = True  # what follows the headers is not to be trusted
            self._send_json(
                HTTPStatus.BAD_REQUEST,
                {"ok": False, "message": f"Content-Length must be 1 to {MAX_BODY}"},
            )
            return None
        try:
            request = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):
            self._send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": "not JSON"})
            return None
        if not isinstance(request, dict):
            self._send_json(HTTPStatus.BAD_REQUEST, {"ok": False, "message": "not an object"})
            return None
        return request

    # ── responses ────────────────────────────────────────────────────────────────────────

    def _events(self) -> None:
        board = self.server.board
        try:
            last_id = int(self.headers.get("Last-Event-ID") or 0)
        except ValueError:
            last_id = 0
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        board.stream_opened()
        try:
            self.wfile.write(b"retry: 1000\n\n")
            for name, data in board.stream(last_id):
                ident = f"id: {data['id']}\n" if name == "item" else ""
                payload = json.dumps(data, separators=(",", ":"))
                self.wfile.write(f"{ident}event: {name}\ndata: {payload}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the page was closed
        finally:
            board.stream_closed()
            self.close_connection = True

    def _send_json(self, status: HTTPStatus, data: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(data).encode())

    def _send_text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode())

    def _redirect(self, location: str) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self._security_headers()
        self.end_headers()

    def _send(
        self, status: HTTPStatus, content_type: str, body: bytes, *, nonce: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._security_headers(nonce)
        self.end_headers()
        self.wfile.write(body)

    def _security_headers(self, nonce: str | None = None) -> None:
        self.send_header("Cache-Control", "no-store")
        # The token is in the address: never hand it to another site.
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        # Nothing but the page's own inline script and style runs; nothing loads from elsewhere.
        inline = f"'nonce-{nonce}'" if nonce is not None else "'none'"
        self.send_header(
            "Content-Security-Policy",
            f"default-src 'none'; script-src {inline}; style-src {inline}; "
            "connect-src 'self'; media-src 'self'; img-src data:; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'",
        )
