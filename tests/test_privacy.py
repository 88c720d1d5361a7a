"""A run is private to its facilitator: another local user can read nothing, change nothing.

A real `gameday run --dashboard` plays in the background under a folder every user may
enter; another local user (`nobody`, through `setpriv`, or `su` when it is missing) then tries
what a curious colleague on a shared machine would: list the runs, read the journal, run.json,
the vault and the token's hash, append to the journal, drop a command file, run `gameday
mark` and `gameday status`, and post a mark to the dashboard with a guessed token. Every
attempt fails, the forged command is refused and journaled as refused, and no file of the
run holds the facilitator token.

Becoming another user needs root (CI runs the tests as root); elsewhere the test skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from exercise.test_run_e2e import environment, gameday_here, wait_until, write_scenario

from gameday.journal import Event, read_journal
from gameday.rundir import RunDir

NOBODY = 65534


def as_another_user(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `argv` as the user `nobody` (uid 65534) with no groups."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "USER": "nobody",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        command = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv]
    else:
        line = " ".join(f"'{a}'" for a in argv)
        command = ["su", "nobody", "-s", "/bin/sh", "-c", f"cd '{cwd}' && exec {line}"]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def another_user_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("becoming another local user needs root (CI runs the tests as root)")
    if shutil.which("setpriv") is None and shutil.which("su") is None:
        pytest.skip("neither setpriv nor su is installed")
    probe = as_another_user(sys.executable, "-c", "import os; print(os.getuid())", cwd=Path("/"))
    if probe.returncode != 0 or probe.stdout.strip() != str(NOBODY):
        pytest.skip(f"cannot run as nobody: {probe.stderr.strip() or probe.stdout.strip()}")


@pytest.fixture
def shared_folder() -> Iterator[Path]:
    """A folder every local user may enter and list, as a shared machine's would be."""
    folder = Path(tempfile.mkdtemp(prefix="gameday-privacy-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ATTEMPTS = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path

    runs, run = Path(sys.argv[1]), Path(sys.argv[2])
    tried = {}

    def attempt(name, act):
        try:
            act()
            tried[name] = "done"
        except PermissionError:
            tried[name] = "denied"
        except Exception as error:
            tried[name] = f"{type(error).__name__}: {error}"

    attempt("list runs/", lambda: os.listdir(runs))
    attempt("list the run", lambda: os.listdir(run))
    for name in ("journal.jsonl", "run.json", ".vault.jsonl", "facilitator/token.sha256",
                 "HANDOUT.md", "aws/credentials"):
        attempt(f"read {name}", lambda name=name: (run / name).read_bytes())
    attempt("append to the journal", lambda: (run / "journal.jsonl").open("a").write("{}\\n"))
    command = {"command": "mark", "step": "root-password", "by": "facilitator",
               "issued": time.time(), "nonce": "n", "proof": "0" * 64}
    attempt("drop a command", lambda: (run / "control" / "999999999999-x.json").write_text(
        json.dumps(command)))

    def through_the_api():
        from gameday.exercise.control import send
        from gameday.rundir import RunDir
        send(RunDir(run), "mark", step="root-password")

    attempt("send a mark", through_the_api)
    print(json.dumps(tried))
    """
)


class BackgroundRun:
    """`gameday run` in `folder` (so under its own `runs/`), its console in `console`."""

    def __init__(self, folder: Path, console: Path, *options: str | Path) -> None:
        self.folder = folder
        self.console = console
        with console.open("w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gameday", "run", *(str(o) for o in options), "--plain"],
                cwd=folder, env=environment(), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait(self, condition: Callable[[], Any], what: str) -> Any:
        return wait_until(condition, 90, what, alive=self.alive)

    def started(self) -> bool:
        """The run's folder holds its copy of the scenario (`run` may be read)."""
        return len(list((self.folder / "runs").glob("*/scenario.yaml"))) == 1

    @property
    def run(self) -> RunDir:
        found = list((self.folder / "runs").glob("*/scenario.yaml"))
        assert len(found) == 1, found
        return RunDir(found[0].parent)

    def events(self) -> list[Event]:
        return read_journal(self.run.journal) if self.run.journal.exists() else []

    def __enter__(self) -> BackgroundRun:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(30)


@pytest.mark.slow
def test_another_local_user_can_neither_read_nor_change_a_live_run(
    tmp_path: Path, shared_folder: Path
) -> None:
    another_user_or_skip()
    scenario = write_scenario(shared_folder)
    # the run's console, where the token is printed, goes to a file of the facilitator's only
    console = tmp_path / "console.log"
    with BackgroundRun(
        shared_folder, console, scenario, "--responder", "human", "--speed", "30", "--dashboard"
    ) as live:
        # the run folder, its copy of the scenario and its journal appear one after another
        live.wait(lambda: live.started() and live.run.journal.exists(), "a run")
        run = live.run
        live.wait(lambda: run.status().get("state") == "running", "the run to start")
        found = re.search(r"^facilitator token: (\S+)$", console.read_text(), re.MULTILINE)
        assert found, console.read_text()
        token = found.group(1)
        runs = run.path.parent

        # The facilitator's own view: private folders, private files.
        assert runs.stat().st_mode & 0o777 == 0o700
        assert run.path.stat().st_mode & 0o777 == 0o700
        for private in ("journal.jsonl", "run.json", "facilitator/token.sha256"):
            assert (run.path / private).stat().st_mode & 0o777 == 0o600, private
        for written in run.control.glob("*"):  # commands, replies, the lock
            assert written.stat().st_mode & 0o777 == 0o600, written
        for folder in ("control", "facilitator"):
            assert (run.path / folder).stat().st_mode & 0o777 == 0o700, folder
        # and everything else the run wrote (the mail, the repository, the handout …) too, in
        # the team's room as well (a link has no mode of its own)
        written = [p for room in (run.path, run.team) for p in room.rglob("*")]
        opened = [p for p in written if not p.is_symlink() and p.lstat().st_mode & 0o077]
        assert opened == [], opened[:5]
        # No file holds the token: the journal, run.json, the hash file, the control files.
        for path in written:
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path
        status = json.loads(run.status_file.read_text(encoding="utf-8"))
        origin = str(status["dashboard"]).rstrip("/")
        assert origin.startswith("http://127.0.0.1:") and origin.count("/") == 2
        hash_before = (run.path / "facilitator" / "token.sha256").read_bytes()
        # `gameday status` shows the whole address to whoever gives the token, and only then
        hidden = gameday_here("status", run.path, cwd=shared_folder).stdout
        assert f"dashboard: {origin}/TOKEN/ — TOKEN is the facilitator token" in hidden
        assert token not in hidden
        shown = gameday_here("status", run.path, cwd=shared_folder, token=token).stdout
        assert f"dashboard: {origin}/{token}/" in shown

        # Another user: the run's folders stay shut, whatever the file modes inside.
        script = shared_folder / "attempts.py"
        script.write_text(ATTEMPTS, encoding="utf-8")
        script.chmod(0o644)
        done = as_another_user(
            sys.executable, str(script), str(runs), str(run.path), cwd=shared_folder
        )
        assert done.returncode == 0, done.stderr
        tried = json.loads(done.stdout)
        assert len(tried) == 11
        assert tried == {name: "denied" for name in tried}, tried

        # Through the command line: a clear refusal, no traceback.
        for command in (["mark", str(run.path), "root-password"], ["status", str(run.path)]):
            result = as_another_user(sys.executable, "-m", "gameday", *command, cwd=shared_folder)
            assert result.returncode == 2, result.stdout + result.stderr
            assert "permission denied — a run is private to the facilitator" in result.stderr
            assert "Traceback" not in result.stderr

        # The dashboard's port is open to every local user; its door is the token.
        forge = (
            "import sys, urllib.request, urllib.error\n"
            "request = urllib.request.Request(sys.argv[1], method='POST', data=sys.argv[2]"
            ".encode(), headers={'Content-Type': 'application/json'})\n"
            "try:\n    print(urllib.request.urlopen(request, timeout=10).status)\n"
            "except urllib.error.HTTPError as error:\n    print(error.code)\n"
        )
        body = json.dumps({"command": "mark", "step": "root-password"})
        for guess in (f"{token[:-4]}abcd/command", "command", "token/command"):
            posted = as_another_user(
                sys.executable, "-c", forge, f"{origin}/{guess}", body, cwd=shared_folder
            )
            assert posted.stdout.strip() == "403", posted.stdout + posted.stderr
        with pytest.raises(urllib.error.HTTPError) as page:
            urllib.request.urlopen(f"{origin}/", timeout=10)
        assert page.value.code == 403

        refused = live.wait(
            lambda: next((e for e in live.events() if e["kind"] == "control.refused"), None),
            "the refusal in the journal",
        )
        assert (refused["command"], refused["step"], refused["by"], refused["via"]) == (
            "mark", "root-password", "team", "dashboard",
        )  # fmt: skip
        assert "wrong facilitator token" in refused["reason"]
        assert [e for e in live.events() if e["kind"] == "mark"] == []
        assert (run.path / "facilitator" / "token.sha256").read_bytes() == hash_before
        assert not (run.path / "control" / "999999999999-x.json").exists()

        # The facilitator, with the token, still ends the run.
        ended = gameday_here("end", run.path, cwd=shared_folder, token=token)
        assert ended.returncode == 0, ended.stdout + ended.stderr
        assert live.process.wait(90) in (0, 1)
    events = read_journal(run.journal)
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "end"
    assert {e["by"] for e in events if e["kind"] == "control.refused"} == {"team"}
