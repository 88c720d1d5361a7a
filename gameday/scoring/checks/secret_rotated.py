"""secret-rotated: a Secrets Manager secret holds a new, working access key."""

from __future__ import annotations

from gameday.scenario.model import SecretRotated
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: SecretRotated, state: State, owner: str) -> Verdict:
    secret = state.secrets.get(params.secret)
    if secret is None:
        return Verdict(False, f"secret {params.secret} is not in the account")
    if secret.key_id is None:
        return Verdict(False, f"{params.secret} holds no access key")
    if secret.key_id == secret.seeded_key_id:
        return Verdict(False, f"{params.secret} still holds the key it was seeded with")
    key = state.keys.get(secret.key_id)
    if key is None or not key.active:
        state_now = "unknown" if key is None else ("deleted" if not key.exists else key.status)
        return Verdict(False, f"{params.secret} holds {secret.key_id}, which is {state_now}")
    return Verdict(True, f"{params.secret} holds the new active key {key.access_key_id}")


CHECK = register(
    CheckType(
        name="secret-rotated",
        title="A secret holds a new access key",
        description=(
            "Holds when the Secrets Manager `secret` holds an access key other than the one it "
            "was seeded with, and that key is Active. The journal never carries secret values: "
            "the gateway reports, as `result.SecretAccessKeyId` of PutSecretValue and "
            "UpdateSecret, the access key id found in the new value (JSON with "
            "`aws_access_key_id`)."
        ),
        params=SecretRotated,
        reads=("api:secretsmanager", "api:iam"),
        evaluate=evaluate,
        parameters={
            "secret": "the name of a secret of the estate",
        },
    )
)
