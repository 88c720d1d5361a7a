"""repository-deleted: the leaky repository was deleted."""

from __future__ import annotations

from gameday.scenario.model import RepositoryState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: RepositoryState, state: State, owner: str) -> Verdict:
    if state.repository.deleted:
        return Verdict(True, "the repository was deleted", state.repository.deleted_by)
    return Verdict(False, "the repository still exists")


CHECK = register(
    CheckType(
        name="repository-deleted",
        title="The repository was deleted",
        description=(
            "Holds once the code host deleted the leaky repository (`repo.deleted`). Usually a "
            "penalty: the repository and its history are evidence."
        ),
        params=RepositoryState,
        reads=("kind:repo.deleted",),
        evaluate=evaluate,
    )
)
