"""key-removed-from-code-host: holds only when the code host itself reports that no place the
repository's owners control holds the key — never because the repository went private, a
fork was counted out, or someone other than the host said so."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from gameday.scenario.model import Check
from gameday.scoring.model import StepResult
from gameday.scoring.score import score_journal
from gameday.scoring.state import State

from .journals import JournalBuilder, northwind
from .test_checks import verdict

REMOVED = {"type": "key-removed-from-code-host"}
CHECK: TypeAdapter[Check] = TypeAdapter(Check)


def story() -> JournalBuilder:
    return JournalBuilder(northwind()).aws_notices()


def reach(places: list[str], forks: list[str] | None = None) -> dict[str, Any]:
    """The fields the code host adds to a `repo.*` event after a change."""
    return {"key_served": bool(places), "key_places": places, "key_forks": forks or []}


def test_nothing_changed_on_the_host_means_the_key_is_where_it_leaked() -> None:
    result = verdict(story(), REMOVED)
    assert not result.holds
    assert result.reason == "nothing changed on the code host: the key is where it leaked"


def test_each_place_left_is_named_until_the_last_one_goes() -> None:
    journal = story()
    journal.at("9m").event(
        "repo.private", actor="responder", **reach(["tag v2.3.0", "release v2.3.0"])
    )
    result = verdict(journal, REMOVED)
    assert not result.holds
    assert result.reason == (
        "the code host still holds the key in tag v2.3.0, release v2.3.0 — private, but still kept"
    )
    journal.at("20m").event(
        "repo.tag-deleted", actor="responder", name="v2.3.0", **reach(["release v2.3.0"])
    )
    assert "release v2.3.0" in verdict(journal, REMOVED).reason
    journal.at("21m").event(
        "repo.release-deleted", actor="responder", tag="v2.3.0", **reach(["kept commit 1a2b3c4"])
    )
    assert verdict(journal, REMOVED).reason.startswith(
        "the code host still holds the key in kept commit 1a2b3c4"
    )
    journal.at("22m").event("repo.commit-purged", actor="responder", commit="1a2b3c4", **reach([]))
    result = verdict(journal, REMOVED)
    assert (result.holds, result.by) == (True, "team")
    assert result.reason == "no branch, tag, release or kept commit of the repository holds the key"


def test_a_fork_is_named_but_never_counted() -> None:
    journal = story()
    fork = "fork repo-mirror-archive/cohort-notebooks"
    journal.at("30m").event(
        "repo.commit-purged", actor="responder", commit="1a2b3c4", **reach([], [fork])
    )
    result = verdict(journal, REMOVED)
    assert result.holds
    assert result.reason.endswith(
        f"; {fork} still holds it — someone else's, for the host's support to take down"
    )


def test_a_later_push_that_brings_the_key_back_undoes_it() -> None:
    journal = story()
    journal.at("20m").event("repo.pushed", actor="responder", key_in_history=False, **reach([]))
    assert verdict(journal, REMOVED).holds
    journal.at("25m").event(
        "repo.pushed", actor="responder", key_in_history=True, **reach(["branch main"])
    )
    result = verdict(journal, REMOVED)
    assert not result.holds and "branch main" in result.reason
    assert score_of(journal).status == "failed"  # a fix that is undone does not count


def test_the_credit_stays_with_whose_change_removed_the_key() -> None:
    journal = story()
    journal.at("20m").event("repo.commit-purged", actor="responder", commit="1a2b3c4", **reach([]))
    # a colleague's later push leaves the host clean: still the team's work
    journal.at("40m").event(
        "repo.pushed", actor="developer", author="Jade Obi", key_in_history=False, **reach([])
    )
    result = verdict(journal, REMOVED)
    assert (result.holds, result.by) == (True, "team")
    step = score_of(journal)
    assert step.status == "success" and step.satisfied_at_s == 20 * 60 - 110  # from detection


def test_a_deletion_holds_from_the_hosts_report_not_from_the_event_alone() -> None:
    journal = story()
    journal.at("10m").event("repo.deleted", actor="responder", **reach([], []))
    result = verdict(journal, REMOVED)
    assert result.holds and result.reason.startswith("the repository is deleted")
    assert "the evidence" in result.reason
    # a `repo.deleted` the host wrote while its repository still held the key (a state
    # file said "deleted", the objects were all there) is no removal
    forged = story()
    forged.at("10m").event("repo.deleted", actor="responder", **reach(["branch main"]))
    assert not verdict(forged, REMOVED).holds
    # a journal written before the host reported the key's places: deleting took them all
    old = story()
    old.at("10m").repo_deleted()
    assert verdict(old, REMOVED).holds


def test_private_and_pushes_without_the_hosts_report_change_nothing() -> None:
    journal = story()
    journal.at("9m").repo_private()
    journal.at("30m").repo_pushed(key_in_history=False)  # a journal before the host reported
    assert not verdict(journal, REMOVED).holds
    state = State(journal.scenario)
    for event in journal.events():
        state.apply(event)
    assert state.repository.key_served and state.repository.private


def score_of(journal: JournalBuilder) -> StepResult:
    """The score of the step "make the repository private", its check made this one."""
    scenario = journal.scenario
    steps = [
        step.model_copy(update={"check": CHECK.validate_python(REMOVED)})
        if step.id == "repository-private"
        else step
        for step in scenario.steps
    ]
    score = score_journal(scenario.model_copy(update={"steps": steps}), journal.end().events())
    [step] = [s for s in score.steps if s.id == "repository-private"]
    return step
