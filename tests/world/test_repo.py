"""The leaky repository: every vector, the public URL, determinism, confinement, the code host,
and what real secret scanners make of each vector."""

from __future__ import annotations

import base64
import configparser
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import git
import pytest
import yaml
from needs import not_installed
from pydantic import ValidationError

from gameday.errors import UserError
from gameday.journal import FixedClock, Journal, read_journal
from gameday.scenario.model import LEAK_VECTORS, RELEASE_ASSET_VECTORS, Person, Scenario
from gameday.world.decoys import account_of, estate_credentials, leaked_key_ref
from gameday.world.repo import (
    DEFAULT_T0,
    LEAK_TEMPLATES,
    VECTORS,
    BuiltRepository,
    CodeHost,
    build_repository,
    leak_environment,
    run_git,
)

SCENARIO = """
id: leaky-repo
title: Leaky repository
summary: a key in a public repository
difficulty: introductory
duration: 1h
account:
  id: "491826357014"
  alias: northwind
  support_plan: enterprise
  contacts: {primary: {name: Dana, email: dana@northwind.example}}
  regions: [eu-west-1, us-east-1]
  estate:
    users:
      - name: deployer
        keys: [{id: deploy-key, age: 400d}]
      - name: billing-api
        keys: [{id: billing-prod, age: 300d}]
    buckets:
      - name: northwind-invoices
leak:
  user: deployer
  vector: shell-export
  author: {name: Jordan Alvarez, email: jordan.alvarez@northwind.example}
  repository: {owner: northwind-labs, name: storefront-tools}
  history:
    before: 15
    after: 2
    span: 30d
    authors:
      - {name: Jordan Alvarez, email: jordan.alvarez@northwind.example}
      - {name: Mei Okafor, email: mei.okafor@northwind.example}
      - {name: Sam Becker, email: sam.becker@northwind.example}
steps:
  - {id: s, title: S, phase: contain, check: {type: manual}, points: 5, target: 1m, deadline: 2m}
"""

SEED = 3


def make_scenario(**leak: Any) -> Scenario:
    data = yaml.safe_load(SCENARIO)
    data["leak"].update(leak)
    return Scenario.model_validate(data)


def git_out(path: Path, *args: str) -> str:
    return run_git(list(args), path).stdout.decode()


def push_later(built: BuiltRepository, journal: Journal | None = None) -> list[str | None]:
    """Push every later commit as a run does at its time, then pull them into the clone."""
    host = CodeHost(built.remote, journal, watch_key=built.credential.access_key_id)
    host.poll()
    pushed = [
        host.arrive(commit, built.t0 + timedelta(seconds=commit.at_s), built.branch)
        for commit in built.later
    ]
    run_git(["pull", "-q", "--ff-only"], built.repo)
    return pushed


def show(built: BuiltRepository, commit: str) -> str:
    blob = git.Repo(built.remote).commit(commit).tree / built.leak_path
    data: bytes = blob.data_stream.read()
    return data.decode()


# ── how each vector's file reads, parsed the way its own tools would ─────────────────────


def _assignments(text: str, pattern: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(pattern, text, re.MULTILINE)}


def parse_shell(text: str) -> dict[str, str]:
    return _assignments(text, r"^export (\w+)=(\S+)$")


def parse_credentials(text: str) -> dict[str, str]:
    config = configparser.ConfigParser()
    config.read_string(text)
    section = config["storefront-tools-deploy"]
    return {k.upper(): v for k, v in section.items()}


def parse_default_profile(text: str) -> dict[str, str]:
    """`~/.aws/credentials` with the one profile the CLI and SDKs read by default."""
    config = configparser.ConfigParser()
    config.read_string(text)
    return {k.upper(): v for k, v in config["default"].items()}


def parse_dotenv(text: str) -> dict[str, str]:
    return _assignments(text, r"^(\w+)=(.*)$")


def parse_boto3(text: str) -> dict[str, str]:
    compile(text, "aws_clients.py", "exec")
    found = _assignments(text, r'^\s+(aws_\w+)="([^"]+)",$')
    return {k.upper(): v for k, v in found.items()}


def parse_hcl(text: str) -> dict[str, str]:
    assert text.count("{") == text.count("}")
    found = _assignments(text, r'^\s*((?:aws_)?(?:access|secret)_key)\s*=\s*"([^"]+)"$')
    return {
        ("AWS_ACCESS_KEY_ID" if "access" in k else "AWS_SECRET_ACCESS_KEY"): v
        for k, v in found.items()
    }


def parse_notebook(text: str) -> dict[str, str]:
    notebook = json.loads(text)
    assert notebook["nbformat"] == 4
    code = "\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"
    )
    compile(code, "notebook", "exec")
    found = _assignments(code, r'^\s+(aws_\w+)="([^"]+)",$')
    return {k.upper(): v for k, v in found.items()}


def parse_workflow(text: str) -> dict[str, str]:
    document = yaml.safe_load(text)
    return {k: str(v) for k, v in document["jobs"]["deploy"]["env"].items()}


def parse_compose(text: str) -> dict[str, str]:
    document = yaml.safe_load(text)
    return {k: str(v) for k, v in document["services"]["api"]["environment"].items()}


def parse_kubernetes_secret(text: str) -> dict[str, str]:
    document = yaml.safe_load(text)
    assert (document["apiVersion"], document["kind"]) == ("v1", "Secret")
    return {k: base64.b64decode(v, validate=True).decode() for k, v in document["data"].items()}


def parse_helm_values(text: str) -> dict[str, str]:
    return {k: str(v) for k, v in yaml.safe_load(text)["env"].items()}


def parse_notebook_output(text: str) -> dict[str, str]:
    notebook = json.loads(text)
    code = "\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"
    )
    compile(code, "notebook", "exec")
    assert "aws_access_key_id" not in code  # the code cell holds no key, only its output
    printed = "".join(
        "".join(output.get("text", []))
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
    )
    found = _assignments(printed, r"(access_key|secret_key)='([^']+)'")
    names = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY"}
    return {names[k]: v for k, v in found.items()}


def parse_ci_log(text: str) -> dict[str, str]:
    lines = text.splitlines()
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z ", line) for line in lines)
    return _assignments(text, r"Z \+ export (\w+)=(\S+)$")


PARSERS: dict[str, Callable[[str], dict[str, str]]] = {
    "shell-export": parse_shell,
    "aws-credentials-file": parse_credentials,
    "dotenv": parse_dotenv,
    "python-boto3": parse_boto3,
    "terraform-provider": parse_hcl,
    "terraform-tfvars": parse_hcl,
    "jupyter-notebook": parse_notebook,
    "github-actions": parse_workflow,
    "docker-compose": parse_compose,
    "kubernetes-secret": parse_kubernetes_secret,
    "helm-values": parse_helm_values,
    "notebook-output": parse_notebook_output,
    "ci-log": parse_ci_log,
    # the file with the key inside the release asset (tests/world/test_release_assets.py)
    "package-artifact": parse_dotenv,
    "docker-image": parse_default_profile,
}
# vectors whose key is committed to the repository; the others leak it in a release asset
COMMITTED_VECTORS = tuple(v for v in LEAK_VECTORS if v not in RELEASE_ASSET_VECTORS)
# vectors that write the key encoded: a search for the plain key ID does not find it
ENCODED = {"kubernetes-secret"}


def written(vector: str, value: str) -> str:
    """`value` as the vector's file writes it."""
    return base64.b64encode(value.encode()).decode() if vector in ENCODED else value


@pytest.fixture(scope="module")
def repo_by_vector(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Scenario, BuiltRepository]]:
    built = {}
    for vector in COMMITTED_VECTORS:
        scenario = make_scenario(vector=vector, removed={"after_commits": 1})
        out = tmp_path_factory.mktemp(vector)
        built[vector] = (scenario, build_repository(scenario, out, seed=SEED))
        push_later(built[vector][1])
    return built


def test_every_vector_has_a_template_and_a_parser() -> None:
    assert set(VECTORS) == set(LEAK_VECTORS) == set(PARSERS)
    assert {p.stem for p in LEAK_TEMPLATES.glob("*.j2")} == set(LEAK_VECTORS)


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_the_leaked_file_holds_a_live_key_of_the_account(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]], vector: str
) -> None:
    scenario, built = repo_by_vector[vector]
    expected = estate_credentials(scenario, SEED)[leaked_key_ref(scenario)]
    assert built.credential == expected
    assert account_of(built.credential.access_key_id) == "491826357014"
    values = PARSERS[vector](show(built, built.leak_commit))
    assert values["AWS_ACCESS_KEY_ID"] == built.credential.access_key_id
    assert values["AWS_SECRET_ACCESS_KEY"] == built.credential.secret_access_key


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_the_public_history_holds_key_and_secret(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]], vector: str
) -> None:
    _, built = repo_by_vector[vector]
    history = git_out(built.remote, "log", "--all", "-p")
    assert written(vector, built.credential.access_key_id) in history
    assert written(vector, built.credential.secret_access_key) in history


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_the_public_url_names_a_real_commit_and_path(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]], vector: str
) -> None:
    _, built = repo_by_vector[vector]
    url = re.fullmatch(
        r"https://github\.com/northwind-labs/storefront-tools/blob/([0-9a-f]{40})/(.+)",
        built.public_url,
    )
    assert url is not None
    commit, path = url.groups()
    assert (commit, path) == (built.leak_commit, built.leak_path)
    assert path == VECTORS[vector].path.format(package="storefront_tools", slug="storage-usage")
    remote = git.Repo(built.remote)
    leak = remote.commit(commit)
    assert path in [p for p in leak.stats.files]
    assert leak.message.strip() == VECTORS[vector].message.format(topic="storage usage")
    assert (leak.author.name, leak.author.email) == (
        "Jordan Alvarez",
        "jordan.alvarez@northwind.example",
    )
    assert leak.authored_datetime == DEFAULT_T0 == built.t0
    assert leak.committed_datetime == DEFAULT_T0
    assert built.commits + len(built.later) == 15 + 1 + 2 == len(list(remote.iter_commits("main")))
    assert remote.head.commit.hexsha == git.Repo(built.repo).head.commit.hexsha


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_the_removal_keeps_the_key_in_history_but_not_at_head(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]], vector: str
) -> None:
    _, built = repo_by_vector[vector]
    [removal_at] = [c.at_s for c in built.later if c.removes_key]
    assert 0 < removal_at <= 20 * 60  # the author takes the key out within minutes
    removal = git.Repo(built.remote).commit(git_out(built.remote, "rev-parse", "main~1").strip())
    assert [p.hexsha for p in removal.parents] == [built.leak_commit]
    assert removal.message.strip() == "Remove credentials from config"
    head = (built.repo / built.leak_path).read_text()
    assert built.credential.access_key_id not in head
    assert built.credential.secret_access_key not in head
    clean = PARSERS[vector](head)
    assert built.credential.access_key_id not in clean.values()
    assert CodeHost(built.remote).key_in_history(built.credential.access_key_id)


def test_the_removed_workflow_reads_its_key_from_repository_secrets(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]],
) -> None:
    _, built = repo_by_vector["github-actions"]
    values = parse_workflow((built.repo / built.leak_path).read_text())
    assert values["AWS_ACCESS_KEY_ID"] == "${{ secrets.AWS_ACCESS_KEY_ID }}"


def test_the_deploy_script_is_executable_and_valid_bash(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]],
) -> None:
    _, built = repo_by_vector["shell-export"]
    tree = git.Repo(built.remote).commit(built.leak_commit).tree
    assert (tree / built.leak_path).mode == 0o100755
    script = built.repo / built.leak_path
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_the_same_seed_gives_the_same_hashes(tmp_path: Path) -> None:
    scenario = make_scenario(history={"before": 40, "after": 3}, removed={"after_commits": 2})

    def hashes(out: Path, seed: int, t0: datetime | None = None) -> list[str]:
        built = build_repository(scenario, out, seed=seed, t0=t0)
        return [*git_out(built.remote, "rev-list", "--all").split(), *map(str, push_later(built))]

    first = hashes(tmp_path / "a", 7)
    assert first == hashes(tmp_path / "b", 7)
    assert len(first) == 41 + 3
    assert set(first).isdisjoint(hashes(tmp_path / "c", 8))
    assert set(first).isdisjoint(hashes(tmp_path / "d", 7, DEFAULT_T0 + timedelta(days=1)))


def test_history_dates_and_authors_look_like_a_team(tmp_path: Path) -> None:
    span = 60 * 86400
    scenario = make_scenario(history={"before": 300, "after": 5, "span": span, "authors": []})
    built = build_repository(scenario, tmp_path / "out", seed=1)
    push_later(built)
    commits = list(git.Repo(built.remote).iter_commits("main", reverse=True))
    leak_index = next(i for i, c in enumerate(commits) if c.hexsha == built.leak_commit)
    assert leak_index == 300
    before, after = commits[:leak_index], commits[leak_index + 1 :]
    start = DEFAULT_T0 - timedelta(seconds=span)
    assert all(start <= c.authored_datetime < DEFAULT_T0 for c in before)
    assert all(c.authored_datetime > DEFAULT_T0 for c in after)
    moments = [c.authored_datetime for c in commits]
    assert moments == sorted(moments)
    weekdays = sum(m.weekday() < 5 for m in moments) / len(moments)
    working_hours = sum(9 <= m.hour < 18 for m in moments) / len(moments)
    assert weekdays > 0.85 and working_hours > 0.85, (weekdays, working_hours)
    emails = {c.author.email for c in commits}
    assert 3 <= len(emails) <= 5
    assert all(e.endswith("@northwind.example") for e in emails)
    assert "jordan.alvarez@northwind.example" in emails
    messages = {c.message for c in commits}
    assert len(messages) > 200  # not one message repeated


def test_scenario_authors_are_the_ones_who_commit(tmp_path: Path) -> None:
    built = build_repository(make_scenario(), tmp_path / "out")
    emails = {c.author.email for c in git.Repo(built.remote).iter_commits("main")}
    assert emails <= {
        "jordan.alvarez@northwind.example",
        "mei.okafor@northwind.example",
        "sam.becker@northwind.example",
    }


def test_a_leak_with_no_history_is_the_first_commit(tmp_path: Path) -> None:
    built = build_repository(make_scenario(history={"before": 0, "after": 0}), tmp_path / "o")
    assert built.commits == 1
    assert (built.repo / "README.md").exists()
    assert built.later == ()


def test_a_removal_later_than_the_history_extends_it(tmp_path: Path) -> None:
    scenario = make_scenario(history={"before": 2, "after": 0}, removed={"after_commits": 3})
    built = build_repository(scenario, tmp_path / "o")
    assert built.commits == 2 + 1
    assert [c.removes_key for c in built.later] == [False, False, True]
    *_, removal = push_later(built)
    assert removal == git_out(built.remote, "rev-parse", "main").strip()


def test_an_explicit_path_and_credential_are_used(tmp_path: Path) -> None:
    credential = estate_credentials(make_scenario(), 0)["billing-prod"]
    scenario = make_scenario(path="ops/bin/ship.sh", message="Ship it")
    built = build_repository(scenario, tmp_path / "o", credential=credential)
    assert built.leak_path == "ops/bin/ship.sh"
    assert built.public_url.endswith(f"/blob/{built.leak_commit}/ops/bin/ship.sh")
    assert parse_shell(show(built, built.leak_commit))["AWS_ACCESS_KEY_ID"] == (
        credential.access_key_id
    )
    assert git.Repo(built.remote).commit(built.leak_commit).message.strip() == "Ship it"


def test_unusual_characters_in_the_path_survive_and_are_quoted_in_the_url(tmp_path: Path) -> None:
    built = build_repository(make_scenario(path='ops/deploy "prod" été.sh'), tmp_path / "o")
    assert (built.repo / 'ops/deploy "prod" été.sh').is_file()
    assert built.public_url.endswith("/ops/deploy%20%22prod%22%20%C3%A9t%C3%A9.sh")


def test_a_leak_path_where_the_project_has_a_folder_replaces_it(tmp_path: Path) -> None:
    built = build_repository(make_scenario(path="storefront_tools"), tmp_path / "o")
    assert (built.repo / "storefront_tools").is_file()


def test_a_500_commit_history_builds_in_well_under_two_seconds(tmp_path: Path) -> None:
    scenario = make_scenario(history={"before": 499, "after": 0, "span": "120d"})
    start = time.perf_counter()
    built = build_repository(scenario, tmp_path / "o")
    elapsed = time.perf_counter() - start
    assert built.commits == 500
    # bench/bench_repo.py measures it properly; this only catches a gross regression.
    assert elapsed < 4.0, elapsed


@pytest.mark.parametrize(
    "path",
    [
        "/etc/cron.d/backdoor",
        "../outside.sh",
        "scripts/../../outside.sh",
        "./deploy.sh",
        "scripts//deploy.sh",
        "scripts/",
        ".git/hooks/post-checkout",
        "vendor/.GIT/config",
        "scripts/deploy.sh\nM 100644 inline ../x",
        "C:/deploy.sh",
        "~/.aws/credentials",
        "scripts\\deploy.sh",
    ],
)
def test_a_leak_path_that_escapes_is_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UserError, match=r"leak\.path"):
        build_repository(make_scenario(path=path), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_a_symlinked_clone_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "repo").symlink_to(elsewhere)
    with pytest.raises(UserError, match="symbolic link"):
        build_repository(make_scenario(), tmp_path / "out")
    assert list(elsewhere.iterdir()) == []


def test_an_existing_repository_is_not_overwritten(tmp_path: Path) -> None:
    build_repository(make_scenario(), tmp_path / "out")
    with pytest.raises(UserError, match="already exists"):
        build_repository(make_scenario(), tmp_path / "out")


BAD_IDENTITIES_AND_BRANCHES = [
    ({"author": {"name": "Eve <x@y.z>", "email": "eve@northwind.example"}}, "'<' or '>'"),
    ({"author": {"name": "Eve\nX", "email": "eve@northwind.example"}}, "line break"),
    ({"repository": {"owner": "o", "name": "r", "default_branch": "a..b"}}, "branch"),
    ({"repository": {"owner": "o", "name": "r", "default_branch": "-q"}}, "branch"),
    ({"repository": {"owner": "o", "name": "r", "default_branch": "main/../../x"}}, "branch"),
]


@pytest.mark.parametrize(("leak", "message"), BAD_IDENTITIES_AND_BRANCHES)
def test_bad_identities_and_branches_are_refused_by_the_format(
    leak: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_scenario(**leak)


@pytest.mark.parametrize(("leak", "message"), BAD_IDENTITIES_AND_BRANCHES)
def test_bad_identities_and_branches_are_refused_by_the_builder_too(
    tmp_path: Path, leak: dict[str, Any], message: str
) -> None:
    # a scenario built in code, without validation, still never reaches git
    scenario = make_scenario()
    unchecked = scenario.leak
    if "author" in leak:
        unchecked = unchecked.model_copy(
            update={"author": Person.model_construct(**leak["author"])}
        )
    else:
        repository = unchecked.repository.model_copy(update=leak["repository"])
        unchecked = unchecked.model_copy(update={"repository": repository})
    with pytest.raises(UserError, match=message):
        build_repository(scenario.model_copy(update={"leak": unchecked}), tmp_path / "out")


def test_the_repository_never_has_a_remote_outside_out(tmp_path: Path) -> None:
    out = tmp_path / "out"
    built = build_repository(make_scenario(), out)
    remotes = git_out(built.repo, "remote", "-v").split("\n")
    urls = {line.split()[1] for line in remotes if line}
    assert urls == {"../remote.git"}
    assert (built.repo / "../remote.git").resolve() == (out / "remote.git").resolve()
    assert git_out(built.remote, "remote") == ""
    # Relative to the work tree, so it holds from a subfolder and after the run folder moves.
    moved = tmp_path / "moved"
    out.rename(moved)
    run_git(["fetch", "-q", "origin"], moved / "repo" / "scripts")
    status = git_out(moved / "repo", "status", "--porcelain", "--branch")
    assert status.strip() == "## main...origin/main"


def test_the_clone_is_the_developers_own(tmp_path: Path) -> None:
    built = build_repository(make_scenario(), tmp_path / "out")
    assert git_out(built.repo, "config", "user.name").strip() == "Jordan Alvarez"
    assert git_out(built.repo, "config", "user.email").strip() == (
        "jordan.alvarez@northwind.example"
    )
    assert git_out(built.repo, "status", "--porcelain") == ""


def test_a_hostile_git_configuration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    hooks = home / "hooks"
    templates = home / "templates" / "hooks"
    for folder in (hooks, templates):
        folder.mkdir(parents=True)
        for name in ("pre-commit", "pre-push", "post-checkout", "pre-receive"):
            hook = folder / name
            hook.write_text("#!/bin/sh\necho hooked >&2\nexit 1\n")
            hook.chmod(0o755)
    config = home / ".gitconfig"
    config.write_text(
        f"[core]\n\thooksPath = {hooks}\n[init]\n\ttemplateDir = {templates.parent}\n"
        "[commit]\n\tgpgSign = true\n[user]\n\tname = Someone Else\n\temail = else@corp.example\n"
        '[remote "origin"]\n\turl = https://github.com/northwind-labs/storefront-tools.git\n'
    )
    reference = build_repository(make_scenario(), tmp_path / "clean", seed=2)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-repository"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Someone Else")
    built = build_repository(make_scenario(), tmp_path / "hostile", seed=2)
    monkeypatch.undo()
    assert built.leak_commit == reference.leak_commit
    assert not [p for p in (built.repo / ".git" / "hooks").iterdir() if p.suffix != ".sample"]
    assert not (tmp_path / "not-a-repository").exists()


def test_templates_render_in_a_strict_sandbox() -> None:
    from jinja2.exceptions import SecurityError, UndefinedError
    from jinja2.sandbox import SandboxedEnvironment

    environment = leak_environment()
    assert isinstance(environment, SandboxedEnvironment)
    with pytest.raises(UndefinedError):
        environment.get_template("shell-export.j2").render(removed=False)
    with pytest.raises(SecurityError):
        environment.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


# ── the code host ─────────────────────────────────────────────────────────────────────────


@pytest.fixture
def repo_hosted(tmp_path: Path) -> tuple[BuiltRepository, Journal]:
    built = build_repository(make_scenario(history={"before": 5, "after": 0}), tmp_path / "run")
    journal = Journal(tmp_path / "run" / "journal.jsonl", FixedClock(), durable=False)
    return built, journal


def commit_and_push(repo: Path, name: str, *push: str) -> None:
    (repo / name).write_text(f"{name}\n")
    run_git(["add", name], repo)
    run_git(["commit", "-q", "-m", f"Add {name}"], repo)
    run_git(["push", "-q", *push], repo)


def kinds(journal: Journal) -> list[str]:
    return [event["kind"] for event in read_journal(journal.path)]


def test_the_host_starts_public_and_goes_private(
    repo_hosted: tuple[BuiltRepository, Journal],
) -> None:
    built, journal = repo_hosted
    host = CodeHost(built.remote, journal)
    # A listener (a check) asking the host while its event is being journaled must not hang.
    seen: list[str] = []
    journal.subscribe(lambda event: seen.append(host.state()))
    assert host.state() == "public"
    host.make_private()
    host.make_private()  # already private: nothing more happens
    assert host.state() == "private"
    assert CodeHost(built.remote).state() == "private"  # another process sees it
    events = read_journal(journal.path)
    assert [e["kind"] for e in events] == ["repo.private"]
    assert events[0]["previous"] == "public" and events[0]["deferred"] is False
    assert seen == ["private"]
    state = json.loads((built.remote.parent / "code-host.json").read_text())
    assert state["state"] == "private"
    assert built.remote.is_dir()


def test_deleting_removes_the_evidence_for_good(
    repo_hosted: tuple[BuiltRepository, Journal],
) -> None:
    built, journal = repo_hosted
    host = CodeHost(built.remote, journal)
    host.delete()
    assert not built.remote.exists()
    assert host.state() == "deleted"
    assert not host.key_in_history(built.credential.access_key_id)
    assert host.poll() == []
    with pytest.raises(UserError, match="deleted"):
        host.make_private()
    host.delete()
    assert kinds(journal) == ["repo.deleted"]


def test_a_change_made_from_another_terminal_is_journaled_once_by_the_run(
    repo_hosted: tuple[BuiltRepository, Journal],
) -> None:
    built, journal = repo_hosted
    run = CodeHost(built.remote, journal)
    run.poll()
    CodeHost(built.remote).make_private()  # `gameday repo private`, no journal at hand
    assert kinds(journal) == []
    run.poll()
    run.poll()
    events = read_journal(journal.path)
    assert [e["kind"] for e in events] == ["repo.private"]
    assert events[0]["deferred"] is True
    assert events[0]["requested_at"].endswith("Z")


def test_pushes_are_noticed_and_forced_ones_flagged(
    repo_hosted: tuple[BuiltRepository, Journal],
) -> None:
    built, journal = repo_hosted
    key = built.credential.access_key_id
    host = CodeHost(built.remote, journal, watch_key=key)
    assert host.poll() == []  # the first poll takes the snapshot
    commit_and_push(built.repo, "NOTES.md")
    [push] = host.poll()
    assert (push.ref, push.forced, push.commits) == ("refs/heads/main", False, 1)
    assert host.poll() == []

    # Rewrite history to before the leak and force-push: the key is no longer reachable.
    run_git(["reset", "-q", "--hard", f"{built.leak_commit}~1"], built.repo)
    run_git(["push", "-q", "--force", "origin", "main"], built.repo)
    [forced] = host.poll()
    assert forced.forced and forced.commits == 0
    assert not host.key_in_history(key)
    # Like a real code host, the old commit can still be fetched by its id until collected.
    assert run_git(["cat-file", "-e", built.leak_commit], built.remote, check=False).returncode == 0

    commit_and_push(built.repo, "feature.txt", "origin", "HEAD:refs/heads/feature")
    run_git(["push", "-q", "origin", "--delete", "feature"], built.repo)
    commit_and_push(built.repo, "again.txt", "origin", "HEAD:refs/heads/again")
    [created] = host.poll()
    assert (created.ref, created.old, created.forced) == ("refs/heads/again", None, False)
    run_git(["push", "-q", "origin", "--delete", "again"], built.repo)
    [deleted] = host.poll()
    assert deleted.new is None and deleted.forced

    pushed = [e for e in read_journal(journal.path) if e["kind"] == "repo.pushed"]
    assert [e["forced"] for e in pushed] == [False, True, False, True]
    assert [e["key_in_history"] for e in pushed] == [True, False, False, False]
    assert set(pushed[0]) >= {"ref", "old", "new", "forced", "commits", "t", "time"}


def test_key_in_history_sees_every_ref_and_answers_from_cache(
    repo_hosted: tuple[BuiltRepository, Journal],
) -> None:
    built, _ = repo_hosted
    key = built.credential.access_key_id
    host = CodeHost(built.remote)
    assert host.key_in_history(key)
    assert not host.key_in_history("AKIAXFAZCUMLAAAAAAAA")
    # The key survives on another branch even when main is rewritten.
    run_git(["push", "-q", "origin", "main:refs/heads/old-main"], built.repo)
    run_git(["reset", "-q", "--hard", f"{built.leak_commit}~1"], built.repo)
    run_git(["push", "-q", "--force", "origin", "main"], built.repo)
    assert host.key_in_history(key)
    run_git(["push", "-q", "origin", "--delete", "old-main"], built.repo)
    assert not host.key_in_history(key)
    start = time.perf_counter()
    for _ in range(100):
        host.key_in_history(key)
    # Each call lists the refs (one git call); the search itself is cached.
    assert time.perf_counter() - start < 5


# ── what secret scanners make of each vector ──────────────────────────────────────────────

# git-secrets flags the key ID in every vector; its secret pattern wants the 40 characters
# right after `=`/`:` and an optional quote, which the notebook's JSON escape (\") breaks.
GIT_SECRETS_SECRET_FLAGGED = set(COMMITTED_VECTORS) - {"jupyter-notebook"}
GITLEAKS_KEY = re.compile(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b")


@pytest.fixture(scope="session")
def repo_git_secrets() -> str:
    found = shutil.which("git-secrets")
    if found is None:
        not_installed("git-secrets", "apt-get install git-secrets")
    return found


def scanner_environment(home: Path) -> dict[str, str]:
    # No ~/.aws/credentials of the machine (git-secrets reads it), no user git config.
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
    }


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_git_secrets_scan_history_flags_the_leak(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]],
    repo_git_secrets: str,
    tmp_path: Path,
    vector: str,
) -> None:
    _, built = repo_by_vector[vector]
    env = scanner_environment(tmp_path / "home")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(built.remote), str(clone)], env=env, check=True)
    subprocess.run(["git", "secrets", "--register-aws"], cwd=clone, env=env, check=True)
    scan = subprocess.run(
        ["git", "secrets", "--scan-history"], cwd=clone, env=env, capture_output=True, text=True
    )
    if vector in ENCODED:  # base64 hides both halves from its patterns
        assert scan.returncode == 0, scan.stdout + scan.stderr
        return
    assert scan.returncode == 1, scan.stdout + scan.stderr
    findings = [line for line in (scan.stdout + scan.stderr).splitlines() if line.count(":") >= 3]
    assert any(built.credential.access_key_id in line for line in findings)
    secret_flagged = any(built.credential.secret_access_key in line for line in findings)
    assert secret_flagged == (vector in GIT_SECRETS_SECRET_FLAGGED)
    assert any(line.startswith(built.leak_commit) for line in findings)


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_gitleaks_aws_rule_would_flag_the_key(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]], vector: str
) -> None:
    from gameday.world.decoys import MIN_KEY_ENTROPY, shannon_entropy

    _, built = repo_by_vector[vector]
    found = GITLEAKS_KEY.findall(show(built, built.leak_commit))
    if vector in ENCODED:
        assert found == []
        return
    assert set(found) == {built.credential.access_key_id}
    # The rule's entropy floor and its allow-list of keys ending in EXAMPLE.
    assert shannon_entropy(found[0]) >= MIN_KEY_ENTROPY
    assert not found[0].endswith("EXAMPLE")


# detect-secrets: which vectors' secrets its AWS plugin catches once it has parsed the file
# (YAML and INI values are re-quoted first), and which only its generic plugins catch.
DETECT_SECRETS_AWS_SECRET = {
    "aws-credentials-file", "python-boto3", "terraform-tfvars", "github-actions",
    "docker-compose", "helm-values",
}  # fmt: skip
DETECT_SECRETS_ANY_SECRET = DETECT_SECRETS_AWS_SECRET | {
    "terraform-provider", "jupyter-notebook", "notebook-output",
}  # fmt: skip
# the base64 of the secret, caught by the high-entropy and keyword plugins, not as AWS's
DETECT_SECRETS_ENCODED_SECRET = {"kubernetes-secret"}


@pytest.mark.parametrize("vector", COMMITTED_VECTORS)
def test_detect_secrets_findings(
    repo_by_vector: dict[str, tuple[Scenario, BuiltRepository]], vector: str, tmp_path: Path
) -> None:
    pytest.importorskip("detect_secrets")
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    _, built = repo_by_vector[vector]
    leaked = tmp_path / Path(built.leak_path).name
    leaked.write_text(show(built, built.leak_commit))
    # The default settings have no verification filter: nothing is sent to a real endpoint.
    with default_settings() as settings:
        assert not any("verification" in name for name in settings.filters)
        collection = SecretsCollection()
        collection.scan_file(str(leaked))
        found = [(s.type, s.secret_value or "") for s in collection[str(leaked)]]
    credential = built.credential
    if vector in ENCODED:
        encoded = written(vector, credential.secret_access_key)
        assert not [kind for kind, _ in found if kind == "AWS Access Key"]
        assert {kind for kind, value in found if value == encoded} == {
            "Base64 High Entropy String", "Secret Keyword",
        }  # fmt: skip
        return
    assert ("AWS Access Key", credential.access_key_id) in found
    aws_secret = ("AWS Access Key", credential.secret_access_key) in found
    any_secret = any(credential.secret_access_key in value for _, value in found)
    assert aws_secret == (vector in DETECT_SECRETS_AWS_SECRET)
    assert any_secret == (vector in DETECT_SECRETS_ANY_SECRET)
