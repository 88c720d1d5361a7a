"""The warm start: `gameday run --clock virtual` played by a warm process forked for it.

A virtual-time run spends most of a fresh process's first seconds on what every run pays
alike: importing moto, boto3 and the scenario model, building AWS's managed policies and the
backends of a mock account, reading botocore's service models, starting the runbook's
process. A *warm-start server* pays that once: a background process of the user's that
imports everything, starts and warms a mock account, parks it (`MockAccount.park`: its
server stopped, its backends kept) and waits, with a single thread, for runs. For each it
forks a *worker*, a copy as warm as itself, that becomes the `gameday run` the user typed:

- the client (the `gameday` process the user started) sends its arguments, environment,
  folder, umask and its three standard streams (descriptors passed over the socket), and
  waits; the worker takes all of that, starts a session of its own, restores a fresh
  interpreter's signal dispositions, serves the parked account again on a port of its own
  under a new client token, forks its runbooks' zygote from itself (`ForkedZygote`), and
  runs `gameday run` as the client would have — same output, files, journal and exit code;
- the client forwards SIGINT, SIGTERM and SIGHUP to the worker and ends as the worker ended:
  its exit code, or the signal that killed it;
- a worker whose client is gone (killed with SIGKILL, say) kills itself at once: a run
  never outlives the command that started it, and `gameday recover` finds it as a crash.

The server's socket lives in a folder of the user's cache (`GAMEDAY_CACHE_DIR`, else
`$XDG_CACHE_HOME/gameday`, else `~/.cache/gameday`), under `warm/`, owner-only, named after
a fingerprint of what the server's state depends on: the interpreter, the code of the
package and of moto, boto3, botocore…, the variables read at import (`PYTHON*`, `MOTO_*`,
the locale, `HOME`…) and the user. A client whose fingerprint differs (the code changed, a
`pip install` ran) finds no server and runs in its own process. The server accepts only
its own user's connections (the peer's credentials are checked), holds no secret of any
run (a run's keys, tokens and folders are made in the worker, after the fork), and ends
after `GAMEDAY_WARM_START_IDLE` seconds (default 1,200) without a run, or with
`gameday warm stop`.

Who starts it: `gameday warm start`, or any `gameday run --clock virtual` that found none,
once its own run is over (so a first run is not slowed by it) — but on a CI runner (`CI`
set), whose job would leave it behind. `GAMEDAY_WARM_START=off` (or
`GAMEDAY_CACHE_DIR=off`) turns it all off; so does anything but Linux. Wall-clock runs (a
team at the keyboard, for hours) always run in their own process.

A warm run is the run a fresh process plays: the journal of a seed is the same event for
event (tests/test_warm_start.py holds it to that).

This module's client side imports only the standard library: it runs before anything else
in the `gameday` command.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

SWITCH_VARIABLE = "GAMEDAY_WARM_START"
IDLE_VARIABLE = "GAMEDAY_WARM_START_IDLE"
CACHE_VARIABLE = "GAMEDAY_CACHE_DIR"  # the same folder as the service models' cache
TOKEN_VARIABLE = "GAMEDAY_FACILITATOR_TOKEN"
MODULE = "gameday.warm_start"
DEFAULT_IDLE_S = 1200.0
MAX_REQUEST = 1024 * 1024
_MESSAGE = 64 * 1024
_STARTED_S = 30.0  # a busy machine's fork of a large process: well under a second
_SOCKET_PATH_MAX = 100
_LOG_MAX = 256 * 1024  # sun_path holds 108 bytes
# Signals a user sends `gameday run` (Ctrl-C, kill, a closed terminal): the worker's to act on.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What the server's state depends on beside the code: variables read as modules are imported
# or as the mock is started (moto's settings, GitPython's, the interpreter's, the locale).
_FINGERPRINT_PREFIXES = ("PYTHON", "MOTO_", "GIT_PYTHON", "LC_")
_FINGERPRINT_NAMES = ("HOME", "LANG", "TZ", "XDG_CACHE_HOME", CACHE_VARIABLE)
# The libraries whose code the server holds in memory: a change of any of them is another
# server (the folder's mtime moves when files are added or replaced).
_LIBRARIES = ("moto", "boto3", "botocore", "werkzeug", "pydantic", "jinja2", "git", "click")


# ── where the server is ───────────────────────────────────────────────────────────────────


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether runs may be served by a warm-start server here at all."""
    env = os.environ if env is None else env
    if env.get(SWITCH_VARIABLE, "").lower() in ("off", "0", "no", "false"):
        return False
    if env.get(CACHE_VARIABLE, "").lower() in ("off", "0", "none"):
        return False
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and hasattr(socket, "send_fds")
        and hasattr(socket, "SO_PEERCRED")
    )


def folder(env: Mapping[str, str] | None = None) -> Path:
    """The folder of the user's warm-start servers' sockets."""
    env = os.environ if env is None else env
    chosen = env.get(CACHE_VARIABLE, "")
    if chosen:
        root = Path(chosen)
    else:
        base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "gameday"
    return root / "warm"


def _package_stamp(package: Path) -> Iterator[str]:
    for path in sorted(package.rglob("*.py")):
        with contextlib.suppress(OSError):
            status = path.stat()
            yield f"{path.relative_to(package)}:{status.st_mtime_ns}:{status.st_size}"


def _library_stamp(name: str) -> str:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return f"{name}:none"
    if spec is None or spec.origin is None:
        return f"{name}:none"
    origin = Path(spec.origin)
    try:
        return f"{name}:{origin}:{origin.parent.stat().st_mtime_ns}:{origin.stat().st_mtime_ns}"
    except OSError:
        return f"{name}:none"


def fingerprint(env: Mapping[str, str] | None = None, package: Path | None = None) -> str:
    """What a server's state depends on, hashed: a client talks only to a server of its own."""
    env = os.environ if env is None else env
    package = Path(__file__).resolve().parent if package is None else package
    digest = hashlib.sha256()
    parts: list[str] = [
        sys.executable,
        sys.version,
        str(os.getuid()),
        str(package),
        *_package_stamp(package),
        *(_library_stamp(name) for name in _LIBRARIES),
        *(
            f"{name}={value}"
            for name, value in sorted(env.items())
            if name.startswith(_FINGERPRINT_PREFIXES) or name in _FINGERPRINT_NAMES
        ),
    ]
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return digest.hexdigest()[:20]


class Place:
    """One server's socket, lock and log."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    @property
    def lock(self) -> Path:
        return self.socket.with_suffix(".lock")

    @property
    def log(self) -> Path:
        return self.socket.with_suffix(".log")


def place(env: Mapping[str, str] | None = None) -> Place | None:
    """This client's server's place, or None where no server may be."""
    if not enabled(env):
        return None
    path = folder(env) / f"{fingerprint(env)}.sock"
    if len(os.fsencode(path)) > _SOCKET_PATH_MAX:
        return None
    return Place(path)


def _private_folder(path: Path, *, create: bool) -> bool:
    """Whether `path` is a folder only this user can enter (made so when `create`)."""
    if create:
        with contextlib.suppress(OSError):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        status = path.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(status.st_mode)
        and status.st_uid == os.getuid()
        and not status.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


# ── the client ────────────────────────────────────────────────────────────────────────────


def eligible(args: Sequence[str]) -> bool:
    """Whether `gameday ARGS` is a run the warm start serves: `run … --clock virtual`."""
    if not args or args[0] != "run" or any(a in ("-h", "--help") for a in args):
        return False
    rest = list(args[1:])
    for index, argument in enumerate(rest):
        if argument == "--":
            return False
        if argument == "--clock=virtual":
            return True
        if argument == "--clock" and index + 1 < len(rest) and rest[index + 1] == "virtual":
            return True
    return False


def _connect(where: Place, timeout: float | None = 5.0) -> socket.socket | None:
    if not _private_folder(where.socket.parent, create=False):
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.settimeout(timeout)
    try:
        connection.connect(os.fspath(where.socket))
    except OSError:
        connection.close()
        return None
    return connection


def _ask(connection: socket.socket, message: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode("utf-8")
    if fds:
        socket.send_fds(connection, [data], list(fds))
    else:
        connection.send(data)


def _answer(connection: socket.socket) -> dict[str, Any] | None:
    try:
        data = connection.recv(_MESSAGE)
    except OSError:
        return None
    if not data:
        return None
    try:
        message = json.loads(data.decode("utf-8"))
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def play(args: Sequence[str], where: Place | None) -> int | None:
    """`gameday ARGS` played by the warm-start server at `where`: the worker's exit status
    (an exit code, or minus the signal that ended it); None when no server took it."""
    if where is None:
        return None
    connection = _connect(where)
    if connection is None:
        return None
    with connection:
        umask = os.umask(0o077)
        os.umask(umask)
        request = {
            "op": "run",
            "args": list(args),
            # `gameday run` reads no facilitator token (it issues its own): one exported in
            # the shell, another run's, never reaches the server's memory, nor its copies'
            "env": {k: v for k, v in os.environ.items() if k != TOKEN_VARIABLE},
            "cwd": os.getcwd(),
            "umask": umask,
            "path0": sys.path[0] if sys.path else "",
            "argv0": sys.argv[0] if sys.argv else "gameday",
            # how click names the program: `gameday`, or `python -m gameday`
            "main_package": getattr(sys.modules.get("__main__"), "__package__", None),
            "client": os.getpid(),
            "limits": _limits(),
            "nice": os.getpriority(os.PRIO_PROCESS, 0),
        }
        data = json.dumps(request).encode("utf-8")
        if len(data) > MAX_REQUEST:
            return None
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        try:
            socket.send_fds(connection, [data], [0, 1, 2])
        except OSError:
            return None
        connection.settimeout(_STARTED_S)
        reply = _answer(connection)
        if reply is None or reply.get("op") != "started":
            return None  # refused, or gone before it forked: this process runs it
        worker = int(reply["pid"])

        def forward(number: int, _frame: object) -> None:
            with contextlib.suppress(OSError):
                os.kill(worker, number)

        for number in FORWARDED:
            if signal.getsignal(number) is not signal.SIG_IGN:  # `nohup gameday run …` stays so
                signal.signal(number, forward)
        connection.settimeout(None)
        ended = _answer(connection)  # a forwarded signal's handler returns: recv goes on
        if ended is None or ended.get("op") != "exited":
            print(
                "gameday: the warm-start server ended before it could report how the run "
                f"ended (its log: {where.log}); `gameday status` tells what the run did",
                file=sys.stderr,
            )
            return 3
        return int(ended["returncode"])


def _limits() -> dict[str, list[int]]:
    """This process's resource limits (`ulimit`), soft and hard, by name."""
    import resource

    limits: dict[str, list[int]] = {}
    for name in dir(resource):
        if name.startswith("RLIMIT_"):
            with contextlib.suppress(OSError, ValueError):
                limits[name] = list(resource.getrlimit(getattr(resource, name)))
    return limits


def _not_above(wanted: int, allowed: int) -> bool:
    """Whether a limit `wanted` is within `allowed` (either may be RLIM_INFINITY, -1)."""
    if allowed < 0:
        return True
    return 0 <= wanted <= allowed


def _limits_problem(wanted: Mapping[str, Sequence[int]], nice: int) -> str | None:
    """Why a worker of this process could not be the client's process, or None.

    A worker lowers its limits and priority to the client's; it cannot raise them above the
    server's (an unprivileged process never can): such a client runs in its own process.
    """
    mine = _limits()
    for name, (soft, hard) in wanted.items():
        if name not in mine:
            return f"{name} is not a limit here"
        if not _not_above(int(hard), mine[name][1]) or not _not_above(int(soft), int(hard)):
            return f"{name} {soft}/{hard} is above this server's {mine[name][1]}"
    for name in mine:
        if name not in wanted:
            return f"the client did not say its {name}"
    if nice < os.getpriority(os.PRIO_PROCESS, 0) and os.geteuid() != 0:
        return f"priority {nice} is above this server's"
    return None


def _take_limits(wanted: Mapping[str, Sequence[int]], nice: int) -> None:
    import resource

    for name, (soft, hard) in wanted.items():
        resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    os.setpriority(os.PRIO_PROCESS, 0, nice)


def leave_as(status: int) -> NoReturn:
    """End this process as the worker ended: its exit code, or the signal that killed it."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if status < 0:
        number = -status
        with contextlib.suppress(OSError, ValueError):
            signal.signal(number, signal.SIG_DFL)  # SIGKILL's cannot be changed, or caught
        with contextlib.suppress(OSError):
            os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(status & 0xFF)


def automatic(env: Mapping[str, str] | None = None) -> bool:
    """Whether a virtual run that found no server starts one: not on a CI runner (`CI` set,
    as GitHub Actions, GitLab CI and most others set it), whose job would leave it behind —
    `gameday warm start` still does there."""
    env = os.environ if env is None else env
    return env.get("CI", "").lower() in ("", "0", "false", "no")


def spawn(where: Place | None, *, env: Mapping[str, str] | None = None) -> bool:
    """Start the server for `where` in the background (if none is there or starting)."""
    if where is None or not _private_folder(where.socket.parent, create=True):
        return False
    environment = {
        name: value
        for name, value in (os.environ if env is None else env).items()
        if name != TOKEN_VARIABLE and not name.startswith("AWS_")
    }
    import subprocess

    package_parent = Path(__file__).resolve().parent.parent
    with contextlib.suppress(OSError):
        if where.log.stat().st_size > _LOG_MAX:
            where.log.unlink()  # a log of starts and stops: the old part goes
    try:
        with open(where.log, "ab") as log:
            os.chmod(where.log, 0o600)
            subprocess.Popen(
                [sys.executable, "-m", MODULE, "serve", os.fspath(where.socket)],
                cwd=package_parent,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
    except OSError:
        return False
    return True


def ping(where: Place, timeout: float = 2.0) -> dict[str, Any] | None:
    """The server's own account of itself, or None when none answers at `where`."""
    connection = _connect(where, timeout)
    if connection is None:
        return None
    with connection:
        try:
            _ask(connection, {"op": "ping"})
        except OSError:
            return None
        return _answer(connection)


def ready(where: Place, timeout: float) -> dict[str, Any] | None:
    """Wait up to `timeout` seconds for the server at `where` to answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = ping(where)
        if answer is not None or time.monotonic() >= deadline:
            return answer
        time.sleep(0.05)


def servers(env: Mapping[str, str] | None = None) -> list[tuple[Place, dict[str, Any]]]:
    """Every warm-start server of this user's cache folder that answers."""
    here = folder(env)
    if not _private_folder(here, create=False):
        return []
    found = []
    for path in sorted(here.glob("*.sock")):
        answer = ping(Place(path))
        if answer is not None:
            found.append((Place(path), answer))
    return found


def stop(where: Place, timeout: float = 10.0) -> bool:
    """Ask the server at `where` to stop taking runs (those under way end as they would)."""
    connection = _connect(where)
    if connection is None:
        return False
    with connection:
        try:
            _ask(connection, {"op": "stop"})
        except OSError:
            return False
        _answer(connection)
    deadline = time.monotonic() + timeout
    while where.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


# ── the server ────────────────────────────────────────────────────────────────────────────


def _log(text: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} [{os.getpid()}] {text}", file=sys.stderr, flush=True)


def _prepare() -> None:
    """What a run pays before its clock starts, paid here once for every worker
    (`warm_copies.prepare`), and the command line imported."""
    import gameday.cli  # noqa: F401  the command line, rich, click, the scenario model
    from gameday.exercise import warm_copies

    warm_copies.prepare(None)


def _peer_uid(connection: socket.socket) -> int:
    data = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", data)
    return int(uid)


def _close(fds: Sequence[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


class Server:
    """The server's loop: one thread, a worker forked per run, each worker's end reported."""

    def __init__(self, where: Place, idle_s: float) -> None:
        self.where = where
        self.idle_s = idle_s
        self.started = time.time()
        self.served = 0
        self.accepting = True
        self.workers: dict[int, socket.socket] = {}
        self.fresh: dict[int, Any] = {}
        self.listener: socket.socket | None = None
        self.inode = 0

    def run(self) -> int:
        where = self.where
        lock = os.open(where.lock, os.O_RDWR | os.O_CREAT, 0o600)
        import fcntl

        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another server for this place is starting or serving
        self.lock = lock
        for number in signal.valid_signals():
            with contextlib.suppress(OSError, ValueError):
                handler = signal.getsignal(number)
                if handler is not None:
                    self.fresh[int(number)] = handler
        began = time.monotonic()
        _prepare()
        if threading.active_count() != 1:
            _log(f"not serving: {threading.active_count()} threads after the warm-up")
            return 1
        with contextlib.suppress(FileNotFoundError):
            where.socket.unlink()  # a server that died left it; the lock is ours
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old_mask = os.umask(0o177)
        try:
            listener.bind(os.fspath(where.socket))
        finally:
            os.umask(old_mask)
        listener.listen(16)
        listener.setblocking(False)
        self.listener = listener
        self.inode = where.socket.stat().st_ino
        _log(f"serving at {where.socket}, warm in {time.monotonic() - began:.2f} s")
        waker, woken = os.pipe()
        os.set_blocking(waker, False)
        os.set_blocking(woken, False)
        self.pipe = (waker, woken)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, lambda *_: self._stop_accepting())
        signal.set_wakeup_fd(woken)
        last = time.monotonic()
        try:
            while self.accepting or self.workers:
                timeout: float | None = None
                if not self.workers:
                    timeout = max(0.0, self.idle_s - (time.monotonic() - last))
                    if timeout == 0.0:
                        _log("idle: stopping")
                        break
                watched = [waker] + ([listener] if self.accepting else [])
                try:
                    readable, _, _ = select.select(watched, [], [], timeout)
                except InterruptedError:
                    continue
                if waker in readable:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(waker, 512):
                            pass
                if self._reap():
                    last = time.monotonic()
                if self.accepting and not self._still_ours():
                    _log("the socket was removed or replaced: stopping")
                    self._stop_accepting()
                if self.accepting and listener in readable:
                    self._accept()
                    last = time.monotonic()
        finally:
            self._stop_accepting()
            # a clean end: nothing of this server is left (a crash leaves its log)
            for leftover in (where.log, where.lock):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        return 0

    def _still_ours(self) -> bool:
        try:
            return self.where.socket.stat().st_ino == self.inode
        except OSError:
            return False

    def _stop_accepting(self) -> None:
        if not self.accepting:
            return
        self.accepting = False
        if self.listener is not None:
            if self._still_ours():
                with contextlib.suppress(OSError):
                    self.where.socket.unlink()
            self.listener.close()

    def _reap(self) -> bool:
        reaped = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return reaped
            if pid == 0:
                return reaped
            reaped = True
            connection = self.workers.pop(pid, None)
            if connection is not None:
                returncode = os.waitstatus_to_exitcode(status)
                _log(f"worker {pid} ended: {returncode}")
                with contextlib.suppress(OSError):
                    _ask(connection, {"op": "exited", "returncode": returncode})
                connection.close()

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            connection, _ = self.listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        keep = False
        fds: list[int] = []
        try:
            connection.setblocking(True)
            connection.settimeout(5.0)
            if _peer_uid(connection) != os.getuid():
                return
            data, fds, flags, _ = socket.recv_fds(connection, MAX_REQUEST, 3)
            if not data or flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                return
            request = json.loads(data.decode("utf-8"))
            op = request.get("op") if isinstance(request, dict) else None
            if op == "ping":
                _ask(connection, self._about())
            elif op == "stop":
                _log("asked to stop")
                self._stop_accepting()
                _ask(connection, {"op": "stopping", "pid": os.getpid()})
            elif op == "run" and len(fds) == 3:
                keep = self._fork(connection, fds, request)
            else:
                _ask(connection, {"op": "refused", "message": "an unknown request"})
        except (OSError, ValueError, KeyError, TypeError) as error:
            _log(f"a request failed: {type(error).__name__}: {error}")
        finally:
            _close(fds)
            if not keep:
                connection.close()

    def _about(self) -> dict[str, Any]:
        return {
            "op": "pong",
            "pid": os.getpid(),
            "since": self.started,
            "served": self.served,
            "running": len(self.workers),
            "idle_s": self.idle_s,
            "socket": os.fspath(self.where.socket),
        }

    def _fork(self, connection: socket.socket, fds: list[int], request: dict[str, Any]) -> bool:
        args = [str(a) for a in request["args"]]
        env = {str(k): str(v) for k, v in dict(request["env"]).items() if k != TOKEN_VARIABLE}
        if not eligible(args) or threading.active_count() != 1:
            _ask(connection, {"op": "refused", "message": "not a run this server plays"})
            return False
        limits = {str(k): [int(v[0]), int(v[1])] for k, v in dict(request["limits"]).items()}
        nice = int(request["nice"])
        problem = _limits_problem(limits, nice)
        if problem is not None:
            _ask(connection, {"op": "refused", "message": problem})
            return False
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:
            self._become_worker(connection, fds, request, args, env, limits, nice)
        self.served += 1
        self.workers[pid] = connection
        _log(f"run {self.served} for process {request.get('client')}: worker {pid}")
        _ask(connection, {"op": "started", "pid": pid})
        return True

    def _become_worker(
        self,
        connection: socket.socket,
        fds: list[int],
        request: dict[str, Any],
        args: list[str],
        env: dict[str, str],
        limits: Mapping[str, Sequence[int]],
        nice: int,
    ) -> NoReturn:
        """In the forked child: become the `gameday run` the client would have been."""
        try:
            os.setsid()
            signal.set_wakeup_fd(-1)
            for number, handler in self.fresh.items():
                with contextlib.suppress(OSError, ValueError):
                    signal.signal(number, handler)
            stdin, stdout, stderr = fds
            os.dup2(stdin, 0)
            os.dup2(stdout, 1)
            os.dup2(stderr, 2)
            # the server's sockets are not the worker's: their descriptors go, unclosed by
            # objects that would otherwise close whatever later takes their numbers
            for other in [self.listener, *self.workers.values()]:
                if other is not None:
                    other.detach()
            from gameday.exercise.runbook_zygote import _close_all_but

            _close_all_but({0, 1, 2, connection.fileno()})
            _take_limits(limits, nice)
            os.umask(int(request["umask"]))
            os.chdir(str(request["cwd"]))
            os.environ.clear()
            os.environ.update(env)
            if sys.path:
                sys.path[0] = str(request.get("path0") or sys.path[0])
            sys.argv = [str(request.get("argv0") or "gameday"), *args]
            main_package = request.get("main_package")
            sys.modules["__main__"].__package__ = (
                str(main_package) if isinstance(main_package, str) else None
            )
            _fresh_streams()
            _worker(connection, env)
        except BaseException:
            import traceback

            with contextlib.suppress(Exception):
                traceback.print_exc()
            os._exit(3)
        os._exit(3)


def _fresh_streams() -> None:
    """sys.stdin, stdout and stderr on the client's descriptors, buffered as an interpreter
    started on them buffers them (line by line on a terminal)."""
    import io

    def stream(fd: int, mode: str, like: Any) -> Any:
        encoding = getattr(like, "encoding", None) or "utf-8"
        errors = getattr(like, "errors", None) or "strict"
        raw = io.FileIO(fd, mode, closefd=False)
        interactive = raw.isatty()
        if mode == "r":
            return io.TextIOWrapper(
                io.BufferedReader(raw), encoding=encoding, errors=errors, line_buffering=False
            )
        return io.TextIOWrapper(
            io.BufferedWriter(raw),
            encoding=encoding,
            errors=errors,
            line_buffering=interactive or fd == 2,
            write_through=fd == 2,
        )

    sys.stdin = stream(0, "r", sys.__stdin__)
    sys.stdout = stream(1, "w", sys.__stdout__)
    sys.stderr = stream(2, "w", sys.__stderr__)


def _worker(connection: socket.socket, env: Mapping[str, str]) -> NoReturn:
    from gameday import cli
    from gameday.exercise import runbook_zygote, warm_copies

    # the runbooks' zygote: forked now, while this process has its one thread
    warm_copies.fork_zygote(env)

    def watch() -> None:
        """The client gone (killed), the run goes too: it never outlives its command."""
        with contextlib.suppress(OSError):
            while connection.recv(_MESSAGE):
                pass
        os.kill(os.getpid(), signal.SIGKILL)

    connection.settimeout(None)
    threading.Thread(target=watch, name="warm-start-client", daemon=True).start()
    cli.fresh_consoles()
    try:
        cli.entry()  # leaves by os._exit, unless a thread that is not a daemon still works
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            print(done.code, file=sys.stderr)
    # as the interpreter would: wait for those threads, run the exit handlers
    runbook_zygote._finish_interpreter()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code & 0xFF)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] != "serve":
        print(f"usage: python -m {MODULE} serve SOCKET", file=sys.stderr)
        return 2
    try:
        idle = float(os.environ.get(IDLE_VARIABLE) or DEFAULT_IDLE_S)
    except ValueError:
        idle = DEFAULT_IDLE_S
    return Server(Place(Path(argv[1])), idle).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
