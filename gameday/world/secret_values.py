"""Access keys stored in secrets: how a service's secret value carries its key."""

from __future__ import annotations

import json

from gameday.world.decoys import Credential

_KEY_ID_NAMES = ("aws_access_key_id", "AccessKeyId", "accessKeyId", "AWS_ACCESS_KEY_ID")
_SECRET_NAMES = (
    "aws_secret_access_key",
    "SecretAccessKey",
    "secretAccessKey",
    "AWS_SECRET_ACCESS_KEY",
)


def _fields(secret_string: str) -> dict[str, object]:
    try:
        value = json.loads(secret_string)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _first(value: dict[str, object], names: tuple[str, ...]) -> str | None:
    for name in names:
        found = value.get(name)
        if isinstance(found, str):
            return found
    return None


def access_key_id_in(secret_string: str) -> str | None:
    """The access key id a secret's JSON value holds, if any."""
    return _first(_fields(secret_string), _KEY_ID_NAMES)


def credential_in(secret_string: str) -> Credential | None:
    """The whole access key (id and secret) a secret's JSON value holds, if any."""
    value = _fields(secret_string)
    key_id, secret = _first(value, _KEY_ID_NAMES), _first(value, _SECRET_NAMES)
    return Credential(key_id, secret) if key_id and secret else None
