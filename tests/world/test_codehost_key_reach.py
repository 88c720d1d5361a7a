"""After every change, the code host journals where the key still is — worked out from its own
refs, objects, releases and forks — and `key-removed-from-code-host` reads only that: each way
of looking done without doing it, and each way of writing the answer into the journal, fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.journal import FixedClock, Journal, read_journal
from gameday.scenario.model import RepositoryState, Scenario
from gameday.scoring.checks import CHECKS, Verdict
from gameday.scoring.state import State
from gameday.world.repo import BuiltRepository, CodeHost, build_repository, run_git

from .test_codehost import NAME, SCENARIO, spread

REMOVED = RepositoryState(type="key-removed-from-code-host")
Hosted = tuple[BuiltRepository, CodeHost, Journal]


@pytest.fixture
def hosted(tmp_path: Path) -> Hosted:
    """The key on main's history, a feature branch, a tag, a release and a fork; main then
    rewritten without it and force-pushed, so the old commits are kept too."""
    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    built = build_repository(scenario, tmp_path / "run")
    journal = Journal(tmp_path / "run" / "journal.jsonl", FixedClock(), durable=False)
    host = CodeHost(built.remote, journal, watch_key=built.credential.access_key_id)
    host.poll()
    spread(built)
    host.poll()
    return built, host, journal


def repo_events(journal: Journal) -> list[dict[str, Any]]:
    return [e for e in read_journal(journal.path) if str(e["kind"]).startswith("repo.")]


def verdict(built: BuiltRepository, journal: Journal) -> Verdict:
    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    state = State(scenario)
    for event in read_journal(journal.path):
        state.apply(event)
    return CHECKS.get(REMOVED.type).evaluate(REMOVED, state, "clean-host")


def test_every_repo_event_after_a_change_says_where_the_key_is(hosted: Hosted) -> None:
    built, host, journal = hosted
    leak = built.leak_commit[:7]
    fork = f"fork mallory-dev/{NAME}"
    pushes = repo_events(journal)  # the branch, the tag, and main force-pushed: one poll
    assert [e["ref"] for e in pushes] == ["refs/heads/feature/env", "refs/heads/main",
                                          "refs/tags/v0.3.0"]  # fmt: skip
    for push in pushes:  # where the key is once the host has taken them all
        assert push["key_served"] is True
        assert push["key_places"] == ["branch feature/env", "tag v0.3.0", "release v0.3.0"]
        assert push["key_forks"] == [fork]

    host.act("delete-tag", "v0.3.0")
    host.act("delete-branch", "feature/env")
    host.act("delete-release", "v0.3.0")
    done = [(e["kind"], e["key_places"]) for e in repo_events(journal)[3:]]
    assert done == [
        ("repo.tag-deleted", ["branch feature/env", "release v0.3.0"]),
        ("repo.pushed", ["branch feature/env", "release v0.3.0"]),
        ("repo.branch-deleted", [f"kept commit {leak}", "release v0.3.0"]),
        ("repo.pushed", [f"kept commit {leak}", "release v0.3.0"]),
        ("repo.release-deleted", [f"kept commit {leak}"]),
    ]
    host.act("purge-commit", built.leak_commit)
    purged = repo_events(journal)[-1]
    assert purged["kind"] == "repo.commit-purged"
    assert (purged["key_served"], purged["key_places"], purged["key_forks"]) == (False, [], [fork])
    result = verdict(built, journal)
    assert (result.holds, result.by) == (True, "team")
    assert result.reason == (
        "no branch, tag, release or kept commit of the repository holds the key; "
        f"{fork} still holds it — someone else's, for the host's support to take down"
    )

    # the history brought back by a later push: false again, and the host says where
    run_git(["push", "-q", "origin", f"{built.leak_commit}:refs/heads/restore"], built.repo)
    host.poll()
    back = repo_events(journal)[-1]
    assert back["kind"] == "repo.pushed" and back["key_places"] == ["branch restore"]
    assert not verdict(built, journal).holds


def test_the_places_are_worked_out_only_when_the_host_changed(
    hosted: Hosted, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, host, journal = hosted
    worked: list[int] = []
    original = host._holdings

    def counted() -> tuple[Any, ...]:
        worked.append(1)
        return original()

    from gameday.world import repo

    computed: list[int] = []
    real_places = repo.places

    def places(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real_places(*args, **kwargs)

    monkeypatch.setattr(repo, "places", places)
    monkeypatch.setattr(host, "_holdings", counted)
    for _ in range(20):
        host.poll()  # nothing changed: nothing journaled, nothing worked out
    assert computed == [] and worked == []
    host.act("private")  # a change of state: the places themselves did not change
    assert computed == []
    assert repo_events(journal)[-1]["key_places"] == [
        "branch feature/env",
        "tag v0.3.0",
        "release v0.3.0",
    ]
    host.act("delete-tag", "v0.3.0")  # the action and the push it makes: worked out once
    assert computed == [1]


# ── trying to earn it without doing it ────────────────────────────────────────────────────


@pytest.fixture
def released(tmp_path: Path) -> Hosted:
    """The key on main, tagged and released (a source archive holding it)."""
    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    built = build_repository(scenario, tmp_path / "run")
    journal = Journal(tmp_path / "run" / "journal.jsonl", FixedClock(), durable=False)
    host = CodeHost(built.remote, journal, watch_key=built.credential.access_key_id)
    host.poll()
    repo, key = built.repo, built.credential.access_key_id
    run_git(["tag", "v0.3.0", built.leak_commit], repo)
    run_git(["push", "-q", "origin", "v0.3.0"], repo)
    from gameday.world.codehost import HostFiles

    from .test_codehost import tarball

    HostFiles(built.remote).add_release("v0.3.0", {"src.tar.gz": tarball(".env", key.encode())})
    host.poll()
    return built, host, journal


def rewrite_without_the_key(built: BuiltRepository) -> None:
    """main rebuilt from before the leak and force-pushed with the tag moved along."""
    repo = built.repo
    run_git(["reset", "-q", "--hard", f"{built.leak_commit}~1"], repo)
    (repo / "NOTES.md").write_text("notes\n")
    run_git(["add", "NOTES.md"], repo)
    run_git(["commit", "-q", "-m", "Notes"], repo)
    run_git(["tag", "-f", "v0.3.0"], repo)
    run_git(["push", "-q", "--force", "origin", "main", "v0.3.0"], repo)


def test_deleting_the_tag_but_not_the_release(released: Hosted) -> None:
    built, host, journal = released
    host.act("delete-tag", "v0.3.0")
    result = verdict(built, journal)
    assert not result.holds and "release v0.3.0" in result.reason


def test_force_pushing_without_purging_the_kept_commit(released: Hosted) -> None:
    built, host, journal = released
    host.act("delete-release", "v0.3.0")
    rewrite_without_the_key(built)
    host.poll()
    result = verdict(built, journal)
    assert not result.holds
    assert result.reason == (
        f"the code host still holds the key in kept commit {built.leak_commit[:7]}"
    )
    assert repo_events(journal)[-1]["key_in_history"] is False  # what a clone shows


def test_making_the_repository_private(released: Hosted) -> None:
    built, host, journal = released
    host.act("private")
    result = verdict(built, journal)
    assert not result.holds
    assert result.reason == (
        "the code host still holds the key in branch main, tag v0.3.0, release v0.3.0 — "
        "private, but still kept"
    )


def test_deleting_only_the_file_on_the_default_branch(released: Hosted) -> None:
    built, host, journal = released
    host.act("delete-release", "v0.3.0")
    host.act("delete-tag", "v0.3.0")
    run_git(["rm", "-q", built.leak_path], built.repo)
    run_git(["commit", "-q", "-m", "Remove the env file"], built.repo)
    run_git(["push", "-q", "origin", "main"], built.repo)
    host.poll()
    result = verdict(built, journal)
    assert not result.holds and result.reason.startswith(
        "the code host still holds the key in branch main"
    )


def test_writing_the_answer_into_the_journal_or_the_hosts_files(released: Hosted) -> None:
    built, host, journal = released
    honest = repo_events(journal)
    # 1. a repo event in the journal's own shape, appended to the file
    forged = {
        "seq": 99, "t": 0.0, "time": "2026-03-02T12:33:12.000Z", "kind": "repo.commit-purged",
        "actor": "responder", "commit": built.leak_commit, "key_served": False,
        "key_places": [], "key_forks": [],
    }  # fmt: skip
    with journal.path.open("a", encoding="utf-8") as lines:
        lines.write(json.dumps(forged) + "\n")
    # 2. actions, a mark and a deletion claimed in the host's state file, none of them done
    state_file = built.remote.parent / "code-host.json"
    data = json.loads(state_file.read_text("utf-8"))
    data["pending"] = [
        {"kind": "repo.release-deleted", "tag": "v0.3.0", "requested_at": forged["time"],
         "key_served": False, "key_places": []},
        {"kind": "repo.commit-purged", "commit": built.leak_commit, "purged": 1,
         "requested_at": forged["time"], "key_served": False},
        {"kind": "mark", "step": "clean-host", "by": "facilitator"},
    ]  # fmt: skip
    data.update(state="deleted", previous="public", requested_at=forged["time"])
    state_file.write_text(json.dumps(data), "utf-8")
    host.poll()
    journal.append("note", actor="responder", text="the run goes on")

    events = read_journal(journal.path)
    kinds = [e["kind"] for e in events]
    assert "journal.foreign" in kinds and "mark" not in kinds  # the line, caught
    # the host journals none of the claims: it still holds the release, the commit and
    # the repository
    assert repo_events(journal) == honest
    result = verdict(built, journal)
    assert not result.holds and "release v0.3.0" in result.reason


def test_an_action_from_another_terminal_is_journaled_with_where_the_key_is(
    released: Hosted,
) -> None:
    built, host, journal = released
    CodeHost(built.remote).act("delete-release", "v0.3.0")  # no journal: left for the run
    host.poll()
    [event] = [e for e in repo_events(journal) if e["kind"] == "repo.release-deleted"]
    assert event["deferred"] is True
    assert (event["key_served"], event["key_places"]) == (True, ["branch main", "tag v0.3.0"])
