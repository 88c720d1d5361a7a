"""Runbooks as pytest tests, from a team's own repository: the `gameday_run` fixture.

A separate project in a temporary folder — its own scenario, its own two runbooks, its own
pytest configuration, nothing of this repository's on its path — runs its runbook tests with
`python -m pytest -n 2`, in this environment where gameday is installed: the plugin is
found through its `pytest11` entry point, pytest-xdist spreads the two tests over two
workers, the well-drilled runbook's test passes, the careless one's fails, and its failure
names the steps the runbook missed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gameday.paths import PROJECT_ROOT, SCENARIOS

SCENARIO = SCENARIOS / "false-alarm-inactive-key.yaml"  # the library's quickest
RUNBOOKS = PROJECT_ROOT / "runbooks"

TESTS = textwrap.dedent(
    """
    def test_the_drilled_runbook_handles_a_false_alarm(gameday_run):
        run = gameday_run("scenarios/false-alarm.yaml", "runbooks/drilled.py")
        assert run.passed
        assert run.score >= run.pass_mark and not run.missed
        assert (run.run_dir / "report.md").is_file()


    def test_the_panicking_runbook_handles_a_false_alarm(gameday_run):
        assert gameday_run("scenarios/false-alarm.yaml", "runbooks/panicking.py").passed
    """
)


def test_the_plugin_is_installed_as_a_pytest11_entry_point() -> None:
    plugins = importlib.metadata.entry_points(group="pytest11")
    assert [p.value for p in plugins if p.name == "gameday"] == ["gameday.pytest_plugin"]


@pytest.mark.slow
def test_a_teams_project_runs_its_runbooks_as_tests_with_xdist(tmp_path: Path) -> None:
    project = tmp_path / "team-project"
    (project / "scenarios").mkdir(parents=True)
    (project / "runbooks").mkdir()
    (project / "tests").mkdir()
    shutil.copyfile(SCENARIO, project / "scenarios" / "false-alarm.yaml")
    shutil.copyfile(RUNBOOKS / "reference.py", project / "runbooks" / "drilled.py")
    shutil.copyfile(RUNBOOKS / "careless.py", project / "runbooks" / "panicking.py")
    (project / "tests" / "test_runbooks.py").write_text(TESTS, encoding="utf-8")
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    # the inner session is its own: nothing of this one's pytest settings leaks into it
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "-rA",
         "--basetemp", str(tmp_path / "basetemp"), "tests"],
        cwd=project, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # pytest's "some tests failed"
    assert re.search(r"\b1 failed, 1 passed\b", output), output
    assert "created: 2/2 workers" in output, output  # xdist, two workers
    assert "PASSED tests/test_runbooks.py::test_the_drilled_runbook" in output, output
    assert "FAILED tests/test_runbooks.py::test_the_panicking_runbook" in output, output

    # the failure is readable: the assertion shows the run, its score and its missed steps …
    failure = output[output.index("test_the_panicking_runbook_handles_a_false_alarm ___") :]
    assert re.search(
        r"<gameday false-alarm-inactive-key × panicking\.py: FAILED \d+\.\d/100 \(pass 75\); "
        r"missed: [^>]*service-untouched",
        failure,
    ), failure
    # … and a section lists every missed step, every penalty, and the run's report
    section = failure[failure.index("gameday: what the runs came to") :]
    run_dirs = re.findall(r"report: (\S+)/report\.md", section)
    assert len(run_dirs) == 1, section
    score = json.loads((Path(run_dirs[0]) / "score.json").read_text(encoding="utf-8"))
    assert not score["passed"]
    missed = [s for s in score["steps"] if s["status"] in ("failed", "pending")]
    assert [s for s in missed if not s["manual"]], score
    for step in missed:  # a manual step is the facilitator's to mark, and said so
        label = "manual" if step["manual"] else "missed"
        assert re.search(rf"{label}  {re.escape(step['id'])}\b", section), section
    incurred = [p for p in score["penalties"] if p["points"] > 0]
    assert incurred, score
    for penalty in score["penalties"]:
        assert (f"penalty {penalty['id']}: -" in section) == (penalty in incurred), section
