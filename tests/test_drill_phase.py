"""A scenario's drill phase: the `drill:` section, the drill of a run's leak kept in the run
directory, and the reports' words for it — the earliest stage at which each scanner would
have stopped the key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gameday_cli import gameday_here
from test_drill import GREP, git_secrets_or_skip

from gameday.drill import STAGES as drill_stages
from gameday.drill.phase import drill_run
from gameday.drill.scanners import PROFILES, CommandScanner, DetectSecrets, named_scanners
from gameday.paths import SCENARIOS
from gameday.report.drill import STAGES as report_stages
from gameday.report.drill import CellOutcome, DrillCell, DrillReport, load_drill
from gameday.report.json import score_json
from gameday.scenario import load_scenario
from gameday.scenario.loader import parse_scenario
from gameday.scenario.model import DRILL_SCANNERS
from gameday.scoring.model import Metrics, Score

FORCE_PUSH = SCENARIOS / "force-pushed-key-still-served.yaml"
KUBERNETES = SCENARIOS / "kubernetes-secret-on-a-feature-branch.yaml"


def with_drill(path: Path, scanners: list[str]) -> str:
    """A library scenario's text with its drill section replaced."""
    text = path.read_text(encoding="utf-8").split("\ndrill:")[0]
    return text + "\ndrill:\n  scanners: " + json.dumps(scanners) + "\n"


def test_the_drill_section_names_built_in_profiles_or_commands() -> None:
    assert set(PROFILES) == set(DRILL_SCANNERS)
    assert report_stages == drill_stages  # the report reads the stages the drill plays
    mine = "my-scanner --strict {path}"
    scenario = parse_scenario(with_drill(FORCE_PUSH, ["detect-secrets", mine]))
    assert scenario.drill is not None
    chosen = named_scanners(scenario.drill.scanners)
    assert isinstance(chosen[0], DetectSecrets)
    assert isinstance(chosen[1], CommandScanner) and chosen[1].command == mine
    # without a list, every built-in profile; a scenario without the section has no drill
    text = FORCE_PUSH.read_text(encoding="utf-8").split("\ndrill:")[0]
    every = parse_scenario(text + "\ndrill: {}\n").drill
    assert every is not None and every.scanners == list(DRILL_SCANNERS)
    assert parse_scenario(text).drill is None


def test_a_command_is_named_after_its_program_and_kept_inside_the_drill() -> None:
    chosen = named_scanners(["/opt/tools/../bin/scan --all {path}", "sh -c x", "sh -c y"])
    assert [s.name for s in chosen] == ["scan", "sh", "sh-2"]
    assert CommandScanner("'../../etc' {path}").name == "etc"
    assert CommandScanner("'..' {path}").name == "command"


def _report(*rows: tuple[str, tuple[CellOutcome, ...]], note: str = "") -> DrillReport:
    stages = ("pre-commit", "pre-receive", "history", "release")
    cells = tuple(
        DrillCell(name, stage, outcome, note if outcome == "skipped" else "")
        for name, outcomes in rows
        for stage, outcome in zip(stages, outcomes, strict=True)
    )
    return DrillReport("dotenv + force-push", cells)


def test_the_report_says_the_earliest_stage_each_scanner_stops_the_key() -> None:
    report = _report(
        ("git-secrets", ("caught", "caught", "missed", "nothing")),
        ("hook", ("missed", "caught", "caught", "nothing")),
        ("nightly", ("missed", "missed", "caught", "nothing")),
        ("downloads", ("missed", "missed", "missed", "caught")),
        ("blind", ("missed", "missed", "missed", "nothing")),
        ("gitleaks", ("skipped", "skipped", "skipped", "skipped")),
        note="not installed",
    )
    assert report.verdicts == (
        "git-secrets would have refused the commit (pre-commit).",
        "hook would have refused the push (pre-receive).",
        "nightly would have found it in a scan of the public repository's history — after it "
        "went public (history).",
        "downloads would have found it in the release's download — after it went public (release).",
        "blind would have missed it at every stage.",
        "gitleaks was not run: not installed.",
    )
    assert report.summary == (
        "It would have been stopped before it went public, by git-secrets and hook."
    )
    late = _report(("nightly", ("missed", "missed", "caught", "nothing")))
    assert late.summary == "No scanner would have caught it before it went public."
    nobody = _report(("gitleaks", ("skipped",) * 4), note="not installed")
    assert nobody.summary == "No scanner could run, so the drill says nothing of this leak."
    assert [c.mark for c in report.rows[0].cells] == ["caught", "caught", "missed", "–"]


def test_score_json_adds_the_drill_and_keeps_the_score_contract() -> None:
    score = Score("s", "blue", 80.0, True, 70, [], [], Metrics())
    report = _report(("git-secrets", ("caught", "caught", "missed", "nothing")))
    plain, drilled = score_json(score, None), score_json(score, report)
    assert "drill" not in plain
    assert {k: v for k, v in drilled.items() if k != "drill"} == plain
    assert drilled["drill"]["scanners"][0]["stopped_at"] == "pre-commit"
    assert drilled["drill"]["stopped_before_public"] is True
    # the file the run keeps reads back to the same drill
    assert DrillReport.from_file_json(report.file_json()) == report


def test_a_runs_leak_is_drilled_into_the_run_directory(tmp_path: Path) -> None:
    text = with_drill(KUBERNETES, [GREP, "absent-scanner-of-ours {path}"])
    scenario = parse_scenario(text)
    report = drill_run(tmp_path, scenario, seed=0)
    assert load_drill(tmp_path) == report
    # grep for a plain key ID misses the base64 of a Kubernetes Secret at every stage
    assert report.verdicts == (
        "sh would have missed it at every stage.",
        "absent-scanner-of-ours was not run: 'absent-scanner-of-ours' is not on PATH.",
    )
    assert report.summary == "No scanner would have caught it before it went public."
    kept = tmp_path / "drill"
    assert (kept / "matrix.md").read_text().startswith("| scenario | leak | scanner |")
    evidence = [c.evidence for c in report.cells if c.evidence]
    assert evidence and all((tmp_path / e).is_file() for e in evidence)
    assert evidence[0] == f"drill/{scenario.id}/sh/pre-commit.txt"


@pytest.mark.slow
def test_a_run_with_a_drill_phase_reports_it(tmp_path: Path) -> None:
    git_secrets_or_skip()
    pytest.importorskip("detect_secrets")
    out = tmp_path / "run"
    result = gameday_here(
        "run", str(FORCE_PUSH), "--clock", "virtual", "--responder", "runbooks/reference.py",
        "--out", str(out), timeout=600,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]
    assert "drilling the leak with the scenario's scanners" in result.stdout
    markdown = (out / "report.md").read_text(encoding="utf-8")
    section = markdown.split("## Detection drill", 1)[1].split("\n## ", 1)[0]
    assert "**It would have been stopped before it went public, by git-secrets and " in section
    assert "- git-secrets would have refused the commit (pre-commit)." in section
    assert "| git-secrets | caught | caught | missed | – |" in section
    for absent in ("gitleaks", "trufflehog"):
        if shutil.which(absent) is None:
            assert f"- {absent} was not run: not installed." in section
    html = (out / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="drill">Detection drill</h2>' in html
    assert "git-secrets would have refused the commit (pre-commit)." in html
    score = json.loads((out / "score.json").read_text(encoding="utf-8"))
    assert {"scenario", "team", "score", "passed", "steps", "metrics"} <= score.keys()
    assert score["drill"]["scanners"][0]["stages"]["history"] == "missed"
    kept = out / "drill" / "force-pushed-key-still-served" / "git-secrets"
    assert (kept / "pre-commit.txt").is_file()
    # played after the run: the journal ends with the run, and holds nothing of the drill
    journal = (out / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    kinds = [json.loads(line)["kind"] for line in journal]
    assert kinds[-1] == "run.ended" and not any("drill" in kind for kind in kinds)
    # re-scored later, score.json keeps the drill
    assert gameday_here("score", str(out)).returncode in (0, 1)
    assert "drill" in json.loads((out / "score.json").read_text(encoding="utf-8"))


def test_the_library_drill_phases_are_the_force_push_and_the_kubernetes_secret() -> None:
    for path in (FORCE_PUSH, KUBERNETES):
        drill = load_scenario(path).drill
        assert drill is not None
        assert drill.scanners == ["git-secrets", "detect-secrets", "gitleaks", "trufflehog"]
