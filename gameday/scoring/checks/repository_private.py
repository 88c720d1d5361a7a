"""repository-private: the leaky repository is out of public view and still exists."""

from __future__ import annotations

from gameday.scenario.model import RepositoryState
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: RepositoryState, state: State, owner: str) -> Verdict:
    if state.repository.deleted:
        return Verdict(False, "the repository was deleted, not made private")
    if state.repository.private:
        return Verdict(True, "the repository is private", state.repository.private_by)
    return Verdict(False, "the repository is still public")


CHECK = register(
    CheckType(
        name="repository-private",
        title="The repository is private",
        description=(
            "Holds once the code host made the leaky repository private (`repo.private`) and "
            "as long as it is not deleted: a deleted repository is out of view but the "
            "evidence went with it."
        ),
        params=RepositoryState,
        reads=("kind:repo.private", "kind:repo.deleted"),
        evaluate=evaluate,
    )
)
