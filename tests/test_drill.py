"""The detection drill: each scanner at each stage of a leak, caught or missed, with evidence;
and the table docs/leak-vectors.md shows is the one a fresh drill of the library prints."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from gameday_cli import gameday

from gameday.drill import drill, notes_text
from gameday.drill.docs import PAGE, documented, library_matrix
from gameday.drill.scanners import GitSecrets
from gameday.paths import SCENARIOS
from gameday.scenario import load_scenario

# A team's own scanner: a non-zero exit means "found" (grep's own sense, inverted).
GREP = 'sh -c \'! grep -rqE "AKIA[A-Z2-7]{16}" "$0"\' {path}'


def test_the_drill_prints_the_matrix_and_keeps_the_evidence(tmp_path: Path) -> None:
    scenario = SCENARIOS / "force-pushed-key-still-served.yaml"
    out = tmp_path / "evidence"
    result = gameday("drill", str(scenario), "--only-mine", "--scanner", GREP, "--out", str(out))
    assert result.returncode == 0, result.stderr
    row = (
        "| `force-pushed-key-still-served` | dotenv + force-push | sh | caught | caught "
        "| **missed** | – |"
    )
    assert row in result.stdout.splitlines()
    # the push carried the key; a clone made afterwards holds no trace of it
    evidence = out / "force-pushed-key-still-served" / "sh"
    assert sorted(p.name for p in evidence.iterdir()) == [
        "history.txt", "pre-commit.txt", "pre-receive.txt",
    ]  # fmt: skip
    nobody = gameday("drill", str(scenario), "--only-mine", "--out", str(out))
    assert nobody.returncode == 2 and "no scanner to run" in nobody.stderr


def test_a_scanner_that_is_not_installed_is_skipped_with_a_note(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "kubernetes-secret-on-a-feature-branch.yaml")
    cells = drill([scenario], [_NotInstalled()], out=tmp_path)
    assert {(c.outcome, c.note) for c in cells} == {("skipped", "not installed")}
    assert notes_text(cells) == "- absent-scanner: not installed\n"


class _NotInstalled(GitSecrets):
    name = "absent-scanner"

    def available(self) -> str | None:
        return "not installed"


def git_secrets_or_skip() -> None:
    if shutil.which("git-secrets") is None:
        if os.environ.get("CI"):
            pytest.fail("git-secrets is missing: CI must install it (apt-get install git-secrets)")
        pytest.skip("git-secrets is not installed")


def test_git_secrets_at_each_stage_of_a_release_and_of_a_kubernetes_secret(
    tmp_path: Path,
) -> None:
    git_secrets_or_skip()
    scenarios = [
        load_scenario(SCENARIOS / "key-in-a-release-archive.yaml"),
        load_scenario(SCENARIOS / "kubernetes-secret-on-a-feature-branch.yaml"),
    ]
    cells = drill(scenarios, [GitSecrets()], out=tmp_path)
    outcomes = {(c.scenario, c.stage): c.outcome for c in cells}
    assert outcomes == {
        ("key-in-a-release-archive", "pre-commit"): "caught",
        ("key-in-a-release-archive", "pre-receive"): "caught",
        ("key-in-a-release-archive", "history"): "caught",
        ("key-in-a-release-archive", "release"): "caught",
        # base64 hides both halves of the key from git-secrets' patterns
        ("kubernetes-secret-on-a-feature-branch", "pre-commit"): "missed",
        ("kubernetes-secret-on-a-feature-branch", "pre-receive"): "missed",
        ("kubernetes-secret-on-a-feature-branch", "history"): "missed",
        ("kubernetes-secret-on-a-feature-branch", "release"): "skipped",
    }
    release = next(c for c in cells if c.stage == "release" and c.outcome == "caught")
    assert release.evidence is not None and "report-service-2.3.0" in release.evidence.read_text()


@pytest.mark.sweep
def test_the_documented_drill_is_what_the_drill_measures() -> None:
    git_secrets_or_skip()
    pytest.importorskip("detect_secrets")
    assert documented(PAGE.read_text(encoding="utf-8")) == library_matrix(), (
        "docs/leak-vectors.md's drill table is stale: python -m gameday.drill.docs"
    )
