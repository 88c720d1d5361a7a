"""The leaky repository: building a 500-commit history, and asking whether the key survives.

Build: `build_repository` (one `git fast-import` stream, then checkout and push to the bare
remote) against the obvious alternative, a GitPython loop of `index.add` + `index.commit`
writing the very same files, authors and dates — without even the checkout and push.

History search: `CodeHost.key_in_history` (git's pickaxe, newest first) against reading every
blob reachable from a ref and searching it, on the same 500-commit remote.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import git
import yaml

from bench.common import Figure, interleaved
from gameday.scenario.model import Scenario
from gameday.world.git import run_git
from gameday.world.repo import (
    DEFAULT_T0,
    CodeHost,
    _history_times,
    _Project,
    _team,
    build_repository,
)

COMMITS = 500
ROUNDS = 3

SCENARIO = f"""
id: bench-repo
title: Bench
summary: a long history
difficulty: introductory
duration: 1h
account:
  id: "491826357014"
  alias: northwind
  support_plan: business
  contacts: {{primary: {{name: Dana, email: dana@northwind.example}}}}
  regions: [eu-west-1]
  estate:
    users: [{{name: deployer, keys: [{{id: deploy-key, age: 400d}}]}}]
leak:
  user: deployer
  vector: shell-export
  author: {{name: Jordan Alvarez, email: jordan.alvarez@northwind.example}}
  repository: {{owner: northwind-labs, name: storefront-tools}}
  history: {{before: {COMMITS - 1}, after: 0, span: 120d}}
steps:
  - {{id: s, title: S, phase: contain, check: {{type: manual}}, points: 5, target: 1m,
     deadline: 2m}}
"""


def _scenario() -> Scenario:
    return Scenario.model_validate(yaml.safe_load(SCENARIO))


def _gitpython_loop(scenario: Scenario, out: Path) -> None:
    """The same history, one GitPython `index.add` + `index.commit` at a time."""
    rng = random.Random("bench")
    _, team = _team(scenario, rng)
    project = _Project(scenario, "python", rng)
    repo = git.Repo.init(out, initial_branch="main")
    end = DEFAULT_T0.timestamp()
    moments = _history_times(COMMITS, end - scenario.leak.history.span, end, team, rng)
    files, message = project.initial_files(), "Initial commit"
    for moment, author in moments:
        for path, text in files.items():
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        repo.index.add(list(files))
        actor = git.Actor(author.name, author.email)
        date = f"{moment} {author.tz}"
        repo.index.commit(
            message, author=actor, committer=actor, author_date=date, commit_date=date
        )
        message, files = project.change()


def _blob_scan(remote: Path, needle: bytes) -> bool:
    """Every blob reachable from a ref, read once and searched."""
    listing = run_git(["rev-list", "--objects", "--all"], remote).stdout
    names = b"".join(line.split(b" ", 1)[0] + b"\n" for line in listing.splitlines())
    kinds = run_git(["cat-file", "--batch-check"], remote, stdin=names).stdout
    blobs = b"".join(
        line.split(b" ", 1)[0] + b"\n" for line in kinds.splitlines() if b" blob " in line
    )
    return needle in run_git(["cat-file", "--batch"], remote, stdin=blobs).stdout


def figures() -> Iterator[Figure]:
    scenario = _scenario()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-repo-") as folder:
        root = Path(folder)
        runs = iter(range(1_000_000))

        def ours() -> None:
            out = root / f"ours-{next(runs)}"
            built = build_repository(scenario, out)
            assert built.commits == COMMITS
            shutil.rmtree(out)

        def theirs() -> None:
            out = root / f"theirs-{next(runs)}"
            _gitpython_loop(scenario, out)
            shutil.rmtree(out)

        subject, baseline = interleaved(ours, theirs, ROUNDS)
        yield Figure(
            f"build {COMMITS}-commit repository (+checkout, push)",
            subject,
            "s",
            baseline,
            "GitPython index.add+commit loop",
        )

        built = build_repository(scenario, root / "search")
        key = built.credential.access_key_id
        absent = "AKIA" + key[4:12] + "AAAAAAAA"

        def pickaxe() -> None:
            # A fresh host each time: the answer is cached per set of ref tips otherwise.
            assert not CodeHost(built.remote).key_in_history(absent)

        def blobs() -> None:
            assert not _blob_scan(built.remote, absent.encode())

        subject, baseline = interleaved(pickaxe, blobs, ROUNDS * 3)
        yield Figure(
            f"key_in_history, key absent ({COMMITS} commits)",
            subject,
            "s",
            baseline,
            "read every reachable blob",
        )
