"""The facilitator's commands find the live run and tell where it stands.

Runs here are folders with a journal and a run.json naming a process: this test's own for a
live run (so it counts as running), a finished one's for a run that has ended. The commands
go through click's CliRunner, as the facilitator types them.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from exercise.test_run_e2e import SEED_SCENARIO

from gameday.cli import cli
from gameday.exercise.control import ControlWatcher
from gameday.exercise.facilitator import Authority
from gameday.journal import FixedClock, Journal, read_journal
from gameday.rundir import RunDir


def a_run(root: Path, name: str, age_s: float, *, live: bool) -> tuple[Path, str]:
    """A run of the seed scenario under `root`, started `age_s` ago; (its path, its token).

    Its journal: the run started, the support case and its email came (detection at
    T+0:01:50), the team noted something, the facilitator marked the incident declared.
    """
    run = RunDir(root / name)
    run.path.mkdir(parents=True)
    shutil.copyfile(SEED_SCENARIO, run.scenario)
    started = time.time() - age_s
    os.utime(run.scenario, (started, started))
    token = Authority.issue(run).token
    with Journal(run.journal, FixedClock(t=0.0), durable=False) as journal:
        journal.append("run.started", t=0.0, scenario="exported-keys-in-script", team=name)
        for inject, kind, t in (
            ("quarantine", "quarantine", 67.0),
            ("support-case", "support-case", 110.0),
            ("case-email", "email", 116.0),
        ):
            journal.append(
                "inject.delivered", t=t, inject=inject, type=kind, subject=f"{name} {inject}",
                body="", data={},
            )  # fmt: skip
        journal.append("note", t=300.0, actor="responder", text=f"{name} was here", by="team")
        journal.append("mark", t=400.0, step="acknowledge-case", by="facilitator")
        if not live:
            journal.append("run.ended", t=500.0, reason="end")
    if live:
        run.write_status(state="running", pid=os.getpid())
    else:
        run.write_status(state="ended", reason="end", pid=os.getpid())
    return run.path, token


def invoke(*args: str | Path, token: str | None = None) -> Result:
    env = {"COLUMNS": "200", "GAMEDAY_FACILITATOR_TOKEN": token or ""}
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


@pytest.fixture()
def two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Path, str]]:
    """A live run, and a newer one that has ended beside it (a demo run during the game)."""
    monkeypatch.chdir(tmp_path)
    return {
        "live": a_run(Path("runs"), "live", 600, live=True),
        "ended": a_run(Path("runs"), "ended", 60, live=False),
    }


def test_commands_without_a_run_dir_pick_the_live_run_beside_a_newer_ended_one(
    two_runs: dict[str, tuple[Path, str]],
) -> None:
    live, _ = two_runs["live"]
    ended, _ = two_runs["ended"]

    shown = invoke("status")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"{live}: running (live) at T+0:06:40\n")

    # a note lands in the live run's journal, not in the newer finished one, and says where
    authority = Authority.resume(RunDir(live), two_runs["live"][1])
    with Journal(live / "journal.jsonl", FixedClock(t=420.0), durable=False) as journal:

        def note(command: dict[str, object]) -> None:
            journal.append("note", actor="responder", text=command["text"], by=command["by"])

        watcher = ControlWatcher(RunDir(live), {"note": note}, authority).start()
        try:
            noted = invoke("note", "rotated the root password")
        finally:
            watcher.stop()
    assert noted.exit_code == 0, noted.output
    assert noted.output == f"note journaled as the team's ({live})\n"
    assert read_journal(live / "journal.jsonl")[-1]["text"] == "rotated the root password"
    assert "rotated the root password" not in (ended / "journal.jsonl").read_text()

    # with no live run left, a command says so and names the newest, which has ended
    RunDir(live).write_status(state="ended", reason="end")
    refused = invoke("pause")
    assert refused.exit_code != 0
    assert str(refused.exception).startswith(
        f"no live run under runs/ — the newest, {ended}, is ended (end); "
    )
    shown = invoke("status")
    assert shown.output.splitlines()[:2] == [
        f"no live run under runs/ — the newest, {ended}, is ended (end)",
        f"{ended}: ended (end) at T+0:08:20",
    ]


def test_steps_and_status_tell_the_facilitator_where_the_run_stands(
    two_runs: dict[str, tuple[Path, str]],
) -> None:
    live, token = two_runs["live"]

    # the steps of a live run are the facilitator's: not without the token
    refused = invoke("steps")
    assert refused.exit_code != 0
    assert "steps is the facilitator's: it needs the facilitator token" in str(refused.exception)

    shown = invoke("steps", token=token)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith(f"{live}: running (live) at T+0:06:40")
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    # detection at T+0:01:50 (the support case): targets and deadlines on the run clock
    assert rows["acknowledge-case"] == [
        "acknowledge-case", "acknowledge", "manual", "success", "5/5",
        "T+0:11:50", "T+0:31:50", "T+0:06:40",
    ]  # fmt: skip
    assert rows["disable-leaked-key"][1:6] == [
        "contain",
        "automatic",
        "pending",
        "0/20",
        "T+0:11:50",
    ]
    assert rows["root-password"][2] == "manual"

    # status: the score so far, steps met and left, time left, the next inject
    status = invoke("status", token=token)
    assert status.exit_code == 0, status.output
    text = status.output
    assert re.search(
        r"score so far: [\d.]+/100 \(pass mark \d+\)  ·  steps met 1/11, left 10", text
    )
    assert "time left 1h53m20s" in text
    assert "next inject: T+0:02:00  health-event health-event" in text
    # the team's own view of status (no token): no step, no score, no facilitator's mark
    team = invoke("status")
    assert "score so far" not in team.output and "acknowledge-case" not in team.output
    assert "live was here" in team.output and "marked" not in team.output
    assert "email: live case-email" in team.output


def test_mark_with_a_missing_or_unknown_step_lists_the_manual_ones(
    two_runs: dict[str, tuple[Path, str]],
) -> None:
    live, token = two_runs["live"]
    for args, first in (
        ((), "mark: which step?"),
        ((live,), "mark: which step?"),
        (("root-pasword",), "mark: unknown step 'root-pasword'\ndid you mean 'root-password'?"),
    ):
        refused = invoke("mark", *args, token=token)
        assert refused.exit_code != 0
        message = str(refused.exception)
        assert message.startswith(f"{live}: {first}\n"), message
        assert "the manual steps:" in message
        assert re.search(r"  acknowledge-case +.*\(success\)", message)
        assert re.search(r"  root-password +.*\(pending\)", message)
        assert "disable-leaked-key" not in message  # only the manual ones
    # without the token, no list (the steps are what the team is scored on)
    refused = invoke("mark")
    assert "needs the facilitator token" in str(refused.exception)
    assert "root-password" not in str(refused.exception)
    assert [e for e in read_journal(live / "journal.jsonl") if e["kind"] == "mark"][1:] == []


def test_a_mark_after_the_run_says_what_it_earns(two_runs: dict[str, tuple[Path, str]]) -> None:
    ended, token = two_runs["ended"]
    done = invoke("mark", ended, "root-password", token=token)
    assert done.exit_code == 0, done.output
    assert done.output.startswith(
        f"mark: journaled after the run ({ended}) — step 'root-password' "
    )
    # the mark counts from when it is made, right after the run's end, well within the deadline
    assert re.search(r"now earns \d+(\.\d+)?/\d+ points \((success|partial)\)", done.output)
    assert [e["step"] for e in read_journal(ended / "journal.jsonl") if e["kind"] == "mark"] == [
        "acknowledge-case",
        "root-password",
    ]
