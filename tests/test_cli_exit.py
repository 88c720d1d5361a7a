"""The `gameday` process ends as an interpreter would, without taking its heap apart.

`gameday.cli.entry` runs the exit handlers, flushes the streams and ends with `main()`'s
status; while a non-daemon thread still works it leaves the ending to the interpreter,
which waits for it. Real processes: what is checked is what a shell sees.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def ended(program: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_status_the_handlers_and_the_buffered_output_survive_the_quick_end() -> None:
    done = ended(
        """
        import atexit, sys
        from gameday.cli import _leave
        atexit.register(lambda: print("handler ran"))
        sys.stdout.write("buffered, no newline")
        _leave(3)
        """
    )
    assert done.returncode == 3
    assert done.stdout == "buffered, no newlinehandler ran\n"


def test_a_message_as_status_is_printed_and_ends_with_1_as_sys_exit_does() -> None:
    done = ended("from gameday.cli import _leave\n_leave('the reason')")
    assert (done.returncode, done.stderr) == (1, "the reason\n")
    assert ended("from gameday.cli import _leave\n_leave(None)").returncode == 0


def test_a_thread_still_working_is_waited_for() -> None:
    done = ended(
        """
        import threading, time
        from gameday.cli import _leave
        def work():
            time.sleep(0.3)
            print("the thread finished", flush=True)
        threading.Thread(target=work).start()
        _leave(4)
        """
    )
    assert done.returncode == 4
    assert done.stdout == "the thread finished\n"


def test_the_command_ends_with_its_status_through_entry() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "validate", "no-such-scenario.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "no-such-scenario.yaml:1:1: no such file" in done.stderr
