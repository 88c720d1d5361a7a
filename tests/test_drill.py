"""The detection drill: each scanner at each stage of a leak, caught or missed, with evidence;
and the table docs/leak-vectors.md shows is the one a fresh drill of the library prints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from gameday_cli import gameday, gameday_here
from needs import not_installed

from gameday.drill import Findings, Reported, drill, notes_text, reported_in_lines
from gameday.drill.docs import (
    PAGE,
    documented,
    documented_vectors,
    library_matrix,
    table_cells,
    vector_scenarios,
    vector_stage,
    vector_table,
)
from gameday.drill.scanners import DetectSecrets, GitSecrets
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


def test_a_scenario_with_a_drill_phase_is_drilled_with_its_own_scanners(tmp_path: Path) -> None:
    # without --scanner, the scenario's `drill:` section says which scanners, as in its run
    text = (SCENARIOS / "force-pushed-key-still-served.yaml").read_text(encoding="utf-8")
    head, _, _ = text.partition("\ndrill:")
    scenario = tmp_path / "force-pushed-key-still-served.yaml"
    scenario.write_text(f"{head}\ndrill:\n  scanners: [{json.dumps(GREP)}]\n", encoding="utf-8")
    result = gameday_here("drill", str(scenario), "--out", str(tmp_path / "evidence"))
    assert result.returncode == 0, result.stderr
    scanners = {line.split(" | ")[2] for line in result.stdout.splitlines() if "| dotenv" in line}
    assert scanners == {"sh"}


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
        not_installed("git-secrets", "apt-get install git-secrets")


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


KEY = "AKIAXFAZCUMLA5Z6R435"
SECRET = "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"
# git-secrets' key-ID and secret patterns, as `--register-aws` configures them
GIT_SECRETS_PATTERNS = (
    "(A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}",
    """("|')?(AWS|aws|Aws)?_?(SECRET|secret|Secret)?_?(ACCESS|access|Access)?_?(KEY|key|Key)"""
    """("|')?\\s*(:|=>|=)\\s*("|')?[A-Za-z0-9/\\+=]{40}("|')?""",
)


def test_a_printed_line_counts_for_a_half_only_where_a_pattern_matches_over_it() -> None:
    # a notebook's saved output: both halves on one line, each matched by its own pattern
    printed = f"nb.ipynb:22: ReadOnlyCredentials(access_key='{KEY}', secret_key='{SECRET}')"
    assert reported_in_lines([printed], KEY, GIT_SECRETS_PATTERNS) == Reported("plain")
    assert reported_in_lines([printed], SECRET, GIT_SECRETS_PATTERNS) == Reported("plain")
    # the secret beside a flagged key ID, but written where no secret pattern reaches it
    beside = f'nb.ipynb:22: "aws_access_key_id=\\"{KEY}\\", secret=\\"{SECRET}\\""'
    assert reported_in_lines([beside], KEY, GIT_SECRETS_PATTERNS).reported
    assert not reported_in_lines([beside], SECRET, GIT_SECRETS_PATTERNS).reported


def test_detect_secrets_findings_say_which_plugins_reported_which_half() -> None:
    encoded = "OElVY0pLUE5rZjA3WFp3Yk4zeXloaUoxS1RBbktYUjN2aC9tTE1kRg=="
    output = (
        f'[{{"file": "a", "type": "AWS Access Key", "line": 1, "value": "{KEY}"}},'
        f' {{"file": "a", "type": "Base64 High Entropy String", "line": 2,'
        f' "value": "{SECRET}\\\\"}},'
        f' {{"file": "b", "type": "Secret Keyword", "line": 3, "value": "{encoded}"}}]'
    )
    found = Findings(True, output)
    scanner = DetectSecrets()
    assert scanner.reported(found, KEY) == Reported("plain", ("AWS Access Key",))
    # the plain secret comes first; JSON's escape character is kept as what was attached
    assert scanner.reported(found, SECRET) == Reported(
        "plain", ("Base64 High Entropy String",), "\\"
    )
    only_encoded = Findings(True, output.replace(f"{SECRET}\\\\", "elsewhere"))
    assert scanner.reported(only_encoded, SECRET) == Reported("base64", ("Secret Keyword",))


def test_each_vector_is_drilled_from_one_plain_scenario_at_its_stage() -> None:
    scenarios = vector_scenarios()
    vectors = [s.leak.vector for s in scenarios]
    assert len(vectors) == len(set(vectors)) == 15
    assert all(s.id == s.leak.vector for s in scenarios)
    assert all(s.leak.trick is None and s.leak.removed is None for s in scenarios)
    assert {v for v in vectors if vector_stage(v) == "release"} == {
        "package-artifact", "docker-image",
    }  # fmt: skip


def test_git_secrets_reports_each_half_of_a_notebook_key_apart(tmp_path: Path) -> None:
    git_secrets_or_skip()
    chosen = [s for s in vector_scenarios() if s.leak.vector in ("jupyter-notebook", "ci-log")]
    cells = drill(chosen, [GitSecrets()], out=tmp_path, stages=("pre-commit",))
    halves = {c.scenario: (c.key.form, c.secret.form) for c in cells}
    # JSON's `\"` before the secret keeps git-secrets' secret pattern off it; the key ID on the
    # line above is flagged
    assert halves == {"jupyter-notebook": ("plain", None), "ci-log": ("plain", "plain")}


@pytest.mark.sweep
def test_the_documented_drill_is_what_the_drill_measures() -> None:
    git_secrets_or_skip()
    pytest.importorskip("detect_secrets")
    assert documented(PAGE.read_text(encoding="utf-8")) == library_matrix(), (
        "docs/leak-vectors.md's drill table is stale: python -m gameday.drill.docs"
    )


@pytest.mark.sweep
def test_the_documented_scanner_table_per_vector_is_what_the_drill_measures() -> None:
    git_secrets_or_skip()
    pytest.importorskip("detect_secrets")
    page = table_cells(documented_vectors(PAGE.read_text(encoding="utf-8")))
    fresh = table_cells(vector_table())
    differ = [
        f"{row} / {column}: documented {page.get((row, column))!r}, drilled {value!r}"
        for (row, column), value in fresh.items()
        if page.get((row, column)) != value
    ]
    assert not differ and page.keys() == fresh.keys(), (
        "docs/leak-vectors.md's per-vector table is stale (python -m gameday.drill.docs):\n"
        + "\n".join(differ)
    )
