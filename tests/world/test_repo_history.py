"""The repository as a responder lives it: what is public at T0, what arrives later and when,
and whether the leaking file and the commits around it belong to their project."""

from __future__ import annotations

import base64
import configparser
import json
import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from gameday_cli import gameday

from gameday.exercise.clock import VirtualClock
from gameday.exercise.run import _schedule_developers
from gameday.exercise.timeline import Timeline
from gameday.journal import Journal, read_journal
from gameday.scenario.durations import format_duration
from gameday.scenario.model import LEAK_VECTORS, RELEASE_ASSET_VECTORS, Scenario
from gameday.world.repo import (
    DEFAULT_T0,
    BuiltRepository,
    CodeHost,
    build_repository,
    later_commits,
    run_git,
)

SCENARIO = """
id: history-check
title: History check
summary: a key in a public repository
difficulty: introductory
duration: 2h
account:
  id: "491826357014"
  alias: northwind
  support_plan: enterprise
  contacts: {primary: {name: Dana, email: dana@northwind.example}}
  regions: [eu-west-1]
  estate:
    users:
      - name: deployer
        keys: [{id: deploy-key, age: 400d}]
leak:
  user: deployer
  vector: shell-export
  author: {name: Jordan Alvarez, email: jordan.alvarez@northwind.example}
  repository: {owner: northwind-labs, name: storefront-tools}
  history: {before: 30, after: 4, span: 30d}
  removed: {after_commits: 1}
steps:
  - {id: s, title: S, phase: contain, check: {type: manual}, points: 5, target: 1m, deadline: 2m}
"""


def make_scenario(**leak: Any) -> Scenario:
    data = yaml.safe_load(SCENARIO)
    data["leak"].update(leak)
    return Scenario.model_validate(data)


def commit_dates(repository: Path) -> list[tuple[str, datetime, datetime]]:
    """(id, author date, committer date) of every commit object stored, reachable or not."""
    listing = run_git(
        ["cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)"],
        repository,
    ).stdout.decode()
    found = []
    for line in listing.splitlines():
        sha, kind = line.split()
        if kind != "commit":
            continue
        shown = run_git(["show", "-s", "--format=%aI %cI", sha], repository).stdout.decode()
        authored, committed = shown.split()
        found.append((sha, datetime.fromisoformat(authored), datetime.fromisoformat(committed)))
    return found


def test_the_public_history_ends_at_the_leaking_push(tmp_path: Path) -> None:
    built = build_repository(make_scenario(), tmp_path, seed=4)
    for repository in (built.remote, built.repo):
        stored = commit_dates(repository)
        assert len(stored) == built.commits == 31
        assert all(a <= DEFAULT_T0 and c <= DEFAULT_T0 for _, a, c in stored), stored
    tip = run_git(["rev-parse", "main"], built.remote).stdout.decode().strip()
    assert tip == built.leak_commit
    # The later commits are planned, not written: they come during the run.
    assert [c.number for c in built.later] == [1, 2, 3, 4]
    assert [c.removes_key for c in built.later] == [True, False, False, False]
    moments = [c.at_s for c in built.later]
    assert moments == sorted(moments) and moments[0] > 0


def play_developers(built: BuiltRepository, scenario: Scenario, journal_path: Path) -> CodeHost:
    clock = VirtualClock(built.t0)
    journal = Journal(journal_path, clock, durable=False)
    host = CodeHost(built.remote, journal, watch_key=built.credential.access_key_id)
    host.poll()
    timeline = Timeline(clock, journal, end=scenario.duration)
    _schedule_developers(timeline, clock, host, scenario, built, 4, built.t0, built.credential)
    clock.start()
    timeline.run()
    clock.close()
    return host


def test_later_commits_arrive_during_the_run_on_the_run_clock(tmp_path: Path) -> None:
    scenario = make_scenario(history={"before": 10, "after": 40, "span": "10d"})
    built = build_repository(scenario, tmp_path / "run", seed=4)
    in_run = [c for c in built.later if c.at_s <= scenario.duration]
    assert 1 <= len(in_run) < len(built.later)  # the rest would come after the game day

    # The team pushes a commit of its own before the developers do.
    (built.repo / "NOTES.md").write_text("incident notes\n")
    run_git(["add", "NOTES.md"], built.repo)
    run_git(["commit", "-q", "-m", "Incident notes"], built.repo)
    journal_path = tmp_path / "run" / "journal.jsonl"
    host = CodeHost(built.remote)
    host.poll()
    run_git(["push", "-q", "origin", "main"], built.repo)

    play_developers(built, scenario, journal_path)
    pushed = [e for e in read_journal(journal_path) if e["kind"] == "repo.pushed"]
    assert [e["actor"] for e in pushed] == ["responder"] + ["developer"] * len(in_run)
    developers = pushed[1:]
    assert [e["t"] for e in developers] == [c.at_s for c in in_run]
    assert [e["message"] for e in developers] == [c.message for c in in_run]
    assert all(e["key_in_history"] for e in developers)
    # Each commit is dated when it arrived on the run clock, and sits on the team's commit.
    log = run_git(["log", "--format=%H %P %cI %s", "main"], built.remote).stdout.decode()
    lines = log.splitlines()[: len(in_run) + 1]
    for line, commit, event in zip(lines, reversed(in_run), reversed(developers), strict=False):
        sha, parent, committed, subject = line.split(" ", 3)
        assert (sha, parent) == (event["new"], event["old"])
        assert datetime.fromisoformat(committed) == built.t0 + timedelta(seconds=commit.at_s)
        assert subject == commit.message
    assert lines[len(in_run)].endswith("Incident notes")
    # The clone learns of them as a clone does: by pulling.
    assert "Incident notes" in run_git(["log", "-1", "--format=%s"], built.repo).stdout.decode()
    run_git(["pull", "-q", "--ff-only"], built.repo)
    head = (built.repo / built.leak_path).read_text()
    assert built.credential.access_key_id not in head


def test_nothing_arrives_at_a_deleted_repository_and_a_removal_needs_the_key(
    tmp_path: Path,
) -> None:
    scenario = make_scenario(history={"before": 5, "after": 2})
    built = build_repository(scenario, tmp_path / "run", seed=4)
    removal, other = built.later[0], built.later[1]
    # The team already took the key out: the author's removal commit has nothing to do.
    clean = (
        (built.repo / built.leak_path)
        .read_text()
        .replace(built.credential.access_key_id, "REMOVED")
    )
    (built.repo / built.leak_path).write_text(clean)
    run_git(["commit", "-q", "-am", "Remove the key"], built.repo)
    run_git(["push", "-q", "origin", "main"], built.repo)
    host = CodeHost(built.remote, watch_key=built.credential.access_key_id)
    assert host.arrive(removal, built.t0 + timedelta(minutes=5), "main") is None
    assert host.arrive(other, built.t0 + timedelta(minutes=50), "main") is not None
    assert host.arrive(other, built.t0 + timedelta(minutes=50), "main") is None  # only once
    host.delete()
    assert host.arrive(built.later[1], built.t0 + timedelta(hours=1), "main") is None


def test_later_commits_are_the_same_for_a_seed() -> None:
    scenario = make_scenario()
    assert later_commits(scenario, seed=4) == later_commits(scenario, seed=4)
    assert later_commits(scenario, seed=4) != later_commits(scenario, seed=5)


# ── the leaking file and the commits around it belong to their project ───────────────────


def workflow_steps(text: str) -> tuple[dict[str, Any], str]:
    document = yaml.safe_load(text)
    [job] = document["jobs"].values()
    runs = "\n".join(str(step.get("run", "")) for step in job["steps"])
    return document, runs


def test_a_workflow_does_what_its_file_is_named_for(tmp_path: Path) -> None:
    runs = {}
    for stem in ("publish-image", "deploy", "integration-tests", "release-package"):
        scenario = make_scenario(
            vector="github-actions", path=f".github/workflows/{stem}.yml", removed=None
        )
        built = build_repository(scenario, tmp_path / stem, seed=4)
        document, runs[stem] = workflow_steps((built.repo / built.leak_path).read_text())
        assert document["name"] == stem
        [job] = document["jobs"].values()
        assert job["env"]["AWS_ACCESS_KEY_ID"] == built.credential.access_key_id
    image = runs["publish-image"]
    assert "aws ecr get-login-password | docker login" in image
    assert 'docker build --pull -t "$REGISTRY/$IMAGE:' in image
    assert 'docker push "$REGISTRY/$IMAGE:' in image
    assert "s3" not in image
    assert "aws s3 sync dist/" in runs["deploy"] and "docker" not in runs["deploy"]
    assert "pytest" in runs["integration-tests"] and "s3 sync" not in runs["integration-tests"]
    assert "packages/" in runs["release-package"] and "docker" not in runs["release-package"]


def test_the_image_workflow_pushes_to_the_accounts_registry(tmp_path: Path) -> None:
    scenario = make_scenario(vector="github-actions", path=".github/workflows/publish-image.yml")
    built = build_repository(scenario, tmp_path, seed=4)
    document, _ = workflow_steps((built.repo / built.leak_path).read_text())
    [job] = document["jobs"].values()
    assert job["env"]["REGISTRY"] == "491826357014.dkr.ecr.eu-west-1.amazonaws.com"
    assert job["env"]["IMAGE"] == "storefront-tools"
    assert "v*" in document[True]["push"]["tags"]  # YAML 1.1 reads `on:` as true


GENOMICS = {
    "sample", "variant", "alignment", "genome", "cohort", "contig", "assay", "gene", "probe",
    "readgroup", "flowcell", "haplotype", "annotation", "library",
}  # fmt: skip
COMMERCE = {"invoice", "order", "coupon", "payment", "refund", "receipt", "shipment", "customer"}


def test_a_genomics_notebook_repository_talks_about_genomics(tmp_path: Path) -> None:
    scenario = make_scenario(
        vector="jupyter-notebook",
        removed=None,
        repository={
            "owner": "helix-lab",
            "name": "cohort-notebooks",
            "description": "Notebooks for variant calling across our sequencing cohorts",
        },
        history={"before": 80, "after": 0, "span": "60d"},
    )
    built = build_repository(scenario, tmp_path, seed=4)
    assert built.leak_path == "notebooks/variant-calls-per-cohort.ipynb"
    log = run_git(["log", "--format=%s", "main"], built.remote).stdout.decode()
    words = set(re.findall(r"[a-z]+", log.replace("_", " ").lower()))
    assert words & GENOMICS, log
    assert not words & COMMERCE, words & COMMERCE
    assert "Add variant calls per cohort exploration notebook" in log
    notebook = json.loads((built.repo / built.leak_path).read_text())
    assert notebook["cells"][0]["source"][0].startswith("# Variant calls per cohort in ")
    sources = run_git(["ls-files", "analysis"], built.repo).stdout.decode()
    assert all(
        any(noun in name for noun in GENOMICS) or name.endswith("__init__.py")
        for name in sources.split()
    ), sources


def tidiness_problems(text: str, blank_lines: int = 1) -> list[str]:
    """What a reviewer would flag in a file someone cleaned by hand (Python separates
    top-level definitions by two blank lines, other files by one at most)."""
    problems = []
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append("does not end with exactly one newline")
    if text.startswith("\n"):
        problems.append("starts with a blank line")
    if "\n" * (blank_lines + 2) in text:
        problems.append(f"has more than {blank_lines} blank lines in a row")
    problems += [f"trailing space: {line!r}" for line in text.splitlines() if line != line.rstrip()]
    return problems


def hcl_alignment_problems(text: str) -> list[str]:
    """`terraform fmt` aligns the `=` of consecutive attributes at the same indent."""
    problems, run = [], []
    for line in [*text.splitlines(), ""]:
        match = re.match(r"^(\s*)(\w+)(\s*)= ", line)
        if match and (not run or run[0][0] == match.group(1)):
            run.append((match.group(1), len(match.group(1) + match.group(2) + match.group(3))))
            continue
        if len({column for _, column in run}) > 1:
            problems.append(f"misaligned `=` before {line!r}")
        run = [(match.group(1), len(match.group(0)) - 2)] if match else []
    return problems


def empty_yaml_values(node: Any, where: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in empty_yaml_values(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in empty_yaml_values(v, f"{where}[{i}]")]
    return [f"{where} is empty"] if node is None else []


@pytest.mark.parametrize("vector", [v for v in LEAK_VECTORS if v not in RELEASE_ASSET_VECTORS])
def test_removing_the_key_leaves_the_file_tidy(tmp_path: Path, vector: str) -> None:
    scenario = make_scenario(vector=vector, history={"before": 3, "after": 0})
    built = build_repository(scenario, tmp_path, seed=4)
    leaked = (built.repo / built.leak_path).read_text()
    host = CodeHost(built.remote, watch_key=built.credential.access_key_id)
    [removal] = built.later
    assert host.arrive(removal, built.t0 + timedelta(seconds=removal.at_s), built.branch)
    run_git(["pull", "-q", "--ff-only"], built.repo)
    clean = (built.repo / built.leak_path).read_text()
    for value in (built.credential.access_key_id, built.credential.secret_access_key):
        assert value not in clean
        assert base64.b64encode(value.encode()).decode() not in clean
    name = built.leak_path
    blank_lines = 2 if name.endswith(".py") else 1
    assert tidiness_problems(leaked, blank_lines) == []
    assert tidiness_problems(clean, blank_lines) == []
    if name.endswith((".yml", ".yaml")):
        # no block left empty where the key was (`env:` with nothing under it)
        before = empty_yaml_values(yaml.safe_load(leaked))
        assert empty_yaml_values(yaml.safe_load(clean)) == before
    elif name.endswith((".tf", ".tfvars")):
        assert hcl_alignment_problems(clean) == []
        assert clean.count("{") == clean.count("}")
    elif name.endswith(".ipynb"):
        notebook = json.loads(clean)
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                compile("".join(cell["source"]), name, "exec")
    elif name.endswith(".py"):
        compile(clean, name, "exec")
    elif name.endswith(".sh"):
        subprocess.run(["bash", "-n", str(built.repo / name)], check=True)
    elif name.endswith("credentials"):
        parser = configparser.ConfigParser()
        parser.read_string(clean)
        assert all(parser[section] for section in parser.sections())
    # Only the lines around the key changed (a call rewrapped); the rest is as it was.
    kept = [line for line in leaked.splitlines() if built.credential.access_key_id not in line]
    kept = [line for line in kept if built.credential.secret_access_key not in line]
    rewritten = 12 if vector == "notebook-output" else 4  # a cell's whole output goes
    assert sum(line in clean.splitlines() for line in kept) >= len(kept) - rewritten


def test_build_repo_tells_what_comes_later(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    shown = gameday("build-repo", str(scenario), "--out", str(tmp_path / "out"), "--seed", "4")
    assert shown.returncode == 0, shown.stderr
    first = later_commits(make_scenario(), seed=4)[0].at_s
    expected = (
        "later:       4 commit(s) the developers push during a run, "
        f"the first at T+{format_duration(first)}\n"
    )
    assert expected in shown.stdout
    assert "commits:     31\n" in shown.stdout
