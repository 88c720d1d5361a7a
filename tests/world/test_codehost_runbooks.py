"""Runbooks that try to earn `key-removed-from-code-host` without taking the key off the code
host, played in virtual time: the release left up, the kept commits left unpurged, the
repository only made private, the file only deleted from the default branch, the clean-up
written into the journal and the host's state file. None earns it; the real purge, through a
runbook's own process and the command line, does — at the moment it was done.

The runs share the test process's warm mock (`mock_server`, tests/conftest.py) and are a
sweep (the host-level attempts in test_codehost_key_reach.py keep `make test` covered); the
end-to-end run goes through `gameday run` as a user starts it.
"""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from gameday_cli import gameday
from rich.console import Console

from gameday.exercise.responders import RunbookContext
from gameday.exercise.run import RunOptions, RunResult, run_exercise
from gameday.exercise.runbook_host import HostedContext
from gameday.journal import read_journal
from gameday.world.account import MockAccount

from .test_codehost import SCENARIO

RUNBOOKS = Path(__file__).parent / "code_host_runbooks"
SEED = 7
STEP = """
steps:
  - id: disable-leaked-key
    title: Deactivate the leaked key
    phase: contain
    check: {type: access-key-disabled}
    points: 40
    target: 10m
    deadline: 40m
  - id: clean-host
    title: Leave no place on the code host holding the key
    phase: eradicate
    check: {type: key-removed-from-code-host}
    points: 60
    target: 40m
    deadline: 55m
pass_mark: 60
"""


def scenario_text(trick: dict[str, Any]) -> str:
    """The code-host tests' scenario with a history trick, AWS's case and the step."""
    loaded = yaml.safe_load(SCENARIO)
    loaded["leak"]["trick"] = trick
    loaded["duration"] = "1h"
    loaded["timeline"] = [{"id": "support-case", "type": "support-case", "at": "2m"}]
    loaded.pop("steps")
    return yaml.safe_dump(loaded, sort_keys=False) + STEP


def step(result: RunResult) -> Any:
    return next(s for s in result.score.steps if s.id == "clean-host")


def play(path: Path, runbook: str, out: Path, mock: MockAccount) -> RunResult:
    options = RunOptions(
        team=runbook,
        out=out,
        clock="virtual",
        responder=str(RUNBOOKS / f"{runbook}.py"),
        seed=SEED,
        live=False,
        account=mock,
    )
    return run_exercise(path, options, Console(file=io.StringIO()))


@pytest.mark.parametrize(
    ("runbook", "left"),
    [
        pytest.param(
            "skip_purge", "kept commit", marks=pytest.mark.sweep, id="force-push-without-purge"
        ),
        pytest.param("skip_release", "release v", marks=pytest.mark.sweep, id="tag-not-release"),
        pytest.param("private_only", "private, but", marks=pytest.mark.sweep, id="private"),
        pytest.param(
            "default_branch_file", "branch main", marks=pytest.mark.sweep, id="file-on-main"
        ),
    ],
)
def test_a_runbook_that_leaves_a_place_does_not_earn_it(
    runbook: str, left: str, tmp_path: Path, mock_server: MockAccount
) -> None:
    path = tmp_path / "released.yaml"
    path.write_text(scenario_text({"type": "release"}), "utf-8")
    result = play(path, runbook, tmp_path / "run", mock_server)
    events = read_journal(result.run_dir.journal)
    assert not [e for e in events if e["kind"] == "responder.error"]
    clean = step(result)
    assert clean.status == "failed" and clean.awarded == 0
    assert left in clean.reason, clean.reason
    assert clean.reason.startswith("the code host still holds the key in ")


def test_claims_earn_nothing_and_the_real_purge_earns_it_when_done(tmp_path: Path) -> None:
    scenario = tmp_path / "force-pushed.yaml"
    scenario.write_text(scenario_text({"type": "force-push"}), "utf-8")
    runbook = RUNBOOKS / "forge_then_purge.py"
    out = tmp_path / "run"
    ran = gameday(
        "run", str(scenario), "--clock", "virtual", "--seed", str(SEED),
        "--responder", str(runbook), "--out", str(out), cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert ran.returncode in (0, 1), ran.stderr
    events = read_journal(out / "journal.jsonl")
    assert not [e for e in events if e["kind"] in ("responder.error", "error")]
    # the line written into the journal is set aside as someone else's; the claims in the
    # host's state file were never journaled: the one purge is the host's, after the sleep
    assert any(e["kind"] == "journal.foreign" for e in events)
    assert not [e for e in events if e["kind"] == "mark"]
    [purge] = [e for e in events if e["kind"] == "repo.commit-purged"]
    claimed = next(e for e in events if e["kind"] == "note" and "Support purged" in e["text"])
    assert purge["t"] == claimed["t"] + 600 and purge["deferred"] is False
    assert (purge["key_served"], purge["key_places"]) == (False, [])

    scored = gameday("score", str(out), "--json", cwd=tmp_path)
    clean = next(s for s in json.loads(scored.stdout)["steps"] if s["id"] == "clean-host")
    detected = next(e["t"] for e in events if e["kind"] == "inject.delivered")
    assert clean["status"] == "success"
    assert clean["satisfied_at_s"] == purge["t"] - detected


def test_a_runbooks_own_process_has_every_action_of_the_context() -> None:
    def public(cls: type) -> set[str]:
        return {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if n[0] != "_"}

    # `repo_action` among them: the code host's buttons work from a runbook's process
    assert "repo_action" in public(HostedContext)
    missing = public(RunbookContext) - public(HostedContext) - {"session_spec"}
    assert not missing
