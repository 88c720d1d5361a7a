"""History tricks (`leak.trick`): where in a repository's history the key hides, and what the
code host still serves after the team — or the author — tried to hide it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.paths import SCENARIOS
from gameday.scenario.library import load_library
from gameday.scenario.model import TRICKS, Scenario
from gameday.world.codehost import HostFiles
from gameday.world.decoys import account_of
from gameday.world.repo import (
    DEFAULT_T0,
    BuiltRepository,
    CodeHost,
    build_repository,
    run_git,
)

SCENARIO = """
id: trick-check
title: Trick check
summary: a key hidden in history
difficulty: introductory
duration: 1h
account:
  id: "602173849315"
  alias: tidewater
  support_plan: business
  contacts: {primary: {name: Ines, email: ines@tidewater.example}}
  regions: [eu-central-1]
  estate:
    users:
      - name: ci-runner
        keys: [{id: ci-key, age: 200d}]
leak:
  user: ci-runner
  vector: github-actions
  author: {name: Ola Nordmann, email: ola@tidewater.example}
  repository: {owner: tidewater-dev, name: harbour-api}
  history: {before: 12, after: 0}
steps:
  - {id: s, title: S, phase: contain, check: {type: manual}, points: 5, target: 1m, deadline: 2m}
"""
OWNER, NAME = "tidewater-dev", "harbour-api"


def make(trick: dict[str, Any]) -> Scenario:
    data = yaml.safe_load(SCENARIO)
    data["leak"]["trick"] = trick
    return Scenario.model_validate(data)


def build(tmp_path: Path, trick: dict[str, Any], seed: int = 2, copy: str = "") -> BuiltRepository:
    out = tmp_path / f"{trick['type']}-{seed}{copy}"
    return build_repository(make(trick), out, seed=seed)


def host(built: BuiltRepository) -> CodeHost:
    return CodeHost(built.remote, watch_key=built.credential.access_key_id)


def places(built: BuiltRepository) -> dict[tuple[str, str], bool]:
    return {(p.kind, p.name): p.holds_key for p in host(built).places(OWNER, NAME)}


def all_history(repository: Path) -> bytes:
    return run_git(["log", "--all", "-p", "--format=%H%n%B"], repository).stdout


@pytest.mark.parametrize("trick", TRICKS)
def test_every_trick_builds_the_same_for_a_seed_and_leaks_a_key_of_the_account(
    tmp_path: Path, trick: str
) -> None:
    first = build(tmp_path, {"type": trick})
    again = build(tmp_path, {"type": trick}, copy="-again")
    other = build(tmp_path, {"type": trick}, seed=3)

    def everything(built: BuiltRepository) -> str:
        refs = run_git(["for-each-ref", "--format=%(objectname) %(refname)"], built.remote)
        return refs.stdout.decode() + built.leak_commit

    assert everything(first) == everything(again) != everything(other)
    assert account_of(first.credential.access_key_id) == "602173849315"
    served = host(first).resolve(first.public_url, OWNER, NAME)
    assert served is not None and first.credential.access_key_id.encode() in served.content
    assert any(places(first).values())
    # nothing public is dated after the push
    dates = run_git(["log", "--all", "--format=%ct %at"], first.remote).stdout.decode().split()
    assert max(map(int, dates)) <= DEFAULT_T0.timestamp()


def test_an_unmerged_feature_branch(tmp_path: Path) -> None:
    built = build(tmp_path, {"type": "feature-branch", "name": "ci/try-oidc"})
    assert places(built) == {("branch", "main"): False, ("branch", "ci/try-oidc"): True}
    branch = run_git(["branch", "--show-current"], built.repo).stdout.decode().strip()
    assert branch == "main" and not (built.repo / built.leak_path).exists()
    merged = run_git(["branch", "--merged", "main"], built.repo).stdout.decode()
    assert "ci/try-oidc" not in merged
    default = build(tmp_path, {"type": "feature-branch"}, seed=5)
    assert ("branch", "feature/deploy") in places(default)


def test_a_tag_and_a_release(tmp_path: Path) -> None:
    tagged = build(tmp_path, {"type": "tag", "name": "v2.0.0"})
    assert places(tagged) == {("branch", "main"): True, ("tag", "v2.0.0"): True}
    released = build(tmp_path, {"type": "release"})
    found = places(released)
    [tag] = [name for kind, name in found if kind == "tag"]
    assert tag.startswith("v0.") and found[("release", tag)]
    [(asset, path)] = HostFiles(released.remote).release_assets(tag).items()
    assert asset == f"{NAME}-{tag.removeprefix('v')}.tar.gz"
    with tarfile.open(fileobj=io.BytesIO(path.read_bytes()), mode="r:gz") as archive:
        member = archive.extractfile(f"{asset.removesuffix('.tar.gz')}/{released.leak_path}")
        assert member is not None
        assert released.credential.access_key_id.encode() in member.read()
    url = f"https://github.com/{OWNER}/{NAME}/releases/download/{tag}/{asset}"
    served = host(released).resolve(url, OWNER, NAME)
    assert served is not None and served.content == path.read_bytes()


def test_the_key_in_a_commit_message(tmp_path: Path) -> None:
    built = build(tmp_path, {"type": "commit-message"})
    key = built.credential.access_key_id
    message = run_git(["log", "-1", "--format=%B", built.leak_commit], built.remote).stdout
    assert message.decode().strip() == f"Temporarily hardcode {key} until CI secrets work"
    own = build(tmp_path, {"type": "commit-message", "message": "wip: {key} for now"}, seed=7)
    shown = run_git(["log", "-1", "--format=%s", own.leak_commit], own.remote).stdout.decode()
    assert shown.strip() == f"wip: {own.credential.access_key_id} for now"


def test_removed_by_force_push_the_clone_is_clean_but_the_notice_link_still_works(
    tmp_path: Path,
) -> None:
    built = build(tmp_path, {"type": "force-push"})
    key, secret = built.credential.access_key_id, built.credential.secret_access_key
    # The team's clone: no trace of the key anywhere in its history.
    history = all_history(built.repo)
    assert key.encode() not in history and secret.encode() not in history
    assert run_git(["cat-file", "-e", built.leak_commit], built.repo, check=False).returncode
    # The host: the link AWS cites resolves to the commit that holds the key.
    served = host(built).resolve(built.public_url, OWNER, NAME)
    assert served is not None and served.commit == built.leak_commit and not served.reachable
    assert key.encode() in served.content and secret.encode() in served.content
    assert places(built) == {("branch", "main"): False, ("kept-commit", built.leak_commit): True}
    assert not host(built).key_in_history(key)
    # Until the team asks support to purge it.
    host(built).act("purge-commit", built.leak_commit)
    assert host(built).resolve(built.public_url, OWNER, NAME) is None


def test_a_fork_keeps_the_key_after_the_original_goes_private(tmp_path: Path) -> None:
    built = build(tmp_path, {"type": "fork", "name": "dockyard-bot"})
    code_host = host(built)
    code_host.make_private()
    assert code_host.resolve(built.public_url, OWNER, NAME) is None
    fork_url = built.public_url.replace(f"/{OWNER}/", "/dockyard-bot/")
    served = code_host.resolve(fork_url, OWNER, NAME)
    assert served is not None and built.credential.access_key_id.encode() in served.content
    [fork] = [p for p in code_host.places(OWNER, NAME) if p.kind == "fork"]
    assert fork.public and fork.holds_key
    assert fork.url == f"https://github.com/dockyard-bot/{NAME}"
    fork_path = HostFiles(built.remote).fork_paths()["dockyard-bot/harbour-api"]
    assert run_git(["remote"], fork_path).stdout.strip() == b""  # nothing points anywhere


def test_every_trick_has_a_library_scenario() -> None:
    tricks = {
        entry.scenario.leak.trick.type
        for entry in load_library(SCENARIOS)
        if entry.scenario is not None and entry.scenario.leak.trick is not None
    }
    assert tricks == set(TRICKS)
