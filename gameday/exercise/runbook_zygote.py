"""A fork server for runbook processes: each runbook's process is forked ready to run.

A runbook's process (`gameday.exercise.runbook_host`) pays over a second of processor time
before the runbook's first line runs: the interpreter, boto3 and botocore, the framework's
modules, the service models its clients read. A process that plays many runs (a pool
worker, a test session) pays it once per run. So the first runbook of a process starts a
*zygote* (`python -m gameday.exercise.runbook_zygote`) that forks one child per runbook
and, whenever no runbook waits, prepares for the next: it imports all of that and fills
botocore's shared model loader, once, for every child forked afterwards.

The zygote changes how a runbook's process is made, not what it is:

- the zygote is started with the runbook's environment (no facilitator token), in a session
  of its own, and holds nothing of any run: its imports, and models read from botocore's
  data. A request carries only the child's environment, folder and runbook path, and three
  descriptors (the runbook's end of its socket, the requester's standard output and error);
- each child starts a session of its own (the run ends it with `killpg`, as before), takes
  the requested environment, folder, streams (standard input is `/dev/null`), the signal
  dispositions of a fresh interpreter, closes every other descriptor (the zygote's control
  socket among them), and runs `runbook_host.main`;
- the zygote forks only while it has a single thread, reaps its children and reports each
  exit status; `HostProcess` gives the run the part of `subprocess.Popen` it uses (`pid`,
  `poll()`, `wait()`, `returncode`);
- the zygote ends with the process that started it (end of file on its control socket, and
  on Linux the parent-death signal).

Off Linux, where `os.fork` is missing, where a zygote cannot start or has died, where the
requester's environment differs in what an interpreter reads as it starts (`PYTHON*`,
`HOME`, the locale), or with `GAMEDAY_RUNBOOK_ZYGOTE=off`, the runbook's process is started
with `subprocess.Popen` as it always was. A zygote that died is not replaced in that process.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from gameday import heap
from gameday.rundir import process_alive

SWITCH_VARIABLE = "GAMEDAY_RUNBOOK_ZYGOTE"
MODULE = "gameday.exercise.runbook_zygote"
MAX_REQUEST = 256 * 1024
_REPLY_SIZE = 4096
_FIRST_REPLY_S = 60.0  # the zygote's own imports come first (seconds on a busy machine)
_REPLY_S = 15.0
# A child whose exit its zygote (dead) could not report is taken for killed.
UNKNOWN_EXIT = -signal.SIGKILL
# What the interpreter reads from its environment as it starts: a child forked from a
# zygote started with other values would not be the process Popen would start.
_START_VARIABLES = ("HOME", "LANG", "LC_ALL", "LC_CTYPE")
# The clients most runbooks make (botocore service names), made once in the zygote so that
# their models are loaded and their client classes built before any child is forked.
PRELOADED_SERVICES = (
    "sts",
    "iam",
    "ec2",
    "s3",
    "secretsmanager",
    "cloudtrail",
    "support",
    "lambda",
    "kms",
    "logs",
    "health",
    "organizations",
)


def enabled() -> bool:
    """Whether runbook processes may come from a zygote here at all."""
    if os.environ.get(SWITCH_VARIABLE, "").lower() in ("off", "0", "no", "false"):
        return False
    # Linux only: the zygote's end with its requester, its children's descriptors and exits
    # are read there; elsewhere a forked child of a process that imported system frameworks
    # (macOS) is not safe to run.
    return sys.platform.startswith("linux") and hasattr(os, "fork") and hasattr(socket, "send_fds")


def start_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in env.items()
        if name.startswith("PYTHON") or name in _START_VARIABLES
    }


# ── the requester's side ──────────────────────────────────────────────────────────────────


class HostProcess:
    """A runbook's process forked by the zygote, as the run sees it: what it uses of Popen."""

    def __init__(self, pid: int, zygote: Zygote) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._zygote = zygote

    def poll(self) -> int | None:
        with self._zygote.changed:
            if self.returncode is None and not self._zygote.alive:
                self._check_orphan()
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._zygote.changed:
            while self.returncode is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired([MODULE, str(self.pid)], timeout or 0.0)
                if self._zygote.alive:
                    self._zygote.changed.wait(left)
                else:
                    self._check_orphan()
                    if self.returncode is None:
                        self._zygote.changed.wait(0.02 if left is None else min(left, 0.02))
            return self.returncode

    def _check_orphan(self) -> None:
        """With the zygote gone, the child is reaped by someone else: gone is all we learn."""
        if not running(self.pid):
            self.returncode = UNKNOWN_EXIT


def running(pid: int) -> bool:
    """Whether process `pid` is there and not a zombie (gone in all but name)."""
    if not process_alive(pid):
        return False
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


class ZygoteUnavailable(Exception):
    """The zygote cannot fork this runbook's process: it is started with Popen instead."""


class Zygote:
    """The requester's handle on one zygote process.

    A reader thread starts the zygote (on Linux its parent-death signal follows the thread
    that started it, so that thread lives as long as the zygote) and reads everything it
    says: the reply to each request, in order, and the exit status of each child. Requests
    are made one at a time.
    """

    def __init__(self, env: Mapping[str, str], *, fork: bool = False) -> None:
        self.env = dict(env)
        self.start_variables = start_variables(env)
        self.alive = True
        self.changed = threading.Condition()
        self.process: subprocess.Popen[bytes] | ForkedZygote | None = None
        self._requests = threading.Lock()
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._children: dict[int, HostProcess] = {}
        self._answered = False
        self._owner = os.getpid()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._control = ours
        if fork:
            self.process = ForkedZygote.fork(theirs, ours)
            theirs.close()
            self._answered = True  # a copy of this process: nothing to import first
        self._reader = threading.Thread(
            target=self._read, args=(None if fork else theirs,), name="runbook-zygote", daemon=True
        )
        self._reader.start()

    def spawn(self, descriptor: int, path: Path, env: Mapping[str, str]) -> HostProcess:
        """Fork a runbook's process serving `path` on the socket `descriptor`."""
        if start_variables(env) != self.start_variables:
            raise ZygoteUnavailable("the environment differs in what an interpreter reads")
        request = json.dumps(
            {"op": "spawn", "env": dict(env), "cwd": os.getcwd(), "path": str(path)}
        ).encode("utf-8")
        if len(request) > MAX_REQUEST:
            raise ZygoteUnavailable("the request is too large")
        with self._requests:
            if not self.alive:
                raise ZygoteUnavailable("the zygote has ended")
            try:
                socket.send_fds(self._control, [request], [descriptor, 1, 2])
            except OSError as error:
                raise ZygoteUnavailable(f"the zygote took no request: {error}") from None
            try:
                reply = self._replies.get(timeout=_REPLY_S if self._answered else _FIRST_REPLY_S)
            except queue.Empty:
                reply = None
            if reply is None:
                self.stop()
                raise ZygoteUnavailable("the zygote did not answer")
            self._answered = True
        if reply.get("op") != "spawned":
            raise ZygoteUnavailable(str(reply.get("message") or "the zygote refused"))
        # the reader's own object: a child that is over already (a runbook refused at once)
        # has its exit status in it
        child: HostProcess = reply["child"]
        return child

    def stop(self) -> None:
        """End the zygote (its children are left to the runs that own them)."""
        with self.changed:
            self.alive = False
            self.changed.notify_all()
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()

    def forget(self) -> None:
        """In a forked copy of the requester: this zygote is not ours (its threads are not here)."""
        self.alive = False
        with contextlib.suppress(OSError):
            self._control.close()

    def _read(self, theirs: socket.socket | None) -> None:
        if theirs is not None:
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", MODULE, str(theirs.fileno()), str(self._owner)],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    env=self.env,
                    start_new_session=True,
                )
            except OSError:
                self._ended()
                return
            finally:
                theirs.close()
        assert self.process is not None
        try:
            while True:
                data = self._control.recv(_REPLY_SIZE)
                if not data:
                    break
                message = json.loads(data.decode("utf-8"))
                if not isinstance(message, dict):
                    break
                self._received(message)
        except (OSError, ValueError):
            pass
        finally:
            self._ended()
            with contextlib.suppress(OSError):
                self._control.close()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5.0)

    def _received(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "spawned":
            pid = int(message["pid"])
            spawned = HostProcess(pid, self)
            with self.changed:
                self._children[pid] = spawned
            self._replies.put({**message, "child": spawned})
        elif op == "refused":
            self._replies.put(message)
        elif op == "exited":
            with self.changed:
                child = self._children.pop(int(message["pid"]), None)
                if child is not None:
                    child.returncode = int(message["returncode"])
                self.changed.notify_all()

    def _ended(self) -> None:
        with self.changed:
            self.alive = False
            self.changed.notify_all()
        self._replies.put(None)


class ForkedZygote:
    """A zygote forked from this very process (what Popen gives the requester of one it
    started: `pid`, `poll()`, `kill()`, `wait()`).

    A process that is itself a warm copy (a warm-start server's child, `gameday.warm_start`)
    has everything a zygote would import: while it still has a single thread it forks its
    zygote at once rather than start one that imports it all again.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    @classmethod
    def fork(cls, theirs: socket.socket, ours: socket.socket) -> ForkedZygote:
        if threading.active_count() != 1:
            raise ZygoteUnavailable("a process with threads does not fork its zygote")
        parent = os.getpid()
        _flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ours.close()
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 0)
                _close_all_but({0, 1, 2, theirs.fileno()})
                # as `python -m` would have it: the folder it starts in, first
                if sys.path:
                    sys.path[0] = os.getcwd()
                code = serve(theirs.fileno(), parent)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        return cls(pid)

    def poll(self) -> int | None:
        if self.returncode is None:
            with contextlib.suppress(ChildProcessError):
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid == self.pid:
                    self.returncode = _returncode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired([MODULE, str(self.pid)], timeout or 0.0)
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode


class Zygotes:
    """The zygote of this process: started with the first runbook, never replaced once dead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._failed = False
        # A zygote pays for itself from a process's second runbook on; one that plays a
        # single run (`gameday run`) would only prepare, on the other core, what nobody forks.
        self.many_runs = False

    def expect_many_runs(self) -> None:
        """This process plays run after run (a batch, a pool's worker, a test session): its
        runbooks' processes come from a zygote."""
        self.many_runs = True

    @property
    def current(self) -> Zygote | None:
        return self._zygote

    def fork_now(self, env: Mapping[str, str]) -> None:
        """Fork this process's zygote now, from this process as it is (which must have a
        single thread), for run after run or a single one: a warm copy's runbooks start
        as forks of it (`ForkedZygote`)."""
        if not enabled():
            return
        with self._lock:
            if self._zygote is not None:
                return
            try:
                self._zygote = Zygote(env, fork=True)
            except (ZygoteUnavailable, OSError):
                self._failed = True
                return
        self.many_runs = True

    def get(self, env: Mapping[str, str]) -> Zygote | None:
        with self._lock:
            if self._zygote is None and not self._failed:
                self._zygote = Zygote(env)
            zygote = self._zygote
        if zygote is None or not zygote.alive:
            return None
        return zygote

    def spawn(self, descriptor: int, path: Path, env: Mapping[str, str]) -> HostProcess | None:
        """The runbook's process from the zygote, or None: then it is Popen's to start."""
        if not self.many_runs or not enabled():
            return None
        zygote = self.get(env)
        if zygote is None:
            return None
        try:
            return zygote.spawn(descriptor, path, env)
        except ZygoteUnavailable:
            if not zygote.alive:
                with self._lock:
                    self._failed = True
            return None

    def stop(self) -> None:
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.stop()

    def forget(self) -> None:
        zygote, self._zygote = self._zygote, None
        self._lock = threading.Lock()
        if zygote is not None:
            zygote.forget()


zygotes = Zygotes()


def expect_many_runs() -> None:
    """This process plays many runs: fork their runbooks' processes from a zygote."""
    zygotes.expect_many_runs()


atexit.register(zygotes.stop)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=zygotes.forget)


# ── the zygote ────────────────────────────────────────────────────────────────────────────


def _die_with_parent(parent: int) -> None:
    """On Linux, the kernel ends the zygote when the thread that started it ends."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)  # the parent was gone before the signal was set


def _preparations() -> list[Callable[[], None]]:
    """What the zygote does for its children, a step at a time, when no request waits.

    Only the host's own module is imported before the first child is forked: that child
    does the rest itself, as a process Popen started would, while the zygote prepares for
    the next ones — the imports (boto3, botocore, the scenario model), a bare botocore
    session, then one service's client at a time (its model, paginators and waiters in the
    shared loader, its client class built).
    """
    import gameday.exercise.runbook_host

    def imports() -> None:
        import boto3  # noqa: F401
        import botocore.session  # noqa: F401

        import gameday.world.clients  # noqa: F401

    def context() -> None:
        gameday.exercise.runbook_host._prepare_context()

    def client_of(service: str) -> Callable[[], None]:
        def preload() -> None:
            from gameday.world.clients import MockSession

            # A session of no run: a closed port, made-up credentials, no clock.
            session = MockSession(
                "http://127.0.0.1:9",
                {},
                aws_access_key_id="AKIAZYGOTEPRELOAD000",
                aws_secret_access_key="zygote-preload",
                region_name="us-east-1",
            )
            with contextlib.suppress(Exception):
                client = session.client(service)
                loader = session._session.get_component("data_loader")
                version = client.meta.service_model.api_version
                for kind in ("paginators-1", "waiters-2"):
                    with contextlib.suppress(Exception):
                        loader.load_service_model(service, kind, version)

        return preload

    return [imports, context, *(client_of(service) for service in PRELOADED_SERVICES)]


def _send(control: socket.socket, message: Mapping[str, Any]) -> None:
    control.send(json.dumps(message).encode("utf-8"))


def serve(descriptor: int, parent: int) -> int:
    """The zygote's loop: fork a child per request, report each child's exit."""
    _die_with_parent(parent)
    control = socket.socket(fileno=descriptor)
    fresh: dict[int, Any] = {}
    for number in signal.valid_signals():
        with contextlib.suppress(OSError, ValueError):
            handler = signal.getsignal(number)
            if handler is not None:
                fresh[int(number)] = handler
    start_folder = os.getcwd()
    preparations = _preparations()
    waker, woken = os.pipe()
    os.set_blocking(woken, False)
    os.set_blocking(waker, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(woken)
    while True:
        readable, _, _ = select.select([descriptor, waker], [], [], 0 if preparations else None)
        if not readable:
            preparations.pop(0)()
            continue
        if waker in readable:
            with contextlib.suppress(BlockingIOError):
                while os.read(waker, 512):
                    pass
        _reap(control)
        if descriptor not in readable:
            continue
        try:
            data, fds, flags, _ = socket.recv_fds(control, MAX_REQUEST, 3)
        except OSError:
            return 0
        if not data:
            return 0  # the requester is gone
        if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != 3:
            _close(fds)
            _send(control, {"op": "refused", "message": "a malformed request"})
            continue
        try:
            request = json.loads(data.decode("utf-8"))
            env = {str(k): str(v) for k, v in dict(request["env"]).items()}
            cwd, path = str(request["cwd"]), str(request["path"])
        except (ValueError, KeyError, TypeError):
            _close(fds)
            _send(control, {"op": "refused", "message": "a malformed request"})
            continue
        if threading.active_count() != 1:
            _close(fds)
            _send(control, {"op": "refused", "message": "the zygote has threads"})
            continue
        _flush()
        heap.freeze()  # the children leave the zygote's objects alone (and its pages shared)
        pid = os.fork()
        if pid == 0:
            _become_host(
                fds,
                env,
                cwd,
                path,
                keep_out=(control, waker, woken),
                fresh=fresh,
                start_folder=start_folder,
            )
        _close(fds)
        _send(control, {"op": "spawned", "pid": pid})


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        with contextlib.suppress(OSError):
            _send(control, {"op": "exited", "pid": pid, "returncode": _returncode(status)})


def _returncode(status: int) -> int:
    """As Popen reports it: the exit code, or minus the signal that ended the process."""
    return os.waitstatus_to_exitcode(status)


def _close(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _become_host(
    fds: list[int],
    env: Mapping[str, str],
    cwd: str,
    path: str,
    *,
    keep_out: tuple[socket.socket, int, int],
    fresh: Mapping[int, Any],
    start_folder: str,
) -> NoReturn:
    """In the forked child: become the process Popen would have started, and run the host."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for number, handler in fresh.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(number, handler)
        control, waker, woken = keep_out
        control.close()
        _close([waker, woken])
        connection, out, err = fds
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.set_inheritable(connection, True)
        _close_all_but({0, 1, 2, connection})
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        if sys.path and sys.path[0] == start_folder:
            sys.path[0] = cwd  # what `python -m` puts first: the folder it starts in
        from gameday.exercise import runbook_host

        sys.argv = [runbook_host.__file__, str(connection), path]
        code = runbook_host.main([str(connection), path])
        _finish_interpreter()
    except SystemExit as exiting:
        code = exiting.code if isinstance(exiting.code, int) else (0 if exiting.code is None else 1)
    except BaseException:  # whatever it was, the child reports it and ends
        import traceback

        with contextlib.suppress(Exception):
            traceback.print_exc()
        code = 1
    finally:
        _flush()
        os._exit(code)


def _close_all_but(keep: set[int]) -> None:
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _finish_interpreter() -> None:
    """What an interpreter does as it exits: wait for the threads that are not daemons, and
    run the exit handlers (a runbook's own among them)."""
    current = threading.current_thread()
    while True:
        waiting = [
            t for t in threading.enumerate() if t is not current and not t.daemon and t.is_alive()
        ]
        if not waiting:
            break
        for thread in waiting:
            thread.join()
    atexit._run_exitfuncs()


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
