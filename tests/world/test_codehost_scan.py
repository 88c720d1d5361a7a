"""The code host's look for a key (`scan_key`) answers what git's own questions answer, one
at a time: the commits `log -S`/`--grep` find, the refs `for-each-ref --contains` names, the
commits `rev-list --all` leaves out; and the host asks git for its refs again only when
their files hold something else."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from gameday.scenario.model import Scenario
from gameday.world import codehost
from gameday.world.codehost import KeyScan, RefTip, ScanMemo, ref_tips, scan_key
from gameday.world.git import git_environment
from gameday.world.repo import CodeHost, build_repository

from .test_codehost import SCENARIO

KEY = "AKIAXFAZCUMLKA5FXDKR"
ENCODED = base64.b64encode(KEY.encode()).decode()


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env = git_environment() | {
        "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
    }  # fmt: skip
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def commit(repo: Path, files: dict[str, str | bytes], message: str = "change") -> str:
    for name, data in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def push(repo: Path, *extra: str) -> None:
    git(repo, "push", "-q", "--force", *extra, "origin", "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*")  # fmt: skip


def one_at_a_time(remote: Path, *, kept: bool) -> KeyScan:
    """The questions as git answers them one by one (what the host asked before)."""
    stored = codehost.kept_commits(remote) if kept else []
    touching = codehost._key_commits(remote, KEY, stored)
    return KeyScan(
        kept=tuple(stored),
        touching=frozenset(touching),
        holding=frozenset(codehost._refs_reaching(remote, touching)),
        in_files=codehost.key_in_files(remote, KEY),
    )


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    repo, remote = tmp_path / "clone", tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "remote", "add", "origin", str(remote))
    return repo, remote


def test_the_scan_finds_what_git_finds_one_question_at_a_time(
    pair: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, remote = pair
    slow: list[int] = []
    real_slowly = codehost._scan_key_slowly

    def slowly(*args: object, **kwargs: bool) -> KeyScan:
        slow.append(1)
        return real_slowly(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(codehost, "_scan_key_slowly", slowly)

    memo = ScanMemo()  # what the scans before read, as the code host keeps it

    def same(*, fast: bool) -> KeyScan:
        slow.clear()
        found = scan_key(remote, KEY, ref_tips(remote), kept=True)
        assert found == one_at_a_time(remote, kept=True)
        assert scan_key(remote, KEY, ref_tips(remote), kept=True, memo=memo) == found
        fork = scan_key(remote, KEY, ref_tips(remote), kept=False)
        assert fork.holding == one_at_a_time(remote, kept=False).holding
        assert (slow == []) is fast
        return found

    commit(repo, {"README": "hello\n"}, "start")
    added = commit(repo, {"deploy.sh": f"export KEY={KEY}\nrun\n"}, "deploy script")
    moved = commit(repo, {"deploy.sh": f"run\nexport KEY={KEY}\n"}, "the line moves")
    # the same file, the key swapped for its base64: one form out, the other in
    encoded = commit(repo, {"deploy.sh": f"run\nKEY={ENCODED}\n"}, "base64 it")
    git(repo, "mv", "deploy.sh", "scripts.sh")
    renamed = commit(repo, {}, "rename")
    message = commit(repo, {"notes": "n\n"}, f"rotate {KEY} later")
    commit(repo, {"twice": f"{KEY}{KEY} {KEY}\n"}, "three of them")
    same_count = commit(repo, {"twice": f"{KEY} {KEY}{KEY}\n"}, "three still")
    fewer = commit(repo, {"twice": f"{KEY}{KEY}\n"}, "one fewer")
    binary = commit(repo, {"blob": b"\0\1" + KEY.encode() + b"\0\n\0" + ENCODED.encode()})
    no_newline = commit(repo, {"end": KEY}, "no newline at the end")
    git(repo, "tag", "-a", "-m", "release", "v1")
    push(repo)
    found = same(fast=True)
    assert {added, encoded, message, fewer, binary, no_newline} <= found.touching
    assert not {moved, renamed, same_count} & found.touching
    assert found.holding == {"refs/heads/main", "refs/tags/v1"} and found.in_files

    # a merge that brings the key in itself, beside a branch that holds it
    git(repo, "checkout", "-q", "-b", "feature", "HEAD~4")
    commit(repo, {"feature": f"{KEY}\n"}, "feature")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"other": "x\n"})
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "feature")
    (repo / "evil").write_text(ENCODED + "\n")
    git(repo, "add", "evil")
    git(repo, "commit", "-q", "-m", "merge")
    git(repo, "tag", "light", "HEAD~2")
    push(repo)
    assert git(repo, "rev-parse", "HEAD") in same(fast=True).touching

    # history rewritten and force-pushed: the old commits are kept, served by their id
    git(repo, "checkout", "-q", "--orphan", "fresh")
    git(repo, "rm", "-rqf", ".")
    commit(repo, {"clean": "nothing here\n"}, "fresh start")
    git(repo, "branch", "-f", "main", "fresh")
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-D", "feature", "fresh")
    git(repo, "tag", "-d", "v1", "light")
    push(repo, "--prune")
    rewritten = same(fast=True)
    assert rewritten.kept and rewritten.touching and not rewritten.holding
    assert not rewritten.in_files

    # HEAD on a kept commit is walked from as `--all` walks from it
    git(remote, "update-ref", "--no-deref", "HEAD", rewritten.kept[0])
    assert rewritten.kept[0] not in same(fast=True).kept
    git(remote, "symbolic-ref", "HEAD", "refs/heads/main")

    # a tag of a tag, a tag of a blob: the slow way, as git answers
    git(remote, "tag", "-a", "-m", "again", "twice", git(remote, "rev-parse", "main"))
    git(remote, "tag", "-a", "-m", "of a tag", "nested", "twice")
    same(fast=False)
    git(remote, "tag", "-d", "nested")
    blob = git(remote, "hash-object", "-w", "--stdin", stdin=f"{KEY}\n".encode())
    git(remote, "tag", "blob", blob)
    same(fast=False)


def test_a_repository_without_the_key_has_nothing_to_show(pair: tuple[Path, Path]) -> None:
    repo, remote = pair
    assert scan_key(remote, KEY, ref_tips(remote), kept=True) == one_at_a_time(remote, kept=True)
    commit(repo, {"README": "hello\n"}, f"not the key: {KEY[:-1]}")
    push(repo)
    found = scan_key(remote, KEY, ref_tips(remote), kept=True)
    assert found == KeyScan((), frozenset(), frozenset(), in_files=False)


def test_the_refs_are_asked_again_only_when_their_files_hold_something_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gameday.world import repo

    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    built = build_repository(scenario, tmp_path / "run", seed=3)
    host = CodeHost(built.remote)
    asked: list[Path] = []
    real = repo.ref_tips

    def counted(repository: Path) -> dict[str, RefTip]:
        asked.append(repository)
        return real(repository)

    monkeypatch.setattr(repo, "ref_tips", counted)
    first = host.refs()
    for _ in range(5):  # at once, within the tick of the build's push: nothing changed
        assert host.refs() == first
    assert len(asked) == 1
    # the branch moved in place, within the same tick: same file, same size, same time
    main = built.remote / "refs" / "heads" / "main"
    before = main.stat()
    parent = git(built.remote, "rev-parse", "main~1")
    main.write_text(parent + "\n")
    os.utime(main, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (main.stat().st_ino, main.stat().st_size) == (before.st_ino, before.st_size)
    assert host.refs()["refs/heads/main"] == parent
    assert len(asked) == 2
