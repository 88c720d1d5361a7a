"""key-purged-from-history: the leaked key can no longer be fetched from the public remote."""

from __future__ import annotations

from gameday.scenario.model import RepositoryState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: RepositoryState, state: State, owner: str) -> Verdict:
    if state.repository.deleted:
        return Verdict(
            True, "the repository is gone, and the key with it", state.repository.deleted_by
        )
    if not state.repository.key_in_history:
        return Verdict(
            True, "the history pushed last no longer holds the key", state.repository.pushed_by
        )
    if state.repository.private:
        return Verdict(False, "the repository is private, but its history still holds the key")
    return Verdict(False, "the key is still in the public history")


CHECK = register(
    CheckType(
        name="key-purged-from-history",
        title="The key is purged from the public history",
        description=(
            "Holds when the leaked key can no longer be fetched from the public remote: the "
            "last push (`repo.pushed`, usually forced after a history rewrite) reports "
            "`key_in_history: false`, or the repository was deleted. Making the repository "
            "private does not count — the history still holds the key, and forks and caches "
            "kept it. A later push that brings the old history back makes the check false again."
        ),
        params=RepositoryState,
        reads=("kind:repo.pushed", "kind:repo.deleted", "kind:repo.private"),
        evaluate=evaluate,
    )
)
