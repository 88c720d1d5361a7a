"""`gameday run` and `gameday render` refuse bad input cleanly, and preview what a run sends;
`gameday status` and the control commands find the run they act on.

Each mistake exits 2 with a message that says where and what, never a traceback, and before
anything is built: no run directory is left behind. (A runbook that fails once the run is
under way is another matter: `tests/exercise/test_run_e2e.py` shows the run completing.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from exercise.test_run_e2e import REFERENCE_RUNBOOK, SEED_SCENARIO, gameday, write_scenario
from gameday_cli import gameday_here

from gameday.cli import cli
from gameday.errors import RunDirError
from gameday.exercise.injects.rendering import MARKER
from gameday.journal import FixedClock, Journal
from gameday.rundir import RunDir, resolve_run_dir
from gameday.scenario import load_scenario

BAD_SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "bad"


def here(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS…` run in this process (`gameday_here`): a refusal before the run needs
    no interpreter of its own; one refusal still goes through a process."""
    return gameday_here(*(str(a) for a in args), cwd=cwd)


def assert_user_error(
    result: subprocess.CompletedProcess[str], folder: Path, *, traceback: bool = False
) -> list[str]:
    """Exit 2, a message on stderr, nothing written; the message's lines.

    No traceback, unless it is the user's own (`traceback`): then none of gameday's frames.
    """
    assert result.returncode == 2, result.stdout + result.stderr
    if traceback:
        assert "gameday/" not in result.stderr
    else:
        assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip()
    assert not (folder / "runs").exists()
    return result.stderr.splitlines()


def test_a_bad_scenario_is_refused_with_every_mistake_located(tmp_path: Path) -> None:
    bad = BAD_SCENARIOS / "three-mistakes.yaml"
    relative = Path("tests/scenarios/bad/three-mistakes.yaml")  # as its expectations name it
    (tmp_path / relative).parent.mkdir(parents=True)
    shutil.copyfile(bad, tmp_path / relative)
    expected = [
        line.split(": ", 1)[1]
        for line in bad.read_text(encoding="utf-8").splitlines()
        if line.startswith(("# expect: ", "# also: "))
    ]

    result = gameday(
        "run", relative, "--clock", "virtual", "--responder", REFERENCE_RUNBOOK, cwd=tmp_path
    )
    lines = assert_user_error(result, tmp_path)
    assert lines == expected
    assert all(re.match(r"^[^:]+:\d+:\d+: ", line) for line in lines)


def test_a_missing_scenario_is_refused(tmp_path: Path) -> None:
    result = here("run", "nowhere.yaml", "--clock", "virtual", cwd=tmp_path)
    [line] = assert_user_error(result, tmp_path)
    assert line.startswith("nowhere.yaml")


def test_a_human_responder_needs_the_wall_clock(tmp_path: Path) -> None:
    result = here("run", SEED_SCENARIO, "--clock", "virtual", "--responder", "human", cwd=tmp_path)
    [line] = assert_user_error(result, tmp_path)
    assert line == (
        "a human responder needs the wall clock — drop --clock virtual, or give a runbook "
        "(--responder PATH.py) or a replay (--responder replay:FILE)"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def respond(ctx)\n    pass\n", r"^{path}:1:17: invalid Python: expected ':'$"),
        ("def act(ctx):\n    pass\n", r"^{path}: defines no respond\(ctx\) function"),
        ("def respond():\n    pass\n", r"^{path}: respond\(\) must take one argument"),
    ],
    ids=["syntax-error", "no-respond", "respond-without-context"],
)
def test_a_broken_runbook_is_refused_before_the_run(
    tmp_path: Path, source: str, message: str
) -> None:
    runbook = tmp_path / "runbook.py"
    runbook.write_text(source, encoding="utf-8")
    result = here("run", SEED_SCENARIO, "--clock", "virtual", "--responder", runbook, cwd=tmp_path)
    lines = assert_user_error(result, tmp_path)
    assert re.match(message.format(path=re.escape(str(runbook))), lines[0]), lines


def test_a_runbook_that_fails_to_import_shows_its_own_traceback(tmp_path: Path) -> None:
    runbook = tmp_path / "runbook.py"
    runbook.write_text("import json\nimport no_such_module_here\n", encoding="utf-8")
    result = here("run", SEED_SCENARIO, "--clock", "virtual", "--responder", runbook, cwd=tmp_path)
    lines = assert_user_error(result, tmp_path, traceback=True)
    assert lines[0] == f"{runbook}: importing the runbook failed — fix the error below"
    assert f'File "{runbook}", line 2, in <module>' in result.stderr
    assert lines[-1] == "ModuleNotFoundError: No module named 'no_such_module_here'"


def test_a_missing_runbook_is_refused(tmp_path: Path) -> None:
    result = here(
        "run", SEED_SCENARIO, "--clock", "virtual", "--responder", "nowhere.py", cwd=tmp_path
    )
    [line] = assert_user_error(result, tmp_path)
    assert line.startswith("nowhere.py: no such runbook")


@pytest.mark.parametrize("speed", ["0", "-2"])
def test_the_speed_must_be_positive(tmp_path: Path, speed: str) -> None:
    result = here("run", SEED_SCENARIO, f"--speed={speed}", cwd=tmp_path)
    [line] = assert_user_error(result, tmp_path)
    assert line.startswith(f"--speed {float(speed)}")


def test_a_used_run_directory_is_refused(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("keep me", encoding="utf-8")
    scenario = write_scenario(tmp_path)
    result = here(
        "run", scenario, "--clock", "virtual", "--responder", REFERENCE_RUNBOOK, "--out", used,
        cwd=tmp_path,
    )  # fmt: skip
    [line] = assert_user_error(result, tmp_path)
    assert line == f"{used}: not empty — give a new folder for the run"
    assert [p.name for p in used.iterdir()] == ["notes.txt"]


# ── render ────────────────────────────────────────────────────────────────────────────────


def test_render_previews_every_inject_marked_as_a_simulation(tmp_path: Path) -> None:
    result = here("render", SEED_SCENARIO, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # each opens with a heading: `── T+1m50s  support-case  support-case  ·  SIMULATION — … ──`,
    # and what the team's doing decides after it (`  ·  when case-replied`)
    rule = re.compile(rf"^── T\+(\S+)  (\S+)  (\S+)  ·  {MARKER}(?:  ·  [^\n]+)? ──$", re.MULTILINE)
    headers = list(rule.finditer(result.stdout))
    scenario = load_scenario(SEED_SCENARIO)
    assert sorted((m.group(3), m.group(2)) for m in headers) == sorted(
        (i.id, i.type) for i in scenario.timeline
    )
    # what reaches the responders carries the marker in its own text, not only in the rule
    ends = [m.start() for m in headers[1:]] + [len(result.stdout)]
    for header, end in zip(headers, ends, strict=True):
        text = result.stdout[header.end() : end]
        # not a message to the responders: an act on the account, a cue for the facilitator
        if header.group(2) not in ("quarantine", "console"):
            assert MARKER in text, f"{header.group(3)} is not marked:\n{text}"
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_run_many_runs_a_runbook_through_scenarios_like_a_test_suite(tmp_path: Path) -> None:
    library = SEED_SCENARIO.parent
    scenarios = [SEED_SCENARIO, library / "false-alarm-inactive-key.yaml"]
    careless = REFERENCE_RUNBOOK.parent / "careless.py"
    # one job, in the test process on its warm mock (tests/test_run_many.py plays the pool)
    result = here(
        "run-many", *scenarios, "--responder", careless, "--out", tmp_path, "--jobs", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["FAILED", "FAILED"]
    assert lines[-1] == "0 passed, 2 failed"
    for scenario in scenarios:
        run = tmp_path / scenario.stem
        assert (run / "score.json").exists() and (run / "junit.xml").exists()


# ── which run a command acts on, and what status says of it ───────────────────────────────


def a_run(root: Path, name: str, age_s: float, **status: object) -> Path:
    """A run directory under `root` with a journal, started `age_s` seconds ago."""
    run = RunDir(root / name)
    run.path.mkdir(parents=True)
    shutil.copyfile(SEED_SCENARIO, run.scenario)
    started = time.time() - age_s
    os.utime(run.scenario, (started, started))
    with Journal(run.journal, FixedClock(t=754.0), durable=False) as journal:
        journal.append("run.started", t=0.0, scenario="exported-keys-in-script", team=name)
        journal.append("note", actor="responder", text=f"{name} was here", by="team")
    run.write_status(state="running", **status)
    return run.path


def a_gone_pid() -> int:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(gone.stdout)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "200"})


def test_commands_without_a_run_dir_act_on_the_newest_live_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runs = Path("runs")
    gone = a_gone_pid()
    a_run(runs, "ended", 300, pid=gone, reason="duration")
    RunDir(runs / "ended").write_status(state="ended", reason="duration")
    live = a_run(runs, "live", 200, pid=os.getpid())
    crashed = a_run(runs, "crashed", 100, pid=gone)  # the newest, but its process is gone

    # The newest live run, not the newest run.
    shown = invoke("status")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"{live}: running (live) at T+0:12:34\n")
    assert "live was here" in shown.output

    # A crashed run says so, and how to take it over.
    shown = invoke("status", crashed)
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[:2] == [
        f"{crashed}: crashed (pid {gone} gone) — gameday recover {crashed}",
        "  it stopped at T+0:12:34",
    ]
    assert RunDir(crashed).status()["crashed"] and not RunDir(live).status()["crashed"]

    # When no run is live, a command says so and names the newest; status shows that one.
    RunDir(live).write_status(state="ended", reason="end")
    for command in (["pause"], ["end"], ["mark", "root-password"], ["note", "hello"]):
        refused = invoke(*command)
        assert isinstance(refused.exception, RunDirError), refused.output
        assert str(refused.exception) == (
            f"no live run under runs/ — the newest, {crashed}, is crashed (pid {gone} gone) — "
            f"gameday recover {crashed}; name a run directory to act on one that is not live"
        )
    shown = invoke("status")
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines()[:2] == [
        f"no live run under runs/ — the newest, {crashed}, is crashed (pid {gone} gone) — "
        f"gameday recover {crashed}",
        f"{crashed}: crashed (pid {gone} gone) — gameday recover {crashed}",
    ]
    assert f"{live}: ended (end) at T+0:12:34" in invoke("status", live).output
    # score and report still take the newest run, live or not
    assert resolve_run_dir(None).path == crashed
