"""A human team's run that crashes is recovered with its two rooms as they were.

One wall-clock run, killed once AWS's email has arrived, then `gameday recover`: the team's
room keeps its mail, its clone and its handout, the run directory still links there, and
the team's profile — the same file, from any folder — reaches the rebuilt mock.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from exercise.test_run_e2e import AWS, LiveRun, environment, gameday, write_scenario

from gameday.journal import read_journal
from gameday.rundir import TEAM_SHARE, RunDir


@pytest.mark.sweep  # a wall-clock run and its recovery (test_recovery has the quick ones)
def test_a_crashed_team_run_is_recovered_with_its_rooms(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path)
    with LiveRun(scenario, tmp_path / "run", "--responder", "human", "--speed", "30") as live:
        live.wait_event(lambda e: e.get("inject") == "case-email", "AWS's email")
        token = live.token
        live.kill()
    run = RunDir(tmp_path / "run")
    room = run.team
    mail = sorted(p.name for p in (room / "mail" / "new").iterdir())
    handout = (room / "HANDOUT.md").read_text(encoding="utf-8")
    exports = dict(re.findall(r"^export (\w+)=(\S+)$", handout, re.MULTILINE))
    assert mail and exports["AWS_CONFIG_FILE"] == f"{room}/aws/config"

    log = (tmp_path / "recover.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday", "recover", "run", "--plain", "--token", token],
        cwd=tmp_path, env=environment(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        recovered = LiveRun.__new__(LiveRun)
        recovered.run, recovered.process, recovered.output = run, process, Path(log.name)
        recovered.wait_event(lambda e: e["kind"] == "run.recovered", "the recovery")
        recovered.wait_running()
        # the rooms as they were: the same room, linked the same way, the mail kept
        assert run.team == room
        for name in TEAM_SHARE:
            assert (run.path / name).resolve() == room / name
        assert sorted(p.name for p in (room / "mail" / "new").iterdir())[: len(mail)] == mail
        assert (room / "repo" / ".git").is_dir() and not (run.path / ".before-replay").exists()
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        base = {k: v for k, v in environment().items() if not k.startswith("AWS_")}
        called = subprocess.run(
            [str(AWS), "sts", "get-caller-identity"], cwd=elsewhere, env={**base, **exports},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["Account"] == "491826357014"
        ended = gameday("end", "run", cwd=tmp_path, token=token)
        assert ended.returncode == 0, ended.stderr
        assert process.wait(120) in (0, 1), Path(log.name).read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
        log.close()
    events = read_journal(run.journal)
    assert events[-1]["kind"] == "run.ended"
    assert (run.path / "score.json").is_file() and not (room / "score.json").exists()
