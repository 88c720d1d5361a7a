"""A run with a human team has two rooms, and the team's view shows no step.

One wall-clock run of a small scenario, for the whole module: the team's room is what a team
would be handed, nothing in it names or leads to the facilitator's room, the AWS profile in
it works from any folder, and `gameday watch` (the team's view) prints the notices and the
run's state but no step, score, attacker or facilitator line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from exercise.test_run_e2e import AWS, LiveRun, environment, gameday_here, write_scenario

from gameday.journal import Event
from gameday.rundir import TEAM_SHARE, RunDir
from gameday.scenario import load_scenario


@dataclass
class Played:
    run: RunDir
    room: Path
    token: str
    log: str
    watched: str
    events: list[Event]
    caller: dict[str, str]  # `aws sts get-caller-identity` from elsewhere, with the handout's
    console: dict[str, str]  # what `gameday console` printed, and its users page


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    folder = tmp_path_factory.mktemp("room")
    scenario = write_scenario(folder)
    with LiveRun(scenario, folder / "run", "--responder", "human", "--speed", "30") as live:
        live.wait_running()
        watcher = subprocess.Popen(
            [sys.executable, "-m", "gameday", "watch", "run", "--plain"],
            cwd=folder,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        live.wait_event(lambda e: e.get("inject") == "case-email", "AWS's email")
        handout = live.run.handout.read_text(encoding="utf-8")
        exports = dict(re.findall(r"^export (\w+)=(\S+)$", handout, re.MULTILINE))
        elsewhere = tmp_path_factory.mktemp("elsewhere")
        base = {k: v for k, v in environment().items() if not k.startswith("AWS_")}
        called = subprocess.run(
            [str(AWS), "sts", "get-caller-identity"],
            cwd=elsewhere,
            env={**base, **exports},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert called.returncode == 0, called.stderr
        console = standalone_console(folder)
        token = live.token
        ended = gameday_here("end", "run", cwd=folder, token=token)
        assert ended.returncode == 0, ended.stderr
        live.finish()
        watched, _ = watcher.communicate(timeout=60)
        yield Played(
            run=live.run,
            room=live.run.team,
            token=token,
            log=live.log(),
            watched=watched,
            events=live.events(),
            caller=json.loads(called.stdout),
            console=console,
        )


def standalone_console(folder: Path) -> dict[str, str]:
    """`gameday console run` in another process: signed in, the users page, then stopped."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gameday", "console", "run"],
        cwd=folder,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = server.stdout.readline() if server.stdout else ""
        address = re.search(r": (http://127\.0\.0\.1:\d+)/ — ", first)
        assert address, first
        link = (folder / "teams" / "run" / "CONSOLE.txt").read_text(encoding="utf-8")
        token = re.search(r"^token: (\S+)$", link, re.MULTILINE)
        assert token, link
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        login = urllib.parse.urlencode({"token": token.group(1), "next": "/iam/users"})
        with opener.open(f"{address.group(1)}/login", login.encode(), timeout=30) as page:
            users = page.read().decode("utf-8")
        return {"first": first, "users": users, "link": link}
    finally:
        server.terminate()
        server.wait(30)


def test_the_team_room_holds_only_what_a_team_would_have(played: Played) -> None:
    run, room = played.run, played.room
    assert room.is_absolute() and room == run.path.parent / "teams" / "run"
    assert {p.name for p in room.iterdir()} >= {"HANDOUT.md", "aws", "mail", "repo"}
    assert any((room / "mail" / "new").iterdir())
    everything = [p for p in room.rglob("*")]
    names = {p.name for p in everything}
    assert not names & {"scenario.yaml", "journal.jsonl", "run.json", ".vault.jsonl",
                        "token.sha256", "score.json", "report.html", "calls", "control",
                        "facilitator"}  # fmt: skip
    step_ids = [step.id for step in load_scenario(run.scenario).steps]
    facilitator_room = str(run.path.resolve())
    for path in everything:
        if path.is_symlink():
            target = (path.parent / os.readlink(path)).resolve()
            assert not str(target).startswith(facilitator_room + os.sep), path
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        assert played.token.encode() not in data, path
        assert facilitator_room.encode() not in data, path
        assert b"../run" not in data, path
        for step in step_ids:
            assert step.encode() not in data, (path, step)
    handout = (room / "HANDOUT.md").read_text(encoding="utf-8")
    assert f"export AWS_CONFIG_FILE={room}/aws/config" in handout
    assert played.caller["Account"] == "491826357014"


def test_the_run_directory_keeps_its_paths_through_links_to_the_team_room(
    played: Played,
) -> None:
    run = played.run
    for name in TEAM_SHARE:
        assert (run.path / name).is_symlink()
        assert (run.path / name).resolve() == played.room / name
    assert (run.path / "team").resolve() == played.room
    # DESIGN.md's run directory, as tools and the facilitator read it
    assert any((run.path / "mail" / "new").iterdir())
    assert (run.path / "aws" / "config").read_text(encoding="utf-8").startswith("[profile gameday]")
    assert (run.path / "repo" / ".git").is_dir() and (run.path / "HANDOUT.md").is_file()
    for own in ("scenario.yaml", "journal.jsonl", "score.json", "report.html", "calls"):
        assert (run.path / own).exists() and not (run.path / own).is_symlink()
    # `gameday run` said which folder the team gets
    log = played.log
    assert (
        f"The team's room — give the team this folder, and only this one:\n  {played.room}\n" in log
    )
    assert "The facilitator's room — yours alone" in log


def test_the_team_view_shows_notices_and_the_run_state_but_no_step(played: Played) -> None:
    lines = played.watched.splitlines()
    assert lines[:2] == ["watching run", "SIMULATION — game day exercise"]
    assert re.match(r"T\+0:00:00 RUN +started$", lines[2])
    assert any(re.match(r"T\+0:00:4\d AWS +email: \[SIMULATION", line) for line in lines)
    assert any(re.match(r"T\+0:00:4\d AWS +support case: \[SIMULATION", line) for line in lines), (
        lines
    )
    assert re.match(r"T\+\d:\d\d:\d\d RUN +ended$", lines[-1])
    text = played.watched
    for spoiler in ("STEP", "PENALTY", "ATTACKER", "FACILITATOR", "quarantine", "holds",
                    "disable-leaked-key", "acknowledge-case", "score"):  # fmt: skip
        assert spoiler not in text, spoiler
    # the facilitator's own console keeps the whole story
    assert "ATTACKER    aws.discovery.whoami succeeded" in played.log


def test_gameday_console_serves_a_live_run_with_the_team_token(played: Played) -> None:
    assert played.console["first"].startswith("web console of run: http://127.0.0.1:")
    assert played.console["link"].startswith("SIMULATION — game day exercise\n")
    users = played.console["users"]
    assert "SIMULATION — game day exercise" in users
    assert ">deployer</a>" in users
    # the team's room tells the team where the console is, and nothing of the facilitator's
    handout = (played.room / "HANDOUT.md").read_text(encoding="utf-8")
    assert "## The AWS console (SIMULATION)" in handout
