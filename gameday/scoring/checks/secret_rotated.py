"""secret-rotated: a Secrets Manager secret holds a replacement key the service runs with."""

from __future__ import annotations

from gameday.scenario.model import SecretRotated
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: SecretRotated, state: State, owner: str) -> Verdict:
    secret = state.secrets.get(params.secret)
    if secret is None:
        return Verdict(False, f"secret {params.secret} is not in the account")
    rotated, why, by = state.secret_rotation(secret)
    if not rotated:
        return Verdict(False, why)
    old = state.keys.get(secret.seeded_key_id) if secret.seeded_key_id else None
    if old is None:
        return Verdict(True, why, by)
    if old.active:
        return Verdict(False, f"{why}, but the old key {old.label()} still works")
    doers = [by, old.disabled_by]
    by = next((who for who in doers if who != "team"), "team")
    return Verdict(True, f"{why}; the old key {old.label()} is disabled", by)


CHECK = register(
    CheckType(
        name="secret-rotated",
        title="A secret holds a replacement key, and the old key is disabled",
        description=(
            "Holds when the Secrets Manager `secret` holds a new key of the same user as the "
            "key it was seeded with — created by the team after the push (T0) and Active — the "
            "old key is disabled (Inactive or deleted), and, for the workload's secret, a "
            "workload probe has worked with the new key since it was put in (the service "
            "really runs on it). Another user's key copied into the secret, a key the attacker "
            "minted, or a key the team created before the push is no rotation. The journal "
            "never carries secret values: the gateway reports, as `result.SecretAccessKeyId` of "
            "PutSecretValue and UpdateSecret, the access key id found in the new value (JSON "
            "with `aws_access_key_id`), and the probe its `access_key_id`."
        ),
        params=SecretRotated,
        reads=("api:secretsmanager", "api:iam", "kind:workload.probe"),
        evaluate=evaluate,
        parameters={
            "secret": "the name of a secret of the estate",
        },
    )
)
