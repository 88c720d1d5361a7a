"""The `gameday` command line run as a user runs it: a subprocess of this interpreter, or — for
the quick commands whose point is their messages — the same `python -m gameday` in this process.

`gameday_here` runs `gameday/__main__.py` as `python -m` does: the same
`main()`, the same exit codes, the same program name in click's usage lines. What a fresh
process would see is set up for the call and put back after it: the arguments, the
environment (with `COLUMNS` and `NO_COLOR` as `gameday` sets them), the working folder,
the standard streams, the root logger and the warning filters. The CLI's module is run
afresh for each call, so its rich consoles read `COLUMNS`, `NO_COLOR` and their (captured,
not a terminal) streams as they do at a process's start, and nothing one call sets there is
seen by the next. `tests/test_gameday_cli.py` holds the two runners to the same bytes.

What a subprocess alone can do stays with `gameday`: resource limits on the command, a cold
import, a process pool (`run-many`), a run killed or left running beside the test. A run or
a deep validation in-process plays on the worker's warm mock (tests/conftest.py).
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import io
import locale
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
import types
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from gameday import warm_start

REPO_ROOT = Path(__file__).resolve().parents[1]
# What the CLI gets beside the caller's environment: wide enough that nothing wraps, no colour.
CLI_ENVIRONMENT = {"COLUMNS": "240", "NO_COLOR": "1"}
# In-process, a virtual run plays on this process's warm mock: a warm-start server (the
# suite's, tests/conftest.py) would get this process's descriptors, not the captured streams.
HERE_ENVIRONMENT = {warm_start.SWITCH_VARIABLE: "off"}
# A fresh interpreter's warning filters (no -W, no PYTHONWARNINGS), first match wins.
FRESH_WARNING_FILTERS = (
    ("default", DeprecationWarning, r"__main__\Z"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


def gameday(
    *args: str, cwd: Path = REPO_ROOT, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS…` in `cwd`, its output captured; wide enough that nothing wraps."""
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        cwd=cwd,
        env={**os.environ, **CLI_ENVIRONMENT},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def gameday_here(
    *args: str, cwd: Path = REPO_ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS…` in `cwd` as `gameday` runs it, but in this process: no interpreter
    to start, nothing to import twice. The same result, byte for byte. One call at a time,
    from one thread: it sets the process's environment, folder and streams for the call."""
    command = [sys.executable, "-m", "gameday", *args]
    # as a child's: stdout strict, stderr escaping what its encoding cannot hold
    stdout, stderr = _captured_stream("strict"), _captured_stream("backslashreplace")
    try:
        with (
            _environment({**CLI_ENVIRONMENT, **HERE_ENVIRONMENT}),
            _working_folder(cwd),
            _arguments(args),
            _streams(stdout, stderr),
            _fresh_logging(),
            _fresh_warnings(),
            _fresh_cli_module(),
            _deadline(timeout),
        ):
            returncode = _exit_code(_run_main())
    except _TimedOut:
        raise subprocess.TimeoutExpired(command, timeout, _text(stdout), _text(stderr)) from None
    return subprocess.CompletedProcess(command, returncode, _text(stdout), _text(stderr))


def shown(path: Path) -> str:
    """A path as the command line shows it when given relative to the project."""
    return path.relative_to(REPO_ROOT).as_posix()


# ── in-process: a fresh process's state, set for the call and put back ───────────────────


def _run_main() -> SystemExit:
    """What `python -m gameday` runs: `gameday/__main__.py` as the `__main__` module of the
    package (click names the program from it and from `argv[0]`), which imports `gameday.cli`
    — here a new one, its consoles made now — and calls its `main()`, which always ends in
    `sys.exit` (`entry()` ends the process with `main()`'s status: here it is that status).
    What else escapes is shown and ends the call as it ends a process: exit 1."""
    import gameday

    try:
        cli, code = _new_module("gameday.cli")
        sys.modules["gameday.cli"] = gameday.cli = cli  # type: ignore[attr-defined]
        exec(code, vars(cli))
        # the command's process ends with `_leave`'s status; this one goes on
        vars(cli)["_leave"] = _leave_here
        main, code = _new_module("gameday.__main__")
        main.__name__ = "__main__"
        sys.argv[0], sys.modules["__main__"] = main.__file__ or "", main
        exec(code, vars(main))
    except SystemExit as exit:
        return exit
    except Exception:
        traceback.print_exc()
        return SystemExit(1)
    raise AssertionError("gameday's main() returned without sys.exit")


def _leave_here(status: object) -> None:
    raise SystemExit(status)


def _new_module(name: str) -> tuple[types.ModuleType, types.CodeType]:
    """A new module for gameday's `name`, not yet run, and its code.

    Found by the plain path finder, as in a process of its own: under pytest, `gameday` (a
    pytest plugin) is otherwise loaded through the assertion-rewriting importer."""
    import gameday

    spec = importlib.machinery.PathFinder.find_spec(name, gameday.__path__)
    assert spec is not None and spec.origin is not None
    return importlib.util.module_from_spec(spec), _compiled(spec.origin, _version(spec.origin))


def _version(path: str) -> tuple[int, int]:
    status = os.stat(path)
    return status.st_mtime_ns, status.st_size


@functools.cache
def _compiled(path: str, version: tuple[int, int]) -> types.CodeType:
    """A source file compiled once per version of it, as a bytecode cache keeps it."""
    return compile(Path(path).read_bytes(), path, "exec", dont_inherit=True)


def _exit_code(exit: SystemExit) -> int:
    """The exit status of a process ending in `exit`, as the interpreter makes it."""
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return int(exit.code)
    print(exit.code, file=sys.stderr)
    return 1


def _captured_stream(errors: str) -> io.TextIOWrapper:
    """A stream like a child's pipe: the locale's encoding, not a terminal."""
    return io.TextIOWrapper(io.BytesIO(), encoding=_encoding(), errors=errors, write_through=True)


def _encoding() -> str:
    return locale.getpreferredencoding(False)


def _text(stream: io.TextIOWrapper) -> str:
    """What `subprocess.run(…, text=True)` makes of the bytes: decoded, newlines made `\\n`."""
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    data = buffer.getvalue().decode(_encoding())
    return data.replace("\r\n", "\n").replace("\r", "\n")


@contextmanager
def _environment(extra: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` with `extra`; afterwards exactly as before, whatever the call set."""
    before = dict(os.environ)
    os.environ.update(extra)
    try:
        yield
    finally:
        for name in set(os.environ) - set(before):
            del os.environ[name]
        for name, value in before.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


@contextmanager
def _working_folder(folder: Path) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@contextmanager
def _arguments(args: tuple[str, ...]) -> Iterator[None]:
    """`sys.argv` of `python -m gameday ARGS…` (`argv[0]` and `__main__` set by `_run_main`),
    and both put back."""
    argv, main = sys.argv, sys.modules["__main__"]
    sys.argv = [argv[0], *args]
    try:
        yield
    finally:
        sys.argv, sys.modules["__main__"] = argv, main


@contextmanager
def _streams(stdout: io.TextIOWrapper, stderr: io.TextIOWrapper) -> Iterator[None]:
    before = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = io.TextIOWrapper(io.BytesIO(), encoding=_encoding())
    sys.stdout, sys.stderr = stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = before


@contextmanager
def _fresh_logging() -> Iterator[None]:
    """A root logger as a fresh process has it: no handlers (a record of WARNING or above
    goes to `sys.stderr` through logging's last resort), level WARNING."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []
    root.setLevel(logging.WARNING)  # not `.level =`: setLevel clears the loggers' caches
    try:
        yield
    finally:
        root.handlers = handlers
        root.setLevel(level)


@contextmanager
def _fresh_warnings() -> Iterator[None]:
    """A fresh interpreter's warning filters, a warning shown written to `sys.stderr` (not
    recorded by the test runner). Setting filters forgets which warnings were shown, so each
    call shows them again, as a new process does; all put back afterwards."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, category, module in reversed(FRESH_WARNING_FILTERS):
            warnings.filterwarnings(action, category=category, module=module)  # type: ignore[arg-type]

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: object = None,
            line: str | None = None,
        ) -> None:
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

        warnings.showwarning = show
        yield


@contextmanager
def _fresh_cli_module() -> Iterator[None]:
    """The `gameday.cli` this process has, put back after the call has made its own."""
    import gameday

    before = sys.modules.pop("gameday.cli", None)
    try:
        yield
    finally:
        sys.modules.pop("gameday.cli", None)
        if before is not None:
            sys.modules["gameday.cli"] = before
            gameday.cli = before  # type: ignore[attr-defined]
        elif hasattr(gameday, "cli"):
            del gameday.cli


class _TimedOut(BaseException):
    """Raised into the call at its deadline; not an `Exception`, so `main()` lets it pass."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """The call is interrupted after `seconds` (on the main thread, where signals arrive).

    Raised where the signal lands; if that is a garbage collector's callback, which swallows
    it, it is raised again half a second later, until it ends the call."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(number: int, frame: types.FrameType | None) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        raise _TimedOut

    handler = signal.signal(signal.SIGALRM, expire)
    timer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, *timer)
