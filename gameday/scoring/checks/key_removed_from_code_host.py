"""key-removed-from-code-host: no place the repository's owners control still serves the key."""

from __future__ import annotations

from gameday.scenario.model import RepositoryState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: RepositoryState, state: State, owner: str) -> Verdict:
    repository = state.repository
    forks = (
        f"; {_listed(repository.key_forks)} still "
        f"{'holds' if len(repository.key_forks) == 1 else 'hold'} it — someone else's, "
        "for the host's support to take down"
        if repository.key_forks
        else ""
    )
    if not repository.key_served:
        if repository.deleted:
            return Verdict(
                True,
                "the repository is deleted, every place of it that held the key with it — "
                "and the evidence" + forks,
                repository.deleted_by,
            )
        return Verdict(
            True,
            "no branch, tag, release or kept commit of the repository holds the key" + forks,
            repository.served_by,
        )
    if not repository.key_places:
        return Verdict(False, "nothing changed on the code host: the key is where it leaked")
    private = " — private, but still kept" if repository.private else ""
    return Verdict(
        False,
        f"the code host still holds the key in {_listed(repository.key_places)}{private}" + forks,
    )


def _listed(places: tuple[str, ...]) -> str:
    shown = ", ".join(places[:5])
    return shown + (f" and {len(places) - 5} more" if len(places) > 5 else "")


CHECK = register(
    CheckType(
        name="key-removed-from-code-host",
        title="No place the owners control still serves the key",
        description=(
            "Holds when the code host reports, after its last change, that no place the "
            "repository's owners control holds the leaked key (`key_served: false` on a "
            "`repo.*` event): no branch or tag whose history holds it, no release whose "
            "assets hold it, no kept commit — an old commit a force-push left behind, served "
            "by its id until the host's support purges it — that holds it. The host works "
            "this out from its own refs, objects and releases, never from what the team "
            "says. Making the repository private does not count: it keeps every place. A "
            "fork is someone else's repository and is never counted; the reason names the "
            "forks that still hold the key. Deleting the repository also removes every place "
            "— and the evidence: pair the step with a `repository-deleted` penalty so that "
            "is not the cheap way to earn it. A later push that brings the key back makes "
            "the check false again."
        ),
        params=RepositoryState,
        reads=(
            "kind:repo.pushed",
            "kind:repo.private",
            "kind:repo.deleted",
            "kind:repo.branch-deleted",
            "kind:repo.tag-deleted",
            "kind:repo.release-deleted",
            "kind:repo.commit-purged",
        ),
        evaluate=evaluate,
    )
)
