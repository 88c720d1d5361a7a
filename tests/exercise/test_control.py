"""Control of a live run from other terminals, through the real command line.

A wall-clock run with a human team goes in the background; the facilitator's terminal is
`python -m gameday status|pause|resume|note|mark|repo|end` in subprocesses, two of them at
the same instant where people would collide. After the run, `mark` still journals (flagged
`after_run`) and `score` counts it.
"""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gameday.journal import Event, read_journal
from gameday.rundir import RunDir

from .test_run_e2e import LiveRun, gameday, write_scenario

STATUS_TIME = re.compile(r" at T([+-])(\d+):(\d\d):(\d\d)")
TOGETHER = ["from the first terminal", "from the second terminal"]


def run_time(status_output: str) -> int:
    """The run time `gameday status` shows, in whole seconds."""
    found = STATUS_TIME.search(status_output)
    assert found, status_output
    sign, hours, minutes, seconds = found.groups()
    total = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return -total if sign == "-" else total


def ok(*args: str | Path, cwd: Path) -> str:
    """A `gameday` command that must succeed; its output."""
    result = gameday(*args, cwd=cwd)
    assert result.returncode == 0, f"gameday {args}: {result.stdout}{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_a_live_run_obeys_commands_from_other_terminals(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    with LiveRun(scenario, tmp_path / "run", "--responder", "human", "--speed", "30") as live:
        events = control_the_live_run(live, tmp_path)
    path = live.run.path

    by_kind = {e["kind"]: e for e in events}
    assert events[-1]["kind"] == "run.ended" and events[-1]["reason"] == "end"
    paused, resumed = by_kind["run.paused"], by_kind["run.resumed"]
    assert paused["seq"] < resumed["seq"]
    # over a second of real time (30 run seconds) passed between them: the clock stood still
    assert float(resumed["t"]) - float(paused["t"]) < 5.0
    notes = [e for e in events if e["kind"] == "note"]
    assert sorted(e["text"] for e in notes) == sorted(["x", *TOGETHER])
    assert all(e["actor"] == "responder" and e["by"] == "test-lead" for e in notes)
    [mark] = [e for e in events if e["kind"] == "mark"]
    assert (mark["step"], mark["by"]) == ("acknowledge-case", "test-lead")
    assert by_kind["repo.private"]["actor"] == "responder"

    # after the run: status says so, commands are refused, a mark is still journaled
    assert "ended (not running)" in ok("status", path, cwd=tmp_path)
    late_pause = gameday("pause", path, cwd=tmp_path)
    assert late_pause.returncode == 2 and "Traceback" not in late_pause.stderr
    ok("mark", path, "root-password", cwd=tmp_path)
    after = read_journal(live.run.journal)
    assert len(after) == len(events) + 1
    late = after[-1]
    assert late["kind"] == "mark" and late["step"] == "root-password" and late["after_run"]
    assert late["seq"] == events[-1]["seq"] + 1 and late["t"] == events[-1]["t"]

    rescored = gameday("score", path, "--json", cwd=tmp_path)
    assert rescored.returncode == 1, rescored.stderr  # still without its critical step
    steps = {s["id"]: s for s in json.loads(rescored.stdout)["steps"]}
    assert steps["root-password"]["status"] == "success" and steps["root-password"]["awarded"]
    assert steps["acknowledge-case"]["status"] == "success"
    assert steps["repository-private"]["status"] == "success"
    assert steps["disable-leaked-key"]["status"] == "failed"


def control_the_live_run(live: LiveRun, cwd: Path) -> list[Event]:
    """status, pause, resume, notes, mark, repo private, end; the journal once it ended."""
    live.wait_running()
    path = live.run.path
    assert "running (live)" in ok("status", path, cwd=cwd)

    # pause: the run clock stops, for status and for the run itself
    ok("pause", path, cwd=cwd)
    first = ok("status", path, cwd=cwd)
    time.sleep(1.0)  # 30 s of run time, were the clock going
    second = ok("status", path, cwd=cwd)
    assert "paused (live)" in second
    assert run_time(first) == run_time(second)
    ok("resume", path, cwd=cwd)
    time.sleep(1.0)
    assert run_time(ok("status", path, cwd=cwd)) >= run_time(second) + 20

    # notes: one, then two at the same instant from two terminals
    ok("note", path, "x", cwd=cwd)
    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(lambda text: ok("note", path, text, cwd=cwd), TOGETHER))
    assert all("note" in output for output in outputs)

    # the facilitator validates a manual step; the step holds from then on
    ok("mark", path, "acknowledge-case", cwd=cwd)
    unknown = gameday("mark", path, "acknowledge", cwd=cwd)
    assert unknown.returncode == 2 and "did you mean 'acknowledge-case'" in unknown.stderr
    live.wait_event(
        lambda e: e["kind"] == "check.changed" and e["check"] == "step:acknowledge-case",
        "the marked step to hold",
    )

    # the code host's button
    ok("repo", "private", path, cwd=cwd)
    live.wait_event(lambda e: e["kind"] == "repo.private", "repo.private")

    ok("end", path, cwd=cwd)
    assert live.finish() == 1  # the critical step (disable the key) was never done
    return read_journal(live.run.journal)


# ── the run clock other terminals read from run.json ───────────────────────────────────────


def live_run_dir(tmp_path: Path) -> RunDir:
    """A run directory whose run.json names a live process (this one)."""
    tmp_path.mkdir(exist_ok=True)
    run = RunDir(tmp_path)
    run.write_status(pid=os.getpid(), state="running", clock="wall")
    return run


def test_run_time_goes_on_at_the_run_speed(tmp_path: Path) -> None:
    run = live_run_dir(tmp_path)
    run.write_clock(600.0, speed=60.0, paused=False)
    first = run.run_time()
    time.sleep(0.05)
    second = run.run_time()
    assert first is not None and second is not None
    assert 600.0 <= first < second
    assert second - first == pytest.approx(0.05 * 60.0, abs=1.5)
    assert run.status()["state"] == "running"


def test_run_time_stands_still_while_paused(tmp_path: Path) -> None:
    run = live_run_dir(tmp_path)
    run.write_clock(754.5, speed=60.0, paused=True)
    time.sleep(0.05)
    assert run.run_time() == 754.5
    assert run.status()["state"] == "paused"


def test_no_run_time_without_a_live_wall_clock(tmp_path: Path) -> None:
    virtual = live_run_dir(tmp_path / "virtual")
    assert virtual.run_time() is None  # a virtual run publishes no clock: time jumps

    ended = live_run_dir(tmp_path / "ended")
    ended.write_clock(60.0, speed=1.0, paused=False)
    ended.write_status(state="ended", reason="end")
    assert ended.run_time() is None

    broken = live_run_dir(tmp_path / "broken")
    broken.write_status(run_clock={"t": "soon"})
    assert broken.run_time() is None


def test_status_writes_from_two_threads_both_land(tmp_path: Path) -> None:
    run = live_run_dir(tmp_path)

    def write(index: int) -> None:
        run.write_status(**{f"field_{index}": index})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(64)))
    status = run.status()
    assert all(status[f"field_{index}"] == index for index in range(64))
