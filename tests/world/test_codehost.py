"""The code host knows every place it serves the key from — refs, releases, forks and the
commits it keeps after a force-push — with the URL AWS would cite, and the owners' actions
on each are journaled."""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from gameday_cli import gameday, gameday_here

from gameday.errors import UserError
from gameday.journal import FixedClock, Journal, read_journal
from gameday.scenario.model import Scenario
from gameday.world.codehost import HostFiles, Place
from gameday.world.repo import BuiltRepository, CodeHost, build_repository, run_git

SCENARIO = """
id: host-places
title: Host places
summary: a key in a public repository
difficulty: introductory
duration: 1h
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
  vector: dotenv
  author: {name: Jordan Alvarez, email: jordan.alvarez@northwind.example}
  repository: {owner: northwind-labs, name: storefront-tools}
  history: {before: 6, after: 0}
steps:
  - {id: s, title: S, phase: contain, check: {type: manual}, points: 5, target: 1m, deadline: 2m}
"""
OWNER, NAME = "northwind-labs", "storefront-tools"
BASE = f"https://github.com/{OWNER}/{NAME}"


def tarball(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def spread(built: BuiltRepository) -> None:
    """The key's commit on a branch and a tag, in a release, in a fork; then main is
    rewritten without it and force-pushed."""
    repo, key = built.repo, built.credential.access_key_id
    run_git(["push", "-q", "origin", f"{built.leak_commit}:refs/heads/feature/env"], repo)
    run_git(["tag", "v0.3.0", built.leak_commit], repo)
    run_git(["push", "-q", "origin", "v0.3.0"], repo)
    files = HostFiles(built.remote)
    files.add_release("v0.3.0", {"storefront-0.3.0.tar.gz": tarball(".env", key.encode())})
    files.add_fork("mallory-dev", NAME)
    run_git(["reset", "-q", "--hard", f"{built.leak_commit}~1"], repo)
    (repo / "NOTES.md").write_text("notes\n")
    run_git(["add", "NOTES.md"], repo)
    run_git(["commit", "-q", "-m", "Notes"], repo)
    run_git(["push", "-q", "--force", "origin", "main"], repo)


@pytest.fixture
def hosted(tmp_path: Path) -> tuple[BuiltRepository, CodeHost, Journal]:
    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    built = build_repository(scenario, tmp_path / "run")
    journal = Journal(tmp_path / "run" / "journal.jsonl", FixedClock(), durable=False)
    host = CodeHost(built.remote, journal, watch_key=built.credential.access_key_id)
    host.poll()
    spread(built)
    host.poll()
    return built, host, journal


def by_kind(places: list[Place]) -> dict[tuple[str, str], Place]:
    return {(p.kind, p.name): p for p in places}


def test_every_place_the_key_is_served_from_has_its_url(
    hosted: tuple[BuiltRepository, CodeHost, Journal],
) -> None:
    built, host, _ = hosted
    places = by_kind(host.places(OWNER, NAME))
    leak = built.leak_commit
    assert set(places) == {
        ("branch", "main"), ("branch", "feature/env"), ("tag", "v0.3.0"),
        ("release", "v0.3.0"), ("fork", f"mallory-dev/{NAME}"),
    }  # fmt: skip
    assert {k: p.holds_key for k, p in places.items()} == {
        ("branch", "main"): False, ("branch", "feature/env"): True, ("tag", "v0.3.0"): True,
        ("release", "v0.3.0"): True, ("fork", f"mallory-dev/{NAME}"): True,
    }  # fmt: skip
    assert places[("branch", "feature/env")].url == f"{BASE}/tree/feature/env"
    assert places[("tag", "v0.3.0")].url == f"{BASE}/tree/v0.3.0"
    assert places[("release", "v0.3.0")].url == f"{BASE}/releases/tag/v0.3.0"
    assert places[("fork", f"mallory-dev/{NAME}")].url == f"https://github.com/mallory-dev/{NAME}"
    # a branch with a slash in its name, as the host reads it: the longest ref that fits
    on_branch = host.resolve(f"{BASE}/blob/feature/env/{built.leak_path}", OWNER, NAME)
    assert on_branch is not None and on_branch.commit == leak and on_branch.path == ".env"
    assert built.credential.access_key_id.encode() in on_branch.content
    tree = host.resolve(f"{BASE}/tree/feature/env", OWNER, NAME)
    assert tree is not None and tree.commit == leak and tree.reachable
    # After the rewrite, the leak commit is reachable only from the branch and the tag; once
    # they go, the host still keeps it, and says so.
    host.act("delete-branch", "feature/env")
    host.act("delete-tag", "v0.3.0")
    kept = by_kind(host.places(OWNER, NAME))[("kept-commit", leak)]
    assert kept.holds_key and kept.url == f"{BASE}/commit/{leak}"


def test_the_owners_actions_remove_each_place_and_are_journaled(
    hosted: tuple[BuiltRepository, CodeHost, Journal],
) -> None:
    built, host, journal = hosted
    key = built.credential.access_key_id
    served = host.resolve(built.public_url, OWNER, NAME)
    assert served is not None and key.encode() in served.content and served.reachable

    with pytest.raises(UserError, match="default branch"):
        host.act("delete-branch", "main")
    with pytest.raises(UserError, match="still reachable"):
        host.act("purge-commit", built.leak_commit)
    assert host.act("delete-branch", "feature/env") == "branch feature/env deleted"
    assert host.act("delete-tag", "v0.3.0") == "tag v0.3.0 deleted"
    assert host.act("delete-release", "v0.3.0") == "release v0.3.0 deleted with its assets"
    assert not host.key_in_history(key)
    # Gone from every ref, the commit is still served by its id: the notice's link works.
    served = host.resolve(built.public_url, OWNER, NAME)
    assert served is not None and key.encode() in served.content and not served.reachable
    assert "purged" in host.act("purge-commit", built.leak_commit[:10])
    assert host.resolve(built.public_url, OWNER, NAME) is None
    places = by_kind(host.places(OWNER, NAME))
    assert set(places) == {("branch", "main"), ("fork", f"mallory-dev/{NAME}")}

    # The fork is someone else's: private or not, the original's owners cannot take it down.
    host.act("private")
    fork = host.places(OWNER, NAME)[-1]
    assert fork.kind == "fork" and fork.public and fork.holds_key
    fork_url = f"https://github.com/mallory-dev/{NAME}/blob/{built.leak_commit}/{built.leak_path}"
    served = host.resolve(fork_url, OWNER, NAME)
    assert served is not None and key.encode() in served.content
    assert host.resolve(f"{BASE}/tree/main", OWNER, NAME) is None  # private: a 404

    events = [e for e in read_journal(journal.path) if e["kind"] != "repo.pushed"]
    assert [(e["kind"], e.get("name") or e.get("tag") or e.get("commit")) for e in events] == [
        ("repo.branch-deleted", "feature/env"),
        ("repo.tag-deleted", "v0.3.0"),
        ("repo.release-deleted", "v0.3.0"),
        ("repo.commit-purged", built.leak_commit[:10]),
        ("repo.private", None),
    ]
    assert all(e["actor"] == "responder" for e in events)
    pushes = [e for e in read_journal(journal.path) if e["kind"] == "repo.pushed"]
    # the branch and the tag going away are journaled as pushes, with the key's reach after
    deleted = [e for e in pushes if e["new"] is None]
    assert [e["ref"] for e in deleted] == ["refs/heads/feature/env", "refs/tags/v0.3.0"]
    assert [e["key_in_history"] for e in deleted] == [True, False]


def test_an_action_from_another_terminal_is_journaled_by_the_runs_next_poll(
    hosted: tuple[BuiltRepository, CodeHost, Journal],
) -> None:
    built, host, journal = hosted
    CodeHost(built.remote).act("delete-release", "v0.3.0")
    assert not [e for e in read_journal(journal.path) if e["kind"] == "repo.release-deleted"]
    host.poll()
    [event] = [e for e in read_journal(journal.path) if e["kind"] == "repo.release-deleted"]
    assert event["deferred"] is True and event["tag"] == "v0.3.0"
    with pytest.raises(UserError, match="no release"):
        host.act("delete-release", "v0.3.0")
    with pytest.raises(UserError, match="did you mean"):
        host.act("delete-brnach", "x")


def test_gameday_repo_acts_on_a_run_directory(tmp_path: Path) -> None:
    scenario_path = tmp_path / "scenario.yaml"
    scenario_path.write_text(SCENARIO)
    run = tmp_path / "run"
    built_out = gameday("build-repo", str(scenario_path), "--out", str(run), cwd=tmp_path)
    assert built_out.returncode == 0, built_out.stderr
    shutil.copy(scenario_path, run / "scenario.yaml")
    leak = built_out.stdout.split("leak commit: ", 1)[1].split()[0]
    run_git(["push", "-q", "origin", f"{leak}:refs/heads/feature/env"], run / "repo")

    places = gameday_here("repo", "places", str(run), cwd=tmp_path)
    assert places.returncode == 0, places.stderr
    assert f"branch       ?    yes     {BASE}/tree/feature/env" in places.stdout
    deleted = gameday_here("repo", "delete-branch", "feature/env", str(run), cwd=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert "branch feature/env deleted" in deleted.stdout
    again = gameday_here("repo", "delete-branch", "feature/env", str(run), cwd=tmp_path)
    assert again.returncode == 2 and "no branch 'feature/env'" in again.stderr
    missing = gameday_here("repo", "delete-tag", cwd=tmp_path)
    assert missing.returncode == 2 and "needs what it acts on" in missing.stderr
    private = gameday_here("repo", "private", str(run), cwd=tmp_path)
    assert private.returncode == 0 and "made private" in private.stdout
