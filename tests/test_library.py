"""The scenario library as a whole, and the runbooks that measure it.

Every scenario validates and covers its part of the library (leak vectors, support plans,
difficulties, the facts of a real incident's first minutes). In virtual time, the reference
runbook passes every scenario, the careless one fails every one, and AWS's published
automation contains every key but leaves the persistence scenario's footholds — which its
report names.

The runs share the test process's warm mock (`mock_server`, from tests/conftest.py): each run
empties it for its own account (`RunOptions.account`), so a run costs its own work and not the
mock's start-up; under `pytest -n 2` the runs spread over both processes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from sweeps import library_params

from gameday.cli import cli
from gameday.errors import ExitCode
from gameday.exercise.run import RunOptions, RunResult, run_exercise
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.scenario.catalogue import render
from gameday.scenario.library import load_library
from gameday.scenario.model import (
    LEAK_VECTORS,
    AccessKeyDisabled,
    HealthEventInject,
    Scenario,
)
from gameday.world.account import MockAccount

RUNBOOKS = PROJECT_ROOT / "runbooks"
REFERENCE = RUNBOOKS / "reference.py"
CARELESS = RUNBOOKS / "careless.py"
AUTOMATION = RUNBOOKS / "aws_health_automation.py"
SEED = 7
LIBRARY = {entry.path.stem: entry for entry in load_library(SCENARIOS)}
SCENARIO_IDS = sorted(LIBRARY)
PERSISTENCE = "persistence-four-footholds"


def scenario(scenario_id: str) -> Scenario:
    loaded = LIBRARY[scenario_id].scenario
    assert loaded is not None, LIBRARY[scenario_id].error
    return loaded


def play(scenario_id: str, runbook: Path, out: Path, mock: MockAccount) -> RunResult:
    """One virtual-time run of a library scenario, on the process's shared mock."""
    options = RunOptions(
        team=runbook.stem,
        out=out,
        clock="virtual",
        responder=str(runbook),
        seed=SEED,
        live=False,
        account=mock,
    )
    return run_exercise(SCENARIOS / f"{scenario_id}.yaml", options, Console(file=io.StringIO()))


def exit_code(result: RunResult) -> int:
    """What `gameday` exits with for this run (re-scored from its journal alone)."""
    return CliRunner().invoke(cli, ["score", str(result.run_dir.path)]).exit_code


def misses(result: RunResult) -> str:
    steps = [
        f"{s.id}: {s.status} ({s.reason})" for s in result.score.steps if s.status != "success"
    ]
    penalties = [f"{p.id}: -{p.points}" for p in result.score.penalties if p.points]
    return f"score {result.score.score}\n" + "\n".join(steps + penalties)


def containment_step(loaded: Scenario) -> str:
    """The step that holds once the leaked key is unusable, deactivated or deleted."""
    for step in loaded.steps:
        check = step.check
        if isinstance(check, AccessKeyDisabled) and check.key == "leaked" and check.state == "any":
            return step.id
    raise AssertionError(f"{loaded.id} has no step for containing the leaked key")


# ── the library itself ────────────────────────────────────────────────────────────────────


def test_every_scenario_validates_and_is_named_after_its_id() -> None:
    assert len(LIBRARY) >= 9
    for name, entry in LIBRARY.items():
        assert entry.error is None, f"{entry.path}: {entry.error}"
        assert entry.scenario is not None and entry.scenario.id == name


def test_the_library_varies_what_a_team_meets() -> None:
    scenarios = [scenario(name) for name in SCENARIO_IDS]
    assert {s.account.support_plan for s in scenarios} == {
        "basic",
        "developer",
        "business",
        "enterprise",
    }
    assert {s.difficulty for s in scenarios} == {
        "introductory",
        "intermediate",
        "advanced",
        "expert",
    }
    assert len({s.leak.vector for s in scenarios}) == len(LEAK_VECTORS)
    for field in ("id", "alias"):
        values = [getattr(s.account, field) for s in scenarios]
        assert len(set(values)) == len(values), f"two scenarios share an account {field}"
    owners = [s.leak.repository.owner for s in scenarios]
    assert len(set(owners)) == len(owners)


@pytest.mark.parametrize("scenario_id", SCENARIO_IDS)
def test_every_scenario_follows_the_first_minutes_of_a_real_incident(scenario_id: str) -> None:
    """FACTS §1 and §4: quarantine about a minute after the push, the case and email a minute
    later, a Health event AWS's automation listens for, the attacker within five minutes."""
    loaded = scenario(scenario_id)
    at = {inject.id: inject.at for inject in loaded.timeline}
    kinds = {inject.type: inject for inject in loaded.timeline}
    quarantine = kinds["quarantine"].at
    assert quarantine is not None and 50 <= quarantine <= 90
    case = kinds["support-case"].at
    assert case is not None and quarantine < case <= 180
    assert "email" in kinds
    health = kinds["health-event"]
    assert isinstance(health, HealthEventInject)
    assert health.event_type_code == "AWS_RISK_CREDENTIALS_EXPOSED"
    assert health.at is not None and health.at <= 180
    assert 60 <= loaded.attacker.first_use <= 300
    calls = [inject for inject in loaded.timeline if inject.type == "phone-call"]
    for call in calls:
        assert "enterprise-support" in call.when, "only Enterprise Support gets the call"
    assert all(value is None or value <= loaded.duration for value in at.values())
    containment_step(loaded)


def test_plans_without_the_support_api_never_require_it() -> None:
    for name in SCENARIO_IDS:
        loaded = scenario(name)
        if loaded.account.support_plan in ("basic", "developer"):
            types = {step.check.type for step in loaded.steps}
            assert not types & {"case-replied", "case-resolved"}, name
            assert not any(inject.type == "phone-call" for inject in loaded.timeline), name


def test_the_scenarios_the_library_promises_are_there() -> None:
    by_trait: dict[str, Callable[[Scenario], bool]] = {
        "a committed credentials file": lambda s: s.leak.vector == "aws-credentials-file",
        "a key removed in a later commit": lambda s: (
            s.leak.removed is not None
            and {"key-purged-from-history", "repository-private"}
            <= {step.check.type for step in s.steps}
        ),
        "the production workload's own key": lambda s: (
            s.workload is not None
            and s.workload.key == (s.leak.key or s.workload.key)
            and s.workload.user == s.leak.user
        ),
        "persistence of every kind": lambda s: (
            {
                "aws.persistence.iam-create-backdoor-user",
                "aws.persistence.iam-backdoor-existing-user",
                "aws.persistence.iam-create-login-profile",
                "aws.persistence.iam-create-backdoor-role",
            }
            <= {t.technique for t in s.attacker.techniques}
        ),
        "mining in never-used regions": lambda s: any(
            t.technique == "aws.impact.ec2-mining"
            and not set(getattr(t, "regions", [])) & set(s.account.regions)
            for t in s.attacker.techniques
        ),
        "secrets read and objects downloaded": lambda s: (
            {
                "aws.credential-access.secretsmanager-retrieve",
                "aws.exfiltration.s3-download",
            }
            <= {t.technique for t in s.attacker.techniques}
            and "secret-rotated" in {step.check.type for step in s.steps}
        ),
        "logging stopped": lambda s: (
            any(
                t.technique == "aws.defense-evasion.cloudtrail-stop-logging"
                for t in s.attacker.techniques
            )
            and "logging-enabled" in {step.check.type for step in s.steps}
        ),
        "a key that was already inactive": lambda s: any(
            key.status == "Inactive" and key.id == s.leak.key
            for user in s.account.estate.users
            for key in user.keys
        ),
    }
    scenarios = [scenario(name) for name in SCENARIO_IDS]
    for trait, holds in by_trait.items():
        assert any(holds(s) for s in scenarios), f"no scenario with {trait}"


def test_the_scenario_catalogue_is_up_to_date() -> None:
    written = (PROJECT_ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert written == render(SCENARIOS), (
        "docs/scenarios.md is stale: `python -m gameday.scenario.catalogue > docs/scenarios.md`"
    )
    for name in SCENARIO_IDS:
        assert f'<a id="{name}"></a>' in written


# ── the runbooks, in virtual time ─────────────────────────────────────────────────────────


@pytest.mark.parametrize("scenario_id", library_params(SCENARIO_IDS))
def test_the_reference_runbook_passes(
    scenario_id: str, mock_server: MockAccount, tmp_path: Path
) -> None:
    result = play(scenario_id, REFERENCE, tmp_path / "run", mock_server)
    assert result.score.passed, misses(result)
    assert not [p for p in result.score.penalties if p.points], misses(result)
    assert exit_code(result) == ExitCode.OK


@pytest.mark.parametrize("scenario_id", library_params(SCENARIO_IDS))
def test_the_careless_runbook_fails(
    scenario_id: str, mock_server: MockAccount, tmp_path: Path
) -> None:
    result = play(scenario_id, CARELESS, tmp_path / "run", mock_server)
    assert not result.score.passed, misses(result)
    incurred = {p.id for p in result.score.penalties if p.points}
    defined = {p.id: p.check.type for p in scenario(scenario_id).penalties}
    for penalty, check in defined.items():
        if check in ("repository-deleted", "leaked-key-used-by-responder"):
            assert penalty in incurred, f"{penalty} went unnoticed\n{misses(result)}"
    if scenario(scenario_id).workload is not None:
        assert result.score.metrics.outage_s, "deleting every old key took nothing down"
    assert exit_code(result) == ExitCode.FAILED


@pytest.mark.parametrize(
    "scenario_id", library_params(name for name in SCENARIO_IDS if name != PERSISTENCE)
)
def test_the_aws_automation_contains_the_key(
    scenario_id: str, mock_server: MockAccount, tmp_path: Path
) -> None:
    result = play(scenario_id, AUTOMATION, tmp_path / "run", mock_server)
    step = containment_step(scenario(scenario_id))
    status = {s.id: s.status for s in result.score.steps}
    assert status[step] == "success", misses(result)


def test_the_aws_automation_leaves_the_footholds_and_the_report_names_them(
    mock_server: MockAccount, tmp_path: Path
) -> None:
    result = play(PERSISTENCE, AUTOMATION, tmp_path / "run", mock_server)
    loaded = scenario(PERSISTENCE)
    status = {s.id: s.status for s in result.score.steps}
    assert status[containment_step(loaded)] == "success", misses(result)
    assert status["every-foothold-gone"] == "failed"
    assert not result.score.passed
    report = (result.run_dir.path / "report.md").read_text(encoding="utf-8")
    journal = result.run_dir.journal.read_text(encoding="utf-8")
    assert "Security Alert: Exposed IAM Key For User gha-deploy On Account 904417263358" in journal
    for technique in loaded.attacker.techniques:
        leftover = getattr(technique, "user_name", None) or getattr(technique, "role_name", None)
        if leftover is not None and technique.technique != "aws.discovery.whoami":
            assert leftover in report, f"the report does not name {leftover}"
