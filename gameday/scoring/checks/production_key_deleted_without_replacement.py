"""production-key-deleted-without-replacement: the workload's key was deleted from under it."""

from __future__ import annotations

from gameday.scenario.model import ProductionKeyDeletedWithoutReplacement
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: ProductionKeyDeletedWithoutReplacement, state: State, owner: str) -> Verdict:
    workload = state.scenario.workload
    if workload is None:
        return Verdict(False, "the scenario has no workload")
    secret = state.secrets.get(workload.secret)
    held = secret.key_id if secret is not None else None
    key = state.keys.get(held) if held else None
    if key is not None and not key.exists:
        return Verdict(
            True,
            f"{key.label()} was deleted while {workload.secret} still held it",
            key.deleted_by,
        )
    return Verdict(False, f"{workload.secret} does not hold a deleted key")


CHECK = register(
    CheckType(
        name="production-key-deleted-without-replacement",
        title="The production key was deleted without a replacement",
        description=(
            "Holds while the key held in the workload's secret has been deleted — the key was "
            "deleted before a replacement was put in the secret, so the workload has nothing "
            "to run with. Putting a new key in the secret ends it; as a penalty it is counted "
            "once, when it first holds."
        ),
        params=ProductionKeyDeletedWithoutReplacement,
        reads=("api:iam", "api:secretsmanager"),
        evaluate=evaluate,
    )
)
