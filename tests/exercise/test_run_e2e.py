"""`gameday run` end to end, as its users run it: the real command line.

A run the test watches, kills or acts on is `python -m gameday` in its own process, as a
facilitator or a CI job starts it; the human team acts only through what a real team has —
the AWS CLI with the generated profile, and the mailbox folder. The run's own process is the
only one that holds the mock account, so nothing in the test process reaches into the run.
Quick commands sent to it (`end`, `status`), and the virtual runs whose point is not their
process, are the same command line in the test's process (`gameday_here`); the demo's second
run plays there on purpose: on the worker's warm mock, as `run-many` plays runs, it journals
exactly what a fresh process journals.

`gameday` (one command to its end), `gameday_here` (the same command line in this process,
for the many commands sent to a run in another), `LiveRun` (a run in the background) and
`write_scenario` (`SHORT_SCENARIO`, a small incident) are the harness the control tests
(`test_control.py`) and the command-line tests (`tests/test_cli_run.py`) use as well.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from gameday_cli import gameday_here as cli_here
from rich.console import Console

from gameday.exercise.run import RunOptions, run_exercise
from gameday.journal import Event, read_journal, without_wall_clock
from gameday.rundir import RunDir
from gameday.world.account import MockAccount

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_SCENARIO = REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml"
REFERENCE_RUNBOOK = REPO_ROOT / "runbooks" / "reference.py"
AWS = Path(sys.executable).parent / "aws"
REPORTS = ("score.json", "report.html", "report.md", "junit.xml")

# A small incident for the live-run tests: one region, one user, AWS's notices within the
# first minute. It lasts 2 h, so a slow machine never sees it end by itself: the tests end
# it with `gameday end`.
SHORT_SCENARIO = """\
id: short-leak
title: A deploy key pushed to a public repository
summary: A developer pushes a script that exports an access key; AWS notices within a minute.
difficulty: introductory
duration: 2h

account:
  id: "491826357014"
  alias: northwind-dev
  support_plan: business
  contacts:
    primary: {name: Dana Whitfield, email: aws-root@northwind.example}
    security: {name: Priya Raman, email: security@northwind.example}
  regions: [us-east-1]
  estate:
    users:
      - name: deployer
        keys:
          - {id: deploy-key, age: 30d}

leak:
  user: deployer
  vector: shell-export
  path: scripts/deploy.sh
  author: {name: Jordan Alvarez, email: jordan@northwind.example}
  repository: {owner: northwind-labs, name: deploy-tools}
  history: {before: 3, after: 0, span: 3d}

timeline:
  - {id: quarantine, type: quarantine, at: 30s}
  - {id: support-case, type: support-case, at: 40s}
  - id: case-email
    type: email
    after: {inject: support-case, delay: 5s}
    to: [security]
    template: emails/case-opened

attacker:
  first_use: 32s
  techniques:
    - {technique: aws.discovery.whoami, at: 35s}
    - {technique: aws.discovery.enumerate, at: 50s, regions: [us-east-1]}

steps:
  - id: acknowledge-case
    title: Acknowledge AWS's notice
    phase: acknowledge
    check: {type: manual}
    points: 20
    target: 10m
    deadline: 30m
  - id: disable-leaked-key
    title: Deactivate the leaked key
    phase: contain
    check: {type: access-key-disabled, key: leaked}
    points: 40
    target: 10m
    deadline: 40m
    critical: true
  - id: repository-private
    title: Take the repository out of public view
    phase: contain
    check: {type: repository-private}
    points: 20
    target: 20m
    deadline: 60m
  - id: root-password
    title: Change the root password
    phase: recover
    check: {type: manual}
    points: 20
    target: 60m
    deadline: 110m

pass_mark: 60
"""


# ── the harness ───────────────────────────────────────────────────────────────────────────


def environment() -> dict[str, str]:
    """This process's environment without AWS settings (the run's profile is the only one)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # wide enough that no line wraps; plain text; a known facilitator name in `by`
    return {**base, "COLUMNS": "200", "NO_COLOR": "1", "GAMEDAY_FACILITATOR": "test-lead"}


def gameday(
    *args: str | Path, cwd: Path = REPO_ROOT, timeout: float = 180.0, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """One `gameday` command, to its end; `token` is the facilitator's, in the environment."""
    extra = {"GAMEDAY_FACILITATOR_TOKEN": token} if token else {}
    return subprocess.run(
        [sys.executable, "-m", "gameday", *(str(a) for a in args)],
        cwd=cwd,
        env={**environment(), **extra},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def gameday_here(
    *args: str | Path, cwd: Path = REPO_ROOT, timeout: float = 180.0, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`gameday()`, but in this process (tests/gameday_cli.py's `gameday_here`: the same
    `main`, exit codes and output), with this harness's environment and `token`.

    For the many commands a test sends to a run playing in another process, where a Python
    start-up per command would only add time (what reaches the run — the command files, the
    proofs — is what a terminal's `gameday` sends); and for a virtual-time `run` or `recover`
    whose point is not its process: it takes the test process's warm mock (conftest's
    `keep_warm`) instead of starting one. A run to be killed, or one that goes on beside the
    test, needs a process of its own (`gameday`, `LiveRun`).
    """
    extra = {"GAMEDAY_FACILITATOR_TOKEN": token} if token else {}
    with mock.patch.dict(os.environ, {**environment(), **extra}, clear=True):
        return cli_here(*(str(a) for a in args), cwd=cwd, timeout=timeout)


def write_scenario(folder: Path, text: str = SHORT_SCENARIO, name: str = "short.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, *, alive: Callable[[], bool]
) -> Any:
    """Poll `condition` until it returns something true; fail once `alive()` is false."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if not alive():
            result = condition()  # it may have come true as the process ended
            if result:
                return result
            raise AssertionError(f"the run ended before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


class LiveRun:
    """A `gameday run` in the background, with its output in a file beside `out`.

    Use it in a `with` block: a run still going at the end of the block is killed.
    """

    def __init__(self, scenario: Path, out: Path, *options: str | Path) -> None:
        self.run = RunDir(out)
        self.output = out.parent / f"{out.name}.log"
        with self.output.open("w", encoding="utf-8") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gameday", "run", str(scenario), "--out", str(out),
                 "--plain", *(str(o) for o in options)],
                cwd=out.parent,
                env=environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[Event]:
        return read_journal(self.run.journal) if self.run.journal.exists() else []

    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
        try:
            return wait_until(condition, timeout, what, alive=self.alive)
        except AssertionError as error:
            raise AssertionError(f"{error}\n--- the run's output:\n{self.log()}") from None

    @property
    def token(self) -> str:
        """The facilitator token the run printed on its console at the start."""
        found = re.search(r"^facilitator token: (\S+)$", self.log(), re.MULTILINE)
        assert found, f"no facilitator token in the run's output:\n{self.log()}"
        return found.group(1)

    def wait_running(self) -> None:
        """Until the run's clock goes and it takes commands."""
        self.wait_until(lambda: self.run.status().get("state") == "running", "the run to start")

    def wait_event(self, predicate: Callable[[Event], bool], what: str) -> Event:
        found: Event = self.wait_until(
            lambda: next((e for e in self.events() if predicate(e)), None), what
        )
        return found

    def finish(self, timeout: float = 90.0) -> int:
        """Wait for the process to end on its own; its exit code."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the run did not end\n--- its output:\n{self.log()}") from None

    def kill(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def __enter__(self) -> LiveRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def aws_cli(run: RunDir) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The real AWS CLI, configured by nothing but the run's generated profile."""
    profile = {
        "AWS_CONFIG_FILE": str(run.path / "aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(run.path / "aws" / "credentials"),
        "AWS_PROFILE": "gameday",
    }

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS), *args, "--output", "json"],
            env={**environment(), **profile},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return call


def kinds(events: list[Event]) -> list[str]:
    return [str(e["kind"]) for e in events]


def assert_complete(events: list[Event]) -> None:
    """A finished run's journal: run.started first at seq 1, run.ended last, seq unbroken."""
    assert events[0]["kind"] == "run.started" and events[0]["seq"] == 1
    assert events[-1]["kind"] == "run.ended"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert kinds(events).count("run.ended") == 1


# ── 1. the demo: a runbook in virtual time, twice, deterministic ────────────────────────────


@pytest.mark.slow
def test_the_demo_twice_gives_the_same_journal_and_rescoring_gives_the_same_score(
    tmp_path: Path, mock_server: MockAccount
) -> None:
    """The demo by the command line in a process of its own (a fresh mock), and at the same
    time the same run in this process on the test process's warm mock, as `run-many` plays
    its runs: one seed, one journal, whichever the start."""
    outs = [tmp_path / "first", tmp_path / "second"]
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            gameday, "run", SEED_SCENARIO, "--clock", "virtual", "--responder",
            REFERENCE_RUNBOOK, "--seed", "7", "--team", "reference", "--out", outs[0],
            "--plain", cwd=tmp_path,
        )  # fmt: skip
        options = RunOptions(
            team="reference", out=outs[1], clock="virtual", responder=str(REFERENCE_RUNBOOK),
            seed=7, live=False, account=mock_server,
        )  # fmt: skip
        warm = run_exercise(SEED_SCENARIO, options, Console(file=io.StringIO()))
        result = running.result()

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "PASSED" in result.stdout
    assert warm.score.passed and warm.reason == "duration"
    journals = []
    for out in outs:
        for name in REPORTS:
            assert (out / name).is_file(), f"{out / name} missing"
        events = read_journal(out / "journal.jsonl")
        assert_complete(events)
        assert events[-1]["reason"] == "duration"
        journals.append([without_wall_clock(e) for e in events])
    assert journals[0] == journals[1]

    # re-scoring reads the scenario copy and the journal alone
    written = json.loads((outs[0] / "score.json").read_text(encoding="utf-8"))
    assert written["passed"] and written["score"] >= written["pass_mark"]
    rescored = gameday_here("score", outs[0], "--json", cwd=tmp_path)
    assert rescored.returncode == 0, rescored.stderr
    assert json.loads(rescored.stdout) == written
    assert json.loads((outs[1] / "score.json").read_text(encoding="utf-8")) == written


# ── 2. a human team on the wall clock, with the AWS CLI and the mailbox only ───────────────


def read_case_email(run: RunDir) -> dict[str, str]:
    """What a responder reads out of AWS's email: the key, its user, the case number."""
    path = sorted((run.mail / "new").iterdir())[0]
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert "SIMULATION" in str(message["Subject"])
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    key = re.search(r"\bAKIA[A-Z0-9]{16}\b", text)
    user = re.search(r'IAM user\s+"([^"]+)"', text)
    case = re.search(r"Case ID:\s*(\d+)", text)
    assert key and user and case, text
    return {"key": key.group(0), "user": user.group(1), "case": case.group(1)}


@pytest.mark.slow
def test_a_human_team_contains_the_leak_with_the_aws_cli_and_the_mailbox(tmp_path: Path) -> None:
    options = ("--responder", "human", "--speed", "120", "--seed", "7")
    with LiveRun(SEED_SCENARIO, tmp_path / "run", *options) as live:
        code = act_as_the_human_team(live, tmp_path)
    run = live.run
    score = json.loads((run.path / "score.json").read_text(encoding="utf-8"))
    assert code == (0 if score["passed"] else 1), live.log()
    steps = {s["id"]: s for s in score["steps"]}
    for step in ("disable-leaked-key", "investigate-before-deleting", "reply-to-case"):
        assert steps[step]["status"] in ("success", "partial"), steps[step]
    for name in REPORTS:
        assert (run.path / name).is_file()

    events = read_journal(run.journal)
    assert_complete(events)
    assert events[-1]["reason"] == "end"
    ours = [
        e["action"]
        for e in events
        if e["kind"] == "api.call" and e["actor"] == "responder" and e["error_code"] is None
    ]
    assert {"UpdateAccessKey", "LookupEvents", "DescribeCases", "AddCommunicationToCase"} <= set(
        ours
    )
    assert any(
        e["kind"] == "check.changed" and e["check"] == "step:disable-leaked-key" and e["value"]
        for e in events
    )


def act_as_the_human_team(live: LiveRun, cwd: Path) -> int:
    """Read AWS's email, contain with the AWS CLI, reply to the case, end; the exit code."""
    run = live.run
    live.wait_until(lambda: any((run.mail / "new").glob("*")), "AWS's email", timeout=120)
    notice = read_case_email(run)
    aws = aws_cli(run)

    disabled = aws("iam", "update-access-key", "--user-name", notice["user"],
                   "--access-key-id", notice["key"], "--status", "Inactive")  # fmt: skip
    assert disabled.returncode == 0, disabled.stderr

    trail = aws("cloudtrail", "lookup-events", "--lookup-attributes",
                f"AttributeKey=AccessKeyId,AttributeValue={notice['key']}")  # fmt: skip
    assert trail.returncode == 0, trail.stderr
    found = json.loads(trail.stdout)["Events"]
    assert found and all(e["AccessKeyId"] == notice["key"] for e in found)  # the attacker's

    # the email gives the case number people see; the API wants the case's id
    cases = aws("support", "describe-cases", "--include-resolved-cases")
    assert cases.returncode == 0, cases.stderr
    [case] = [c for c in json.loads(cases.stdout)["cases"] if c["displayId"] == notice["case"]]
    reply = "Key deactivated; investigating in CloudTrail."
    replied = aws("support", "add-communication-to-case", "--case-id", case["caseId"],
                  "--communication-body", reply)  # fmt: skip
    assert replied.returncode == 0, replied.stderr

    ended = gameday_here("end", run.path, cwd=cwd, token=live.token)
    assert ended.returncode == 0, ended.stdout + ended.stderr
    return live.finish()


# ── 4. kill -9: the journal stays whole up to its last event ──────────────────────────────


@pytest.mark.slow
def test_a_killed_run_leaves_a_journal_valid_line_by_line(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    with LiveRun(scenario, tmp_path / "run", "--responder", "human", "--speed", "120") as live:
        live.wait_running()
        live.wait_event(lambda e: e["kind"] == "attacker.technique", "the attacker's first call")
        live.process.send_signal(signal.SIGKILL)
        assert live.process.wait(30) == -signal.SIGKILL

    raw = live.run.journal.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.decode("utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]
    sequence = [e["seq"] for e in parsed]
    assert sequence == sorted(set(sequence)) and sequence[0] == 1
    assert read_journal(live.run.journal) == parsed
    assert parsed[0]["kind"] == "run.started"
    assert "run.ended" not in kinds(parsed)  # it never got to end: the record says so
    assert {"inject.delivered", "attacker.technique", "api.call"} <= set(kinds(parsed))

    status = gameday_here("status", live.run.path, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    pid = live.process.pid
    assert f"crashed (pid {pid} gone) — gameday recover {live.run.path}" in status.stdout


# ── 5. a runbook that fails mid-way: the run goes on to its end and fails its pass mark ────

FAILING_RUNBOOK = """\
def respond(ctx):
    notice = ctx.wait_for("email")
    ctx.aws.client("iam").update_access_key(
        UserName=notice.data["user_name"], AccessKeyId=notice.data["access_key_id"],
        Status="Inactive",
    )
    ctx.sleep("1m")
    raise RuntimeError("the on-call laptop ran out of battery")
"""


@pytest.mark.slow
def test_a_runbook_that_raises_is_journaled_and_the_run_completes(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    runbook = tmp_path / "flaky.py"
    runbook.write_text(FAILING_RUNBOOK, encoding="utf-8")
    # in this process, on its warm mock (the runbook plays in a process of its own all the same)
    result = gameday_here(
        "run", scenario, "--clock", "virtual", "--responder", runbook, "--out", tmp_path / "run",
        "--plain", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED" in result.stdout

    events = read_journal(tmp_path / "run" / "journal.jsonl")
    assert_complete(events)
    assert events[-1]["reason"] == "duration"  # the run went on without its responder
    [error] = [e for e in events if e["kind"] == "responder.error"]
    assert error["message"] == "RuntimeError: the on-call laptop ran out of battery"
    assert "flaky.py" in error["traceback"]
    [finished] = [e for e in events if e["kind"] == "responder.finished"]
    assert finished["outcome"] == "error" and finished["seq"] > error["seq"]

    score = json.loads((tmp_path / "run" / "score.json").read_text(encoding="utf-8"))
    steps = {s["id"]: s["status"] for s in score["steps"]}
    assert steps["disable-leaked-key"] == "success"  # what it did before failing counts
    assert not score["passed"] and score["score"] < score["pass_mark"]


def interrupted_at(where: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`gameday run` of the short scenario, with Ctrl-C landing in `where` (a dotted name)."""
    scenario = write_scenario(tmp_path)
    with mock.patch(where, side_effect=KeyboardInterrupt):
        return gameday_here(
            "run", scenario, "--clock", "virtual", "--responder", REFERENCE_RUNBOOK,
            "--out", tmp_path / "run", "--plain", cwd=tmp_path,
        )  # fmt: skip


def test_ctrl_c_after_the_start_ends_the_run_interrupted_scored_and_reported(
    tmp_path: Path,
) -> None:
    # after `run.started`, before the timeline: a run that has begun
    result = interrupted_at("gameday.exercise.clock.VirtualClock.start", tmp_path)
    out = result.stdout + result.stderr
    events = read_journal(tmp_path / "run" / "journal.jsonl")
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "interrupt", out
    assert result.returncode in (0, 1), out
    assert "reports:" in result.stdout
    for name in REPORTS:
        assert (tmp_path / "run" / name).is_file(), name


def test_ctrl_c_before_the_start_aborts_the_command(tmp_path: Path) -> None:
    # before `run.started`: nothing to score yet
    result = interrupted_at("gameday.exercise.run.build_repository", tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 130 and "aborted" in result.stderr, out
    journal = tmp_path / "run" / "journal.jsonl"
    begun = journal.exists() and any(e["kind"] == "run.started" for e in read_journal(journal))
    assert not begun, out
