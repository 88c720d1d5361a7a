"""An IAM user's temporary credentials (`sts:GetSessionToken`), which moto only pretends to mint.

moto answers `GetSessionToken` with AWS's documentation example key, which nothing accepts.
Here the gateway mints a real temporary key of the calling user (`ASIA…`, in moto's IAM
backend so the gateway finds it like any key) that acts as that user: the user's policies
apply to it (the quarantine included), it carries `aws:TokenIssueTime` (its creation on the
run clock), it ends when it expires or the user is deleted — and, as in AWS, it keeps working
when the long-term key that asked for it is deactivated or deleted.

The session token is derived from the key's id and secret, so a recovery that gives a
replayed key back its recorded id and secret gives it back its token too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

DEFAULT_DURATION_S = 43_200  # 12 hours
MIN_DURATION_S = 900
MAX_DURATION_S = 129_600  # 36 hours


class SessionRefused(Exception):
    """A GetSessionToken AWS refuses, with its error code and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class UserSession:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime


def session_token(key: Any) -> str:
    """The token that goes with a user session's key (AWS's are long opaque base64 strings)."""
    digest = b"".join(
        hmac.new(
            str(key.secret_access_key).encode(),
            f"gameday-session:{key.access_key_id}:{block}".encode(),
            hashlib.sha256,
        ).digest()
        for block in range(6)
    )
    return "IQoJb3JpZ2luX2Vj" + base64.b64encode(digest).decode("ascii")


def is_user_session(key: Any) -> bool:
    return getattr(key, "session_expiration", None) is not None


def duration_of(params: dict[str, Any]) -> int:
    raw = params.get("DurationSeconds")
    try:
        duration = int(raw) if raw not in (None, "") else DEFAULT_DURATION_S
    except (TypeError, ValueError) as error:
        raise SessionRefused("ValidationError", f"Invalid DurationSeconds: {raw}") from error
    if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        bound = (
            f"greater than or equal to {MIN_DURATION_S}"
            if duration < MIN_DURATION_S
            else f"less than or equal to {MAX_DURATION_S}"
        )
        raise SessionRefused(
            "ValidationError",
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value {bound}",
        )
    return duration


def mint_user_session(iam_backend: Any, user_name: str, duration: int) -> UserSession:
    """A temporary key of `user_name` in moto's IAM backend, valid for `duration` seconds."""
    key = iam_backend.create_temp_access_key()  # ASIA…, stamped on the run clock by moto
    key.user_name = user_name
    created = key.create_date if isinstance(key.create_date, datetime) else datetime.now(UTC)
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    key.session_expiration = created + timedelta(seconds=duration)
    return UserSession(
        str(key.access_key_id),
        str(key.secret_access_key),
        session_token(key),
        key.session_expiration,
    )


def session_response(session: UserSession, request_id: str) -> bytes:
    """STS's XML answer to GetSessionToken."""
    expiration = session.expiration.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        '<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetSessionTokenResult><Credentials>"
        f"<AccessKeyId>{session.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{escape(session.secret_access_key)}</SecretAccessKey>"
        f"<SessionToken>{escape(session.session_token)}</SessionToken>"
        f"<Expiration>{expiration}</Expiration>"
        "</Credentials></GetSessionTokenResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetSessionTokenResponse>"
    ).encode()


def caller_identity_response(user_id: str, account_id: str, arn: str, request_id: str) -> bytes:
    """STS's XML answer to GetCallerIdentity for a user's key or session (moto knows only
    keys a user lists, which a session's is not)."""
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<GetCallerIdentityResult><Arn>{escape(arn)}</Arn><UserId>{user_id}</UserId>"
        f"<Account>{account_id}</Account></GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    ).encode()
