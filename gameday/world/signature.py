"""Request signatures, checked as AWS checks them.

AWS authenticates every request by recomputing its signature with the secret of the key that
signed it; moto checks nothing. This module does AWS's part, with no moto and no I/O:

- `read_signature` says which key signed a request, how, for which region and service, and at
  what time — or raises `SignatureProblem` for a signature AWS would not even try;
- `check_time` refuses a request signed more than 15 minutes away from the server's clock,
  and a presigned URL used after it expired (or long before it was made);
- `Verifier.verify` recomputes the signature from the request as it arrived and the secret.

The schemes are the ones AWS's SDKs and CLI send:

- SigV4 in the `Authorization` header (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…,
  Signature=…`), with the time in `X-Amz-Date` (or `Date`);
- SigV4 in the query string, a presigned URL (`X-Amz-Algorithm`, `X-Amz-Credential`,
  `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`);
- S3's SigV2, in the header (`AWS AKID:signature`) and in the query (`AWSAccessKeyId`,
  `Signature`, `Expires`): botocore still presigns S3 URLs with it by default in the regions
  that accept it.

The canonical request is built the way botocore's signers build it (`botocore.auth.SigV4Auth`,
`S3SigV4Auth`, `SigV4QueryAuth`, `S3SigV4QueryAuth`, `HmacV1Auth`, `HmacV1QueryAuth`; the
tests sign with those and verify here): the path as sent, normalised and encoded once more for
every service but S3; the query re-encoded and sorted; the signed headers trimmed; the
payload's SHA-256 — or, when `x-amz-content-sha256` says so, `UNSIGNED-PAYLOAD` or a
`STREAMING-…` body whose chunk signatures are checked too. Signing keys are derived once per
secret, day, region and service.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import cached_property, lru_cache
from hashlib import sha1, sha256
from typing import Literal
from urllib.parse import quote, unquote

from botocore.auth import HmacV1Auth
from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_BASIC_TIME = re.compile(r"[0-9]{8}T[0-9]{6}Z")
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
EMPTY_SHA256 = sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_STREAMING = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_V4_QUERY_PARAMETERS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
)
# The query parameters S3's SigV2 signs (botocore's list).
_SIGV2_SUBRESOURCES = frozenset(HmacV1Auth.QSAOfInterest)

Scheme = Literal["sigv4-header", "sigv4-query", "sigv2-header", "sigv2-query"]
ProblemKind = Literal[
    "incomplete",  # a signature AWS cannot read: missing or malformed parts
    "mixed",  # a request that mixes two protocols (a form body with a presigned query …)
    "mismatch",  # the signature is not the one the key's secret gives
    "body-hash",  # x-amz-content-sha256 is not the hash of the body
    "skewed",  # signed more than 15 minutes away from the server's clock
    "expired",  # a presigned URL used after it expired
    "not-yet-valid",  # a presigned URL dated more than 15 minutes ahead
]


class SignatureProblem(Exception):
    """Why AWS would refuse a request's signature.

    `message` is what AWS says for most services; `s3_code` and `s3_message` what S3 says
    where it has its own words; `details` extra fields S3 adds to its error document.
    """

    def __init__(
        self,
        kind: ProblemKind,
        message: str,
        *,
        s3_code: str | None = None,
        s3_message: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ProblemKind = kind
        self.message = message
        self.s3_code = s3_code
        self.s3_message = s3_message
        self.details = dict(details or {})


def environ_key(header: str) -> str:
    """A header's name as a WSGI environ spells it, without the `HTTP_` prefix."""
    return header.upper().replace("-", "_")


@dataclass(frozen=True)
class HttpRequest:
    """A request as it arrived: `path` and `query` exactly as sent (percent-encoded).

    `headers` is keyed by `environ_key` (`X_AMZ_DATE`, `CONTENT_TYPE`, `HOST`): WSGI joins a
    repeated header's values with commas, as the signature's canonical form does.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(environ_key(name))

    @cached_property
    def query_pairs(self) -> tuple[tuple[str, str], ...]:
        """The query's (name, value) pairs, decoded (a `+` stays a `+`, as in SigV4)."""
        pairs = []
        for piece in self.query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                pairs.append((unquote(name), unquote(value)))
        return tuple(pairs)

    @cached_property
    def query_parameters(self) -> dict[str, str]:
        return dict(self.query_pairs)

    @cached_property
    def body_sha256(self) -> str:
        return sha256(self.body).hexdigest()


@dataclass(frozen=True)
class Signature:
    """How a request says it was signed."""

    scheme: Scheme
    access_key_id: str
    signature: str
    service: str = "s3"
    region: str = "us-east-1"
    scope_date: str = ""
    timestamp: datetime | None = None  # the request time it states (UTC)
    stamp: str = ""  # that time as the string to sign holds it
    expires: datetime | None = None  # presigned: not to be used after
    expires_seconds: int | None = None
    signed_headers: tuple[str, ...] = ()
    session_token: str | None = field(default=None, repr=False)

    @property
    def presigned(self) -> bool:
        return self.scheme in ("sigv4-query", "sigv2-query")

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{TERMINATOR}"


# ── reading what the request claims ────────────────────────────────────────────────────────


def read_signature(request: HttpRequest) -> Signature | None:
    """The signature the request carries; None for an unsigned request."""
    authorization = request.header("Authorization")
    parameters = request.query_parameters
    v4_query = any(name in parameters for name in _V4_QUERY_PARAMETERS)
    v2_query = "AWSAccessKeyId" in parameters or (
        "Signature" in parameters and "Expires" in parameters
    )
    if authorization is not None and (v4_query or v2_query):
        raise SignatureProblem(
            "incomplete",
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as "
            "HTTP header.",
            s3_code="InvalidArgument",
            s3_message=(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified"
            ),
        )
    if authorization is not None:
        if authorization.startswith(ALGORITHM + " "):
            return _sigv4_header(request, authorization)
        if authorization.startswith("AWS ") and ":" in authorization:
            return _sigv2_header(request, authorization)
        raise SignatureProblem(
            "incomplete",
            f"Authorization header requires 'Credential' parameter. Authorization header "
            f"requires 'Signature' parameter. Authorization={authorization}",
            s3_code="InvalidArgument",
            s3_message="Unsupported Authorization Type",
        )
    if v4_query:
        return _sigv4_query(request)
    if v2_query:
        return _sigv2_query(request)
    return None


def _credential(credential: str, *, presigned: bool) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    where = "X-Amz-Credential" if presigned else "Authorization header"
    if len(parts) != 5 or not all(parts):
        raise SignatureProblem(
            "incomplete",
            f"Credential should be scoped to a valid region. ({credential})",
            s3_message=(
                f"Error parsing the {where}; the Credential is mal-formed; expecting "
                '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            ),
        )
    access_key_id, day, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise SignatureProblem(
            "incomplete",
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'.",
            s3_message=f'Error parsing the {where}; incorrect terminal "{terminator}". '
            'This endpoint uses "aws4_request".',
        )
    return access_key_id, day, region, service


def _basic_time(value: str) -> datetime:
    try:
        if _BASIC_TIME.fullmatch(value):  # what every SDK sends: read without strptime
            return datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=UTC,
            )
        return datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureProblem(
            "incomplete",
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601",
            s3_message=f"Invalid date format: {value}",
        ) from None


def _http_time(value: str) -> datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise SignatureProblem(
            "incomplete",
            f"Invalid date in the Date header: '{value}'",
            s3_code="AccessDenied",
            s3_message="AWS authentication requires a valid Date or x-amz-date header",
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _same_day(scope_date: str, stamp: str, *, presigned: bool) -> None:
    if scope_date != stamp[:8]:
        where = "X-Amz-Credential" if presigned else "Authorization header"
        raise SignatureProblem(
            "mismatch",
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope_date}' != '{stamp[:8]}', from '{stamp}'.",
            s3_code="AuthorizationQueryParametersError"
            if presigned
            else "AuthorizationHeaderMalformed",
            s3_message=f"Error parsing the {where}; Invalid credential date. Date is not the "
            "same as X-Amz-Date.",
        )


def _sigv4_header(request: HttpRequest, authorization: str) -> Signature:
    fields: dict[str, str] = {}
    for piece in authorization[len(ALGORITHM) :].split(","):
        name, sep, value = piece.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if name not in fields]
    x_amz_date = request.header("X-Amz-Date")
    date = request.header("Date")
    if missing or (x_amz_date is None and date is None):
        said = " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        if x_amz_date is None and date is None:
            said += (
                " Authorization header requires existence of either a 'X-Amz-Date' or a "
                "'Date' header."
            )
        raise SignatureProblem(
            "incomplete",
            f"{said.strip()} Authorization={authorization}",
            s3_code="AuthorizationHeaderMalformed",
            s3_message="The authorization header is malformed; " + said.strip(),
        )
    access_key_id, day, region, service = _credential(fields["Credential"], presigned=False)
    if x_amz_date is not None:
        timestamp, stamp = _basic_time(x_amz_date), x_amz_date
    else:
        timestamp = _http_time(str(date))
        stamp = timestamp.strftime(TIMESTAMP_FORMAT)
    _same_day(day, stamp, presigned=False)
    return Signature(
        scheme="sigv4-header",
        access_key_id=access_key_id,
        signature=fields["Signature"],
        service=service,
        region=region,
        scope_date=day,
        timestamp=timestamp,
        stamp=stamp,
        signed_headers=tuple(h for h in fields["SignedHeaders"].split(";") if h),
        session_token=request.header("X-Amz-Security-Token"),
    )


def _sigv4_query(request: HttpRequest) -> Signature:
    parameters = request.query_parameters
    missing = [name for name in _V4_QUERY_PARAMETERS if name not in parameters]
    credential = parameters.get("X-Amz-Credential", "")
    service = credential.split("/")[3] if credential.count("/") == 4 else ""
    if service == "s3" and "X-Amz-Expires" not in parameters:
        missing.append("X-Amz-Expires")
    if missing:
        raise SignatureProblem(
            "incomplete",
            "AWS query-string parameters must include "
            + ", ".join(f"'{name}'" for name in missing)
            + ". Re-examine the query-string parameters.",
            s3_code="AuthorizationQueryParametersError",
            s3_message="Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.",
        )
    if parameters["X-Amz-Algorithm"] != ALGORITHM:
        raise SignatureProblem(
            "incomplete",
            f"Unsupported AWS 'algorithm': '{parameters['X-Amz-Algorithm']}'",
            s3_code="AuthorizationQueryParametersError",
            s3_message=f'X-Amz-Algorithm only supports "{ALGORITHM}"',
        )
    access_key_id, day, region, service = _credential(credential, presigned=True)
    stamp = parameters["X-Amz-Date"]
    timestamp = _basic_time(stamp)
    _same_day(day, stamp, presigned=True)
    seconds: int | None = None
    if "X-Amz-Expires" in parameters:
        try:
            seconds = int(parameters["X-Amz-Expires"])
        except ValueError:
            seconds = -1
        if not 0 <= seconds <= MAX_PRESIGNED_SECONDS:
            raise SignatureProblem(
                "incomplete",
                f"X-Amz-Expires must be between 0 and {MAX_PRESIGNED_SECONDS} seconds.",
                s3_code="AuthorizationQueryParametersError",
                s3_message=(
                    "X-Amz-Expires must be less than a week (in seconds) that is 604800"
                    if seconds > MAX_PRESIGNED_SECONDS
                    else "X-Amz-Expires must be non-negative"
                ),
            )
    return Signature(
        scheme="sigv4-query",
        access_key_id=access_key_id,
        signature=parameters["X-Amz-Signature"],
        service=service,
        region=region,
        scope_date=day,
        timestamp=timestamp,
        stamp=stamp,
        expires=timestamp + timedelta(seconds=seconds) if seconds is not None else None,
        expires_seconds=seconds,
        signed_headers=tuple(h for h in parameters["X-Amz-SignedHeaders"].split(";") if h),
        session_token=parameters.get("X-Amz-Security-Token"),
    )


def _sigv2_header(request: HttpRequest, authorization: str) -> Signature:
    access_key_id, _, signature = authorization[len("AWS ") :].strip().partition(":")
    stated = request.header("X-Amz-Date") or request.header("Date")
    if not stated:
        raise SignatureProblem(
            "incomplete",
            "AWS authentication requires a valid Date or x-amz-date header",
            s3_code="AccessDenied",
        )
    timestamp = _http_time(stated)
    return Signature(
        scheme="sigv2-header",
        access_key_id=access_key_id,
        signature=signature,
        timestamp=timestamp,
        stamp=timestamp.strftime(TIMESTAMP_FORMAT),
        session_token=request.header("X-Amz-Security-Token"),
    )


def _sigv2_query(request: HttpRequest) -> Signature:
    parameters = request.query_parameters
    missing = [n for n in ("AWSAccessKeyId", "Signature", "Expires") if n not in parameters]
    try:
        expires = datetime.fromtimestamp(int(parameters.get("Expires", "")), UTC)
    except (ValueError, OverflowError, OSError):
        missing.append("Expires")
    if missing:
        raise SignatureProblem(
            "incomplete",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId "
            "parameters",
            s3_code="AccessDenied",
        )
    return Signature(
        scheme="sigv2-query",
        access_key_id=parameters["AWSAccessKeyId"],
        signature=parameters["Signature"],
        expires=expires,
        session_token=parameters.get("x-amz-security-token"),
    )


# ── time ───────────────────────────────────────────────────────────────────────────────────


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_time(signature: Signature, clocks: Sequence[datetime]) -> None:
    """Refuse a request whose time is not acceptable on any of `clocks` (the first is the
    server's own and is the one error messages quote).

    A signed request must be dated within 15 minutes of the server's time either way; a
    presigned URL is good from 15 minutes before its date until its expiry.
    """
    now = clocks[0]
    if signature.presigned:
        expires = signature.expires
        if expires is None and signature.timestamp is not None:
            expires = signature.timestamp + MAX_SKEW
        if expires is not None and all(clock > expires for clock in clocks):
            raise SignatureProblem(
                "expired",
                f"Signature expired: {_stamp(expires)} is now earlier than {_stamp(now)}.",
                s3_code="AccessDenied",
                s3_message="Request has expired",
                details={
                    **(
                        {"X-Amz-Expires": str(signature.expires_seconds)}
                        if signature.expires_seconds is not None
                        else {}
                    ),
                    "Expires": _iso(expires),
                    "ServerTime": _iso(now),
                },
            )
        start = signature.timestamp
        if start is not None and all(clock < start - MAX_SKEW for clock in clocks):
            raise SignatureProblem(
                "not-yet-valid",
                f"Signature not yet current: {signature.stamp} is still later than "
                f"{_stamp(now + MAX_SKEW)} ({_stamp(now)} + 15 min.)",
                s3_code="AccessDenied",
                s3_message="Request is not valid yet",
            )
        return
    moment = signature.timestamp
    if moment is None or any(abs(clock - moment) <= MAX_SKEW for clock in clocks):
        return
    details = {
        "RequestTime": signature.stamp,
        "ServerTime": _iso(now),
        "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000)),
    }
    s3_message = "The difference between the request time and the current time is too large."
    if moment < now:
        message = (
            f"Signature expired: {signature.stamp} is now earlier than "
            f"{_stamp(now - MAX_SKEW)} ({_stamp(now)} - 15 min.)"
        )
    else:
        message = (
            f"Signature not yet current: {signature.stamp} is still later than "
            f"{_stamp(now + MAX_SKEW)} ({_stamp(now)} + 15 min.)"
        )
    raise SignatureProblem(
        "skewed", message, s3_code="RequestTimeTooSkewed", s3_message=s3_message, details=details
    )


# ── the signature itself ───────────────────────────────────────────────────────────────────


@lru_cache(maxsize=4096)
def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """SigV4's derived key: one HMAC chain per secret, day, region and service."""
    key = hmac.new(f"AWS4{secret}".encode(), day.encode(), sha256).digest()
    for part in (region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), sha256).digest()
    return key


def _hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), sha256).hexdigest()


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(request: HttpRequest, *, leave_out: str | None = None) -> str:
    """The query's pairs, URI-encoded and sorted by name, then value."""
    pairs = sorted(
        (_encode(name), _encode(value)) for name, value in request.query_pairs if name != leave_out
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_path(request: HttpRequest, service: str) -> str:
    """S3 signs the path as sent; every other service its normalised form, encoded again."""
    path = request.path or "/"
    if service == "s3":
        return path
    return quote(normalize_url_path(path), safe="/~")


def canonical_headers(request: HttpRequest, names: Sequence[str]) -> str:
    lines = []
    for name in names:
        value = request.header(name) or ""
        lines.append(f"{name}:{' '.join(value.split())}")
    return "\n".join(lines) + "\n"


def payload_hash(request: HttpRequest, signature: Signature) -> str:
    """What the canonical request holds in place of the body."""
    declared = request.header("X-Amz-Content-SHA256")
    if signature.scheme == "sigv4-query":
        if signature.service == "s3":
            return declared or UNSIGNED_PAYLOAD
        return declared or request.body_sha256
    if declared is None:
        if signature.service == "s3":
            raise SignatureProblem(
                "incomplete",
                "Missing required header for this request: x-amz-content-sha256",
                s3_code="InvalidRequest",
            )
        return request.body_sha256
    if declared == UNSIGNED_PAYLOAD or declared in _STREAMING:
        return declared
    if not _SHA256_HEX.fullmatch(declared):
        raise SignatureProblem(
            "incomplete",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or "
            "a valid sha256 value.",
            s3_code="InvalidArgument",
        )
    if declared != request.body_sha256:
        raise SignatureProblem(
            "body-hash",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
            s3_code="XAmzContentSHA256Mismatch",
            s3_message="The provided 'x-amz-content-sha256' header does not match what was "
            "computed.",
            details={
                "ClientComputedContentSHA256": declared,
                "S3ComputedContentSHA256": request.body_sha256,
            },
        )
    return declared


def canonical_request(request: HttpRequest, signature: Signature) -> str:
    """SigV4's canonical request, as botocore builds it when it signs."""
    return "\n".join(
        [
            request.method.upper(),
            canonical_path(request, signature.service),
            canonical_query(
                request,
                leave_out="X-Amz-Signature" if signature.scheme == "sigv4-query" else None,
            ),
            canonical_headers(request, signature.signed_headers),
            ";".join(signature.signed_headers),
            payload_hash(request, signature),
        ]
    )


def string_to_sign(signature: Signature, canonical: str) -> str:
    return "\n".join(
        [
            ALGORITHM,
            signature.stamp,
            signature.scope,
            sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )


def sigv2_string_to_sign(request: HttpRequest, signature: Signature) -> str:
    """S3's SigV2 string to sign, as botocore's `HmacV1Auth` / `HmacV1QueryAuth` build it."""
    presigned = signature.scheme == "sigv2-query"
    parameters = request.query_parameters

    def standard(name: str) -> str:
        value = request.header(name)
        if value is None and presigned:
            value = parameters.get(name)
        return (value or "").strip()

    if presigned:
        date = parameters.get("Expires", "")
    else:
        date = "" if request.header("X-Amz-Date") is not None else standard("Date")
    custom: dict[str, str] = {}
    for key, value in request.headers.items():
        if key.startswith("X_AMZ_"):
            custom[key.lower().replace("_", "-")] = value.strip()
    if presigned:
        for name, value in request.query_pairs:
            if name.lower().startswith("x-amz-"):
                custom.setdefault(name.lower(), value.strip())
    resource = request.path or "/"
    subresources = sorted(
        (name, value) for name, value in request.query_pairs if name in _SIGV2_SUBRESOURCES
    )
    if subresources:
        resource += "?" + "&".join(
            f"{name}={value}" if value or _has_equals(request.query, name) else name
            for name, value in subresources
        )
    lines = [request.method.upper(), standard("Content-MD5"), standard("Content-Type"), date]
    lines.extend(f"{name}:{custom[name]}" for name in sorted(custom))
    return "\n".join([*lines, resource])


def _has_equals(query: str, name: str) -> bool:
    return any(piece.startswith(f"{_encode(name)}=") for piece in query.split("&"))


@dataclass(frozen=True)
class Computed:
    """What the server computed, for the error document S3 returns on a mismatch."""

    canonical_request: str
    string_to_sign: str


class Verifier:
    """Recomputes signatures: `verify` returns None when the one given is right."""

    def verify(self, request: HttpRequest, signature: Signature, secret: str) -> None:
        if signature.scheme in ("sigv2-header", "sigv2-query"):
            self._verify_sigv2(request, signature, secret)
            return
        canonical = canonical_request(request, signature)
        to_sign = string_to_sign(signature, canonical)
        key = signing_key(secret, signature.scope_date, signature.region, signature.service)
        if not hmac.compare_digest(_hmac_hex(key, to_sign), signature.signature.lower()):
            raise _mismatch(signature, Computed(canonical, to_sign))
        declared = request.header("X-Amz-Content-SHA256")
        if signature.scheme == "sigv4-header" and declared in (
            STREAMING_SIGNED,
            STREAMING_SIGNED_TRAILER,
        ):
            _verify_chunks(request.body, signature, key)

    def _verify_sigv2(self, request: HttpRequest, signature: Signature, secret: str) -> None:
        to_sign = sigv2_string_to_sign(request, signature)
        expected = base64.b64encode(
            hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), sha1).digest()
        ).decode("ascii")
        if not hmac.compare_digest(expected, signature.signature):
            raise _mismatch(signature, Computed("", to_sign))


_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation "
    "for details."
)


def _mismatch(signature: Signature, computed: Computed) -> SignatureProblem:
    details = {
        "AWSAccessKeyId": signature.access_key_id,
        "StringToSign": computed.string_to_sign,
        "SignatureProvided": signature.signature,
    }
    if computed.canonical_request:
        details["CanonicalRequest"] = computed.canonical_request
    return SignatureProblem(
        "mismatch",
        _MISMATCH,
        s3_message="The request signature we calculated does not match the signature you "
        "provided. Check your key and signing method.",
        details=details,
    )


def _verify_chunks(body: bytes, signature: Signature, key: bytes) -> None:
    """Each chunk of an `aws-chunked` body signs its data and the chunk before it."""
    previous = signature.signature.lower()
    position = 0
    while True:
        end = body.find(b"\r\n", position)
        if end < 0:
            raise _chunk_problem("a chunk header is cut short")
        header = body[position:end].decode("ascii", "replace")
        size_text, _, extension = header.partition(";")
        name, _, chunk_signature = extension.partition("=")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _chunk_problem(f"bad chunk size {size_text!r}") from None
        if name.strip() != "chunk-signature":
            raise _chunk_problem("a chunk carries no chunk-signature")
        data = body[end + 2 : end + 2 + size]
        if len(data) != size:
            raise _chunk_problem("a chunk is shorter than its size")
        expected = _hmac_hex(
            key,
            "\n".join(
                [
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    signature.stamp,
                    signature.scope,
                    previous,
                    EMPTY_SHA256,
                    sha256(data).hexdigest(),
                ]
            ),
        )
        if not hmac.compare_digest(expected, chunk_signature.strip().lower()):
            raise _chunk_problem("a chunk's signature does not match")
        previous = expected
        position = end + 2 + size
        if size == 0:
            break
        if body[position : position + 2] != b"\r\n":
            raise _chunk_problem("a chunk does not end with CRLF")
        position += 2
    trailer = body[position:]
    if signature_value := _trailer_signature(trailer):
        lines, given = signature_value
        expected = _hmac_hex(
            key,
            "\n".join(
                [
                    "AWS4-HMAC-SHA256-TRAILER",
                    signature.stamp,
                    signature.scope,
                    previous,
                    sha256(lines.encode("utf-8")).hexdigest(),
                ]
            ),
        )
        if not hmac.compare_digest(expected, given):
            raise _chunk_problem("the trailer's signature does not match")


def _trailer_signature(trailer: bytes) -> tuple[str, str] | None:
    """The trailing headers as signed (`name:value\\n` each) and their signature, if any."""
    text = trailer.decode("utf-8", "replace")
    lines: list[str] = []
    given: str | None = None
    for line in text.split("\r\n"):
        if not line:
            continue
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-amz-trailer-signature":
            given = value.strip().lower()
        else:
            lines.append(f"{name.strip().lower()}:{value.strip()}\n")
    return ("".join(lines), given) if given is not None else None


def _chunk_problem(what: str) -> SignatureProblem:
    return SignatureProblem(
        "mismatch",
        f"{_MISMATCH} ({what})",
        s3_message="The request signature we calculated does not match the signature you "
        f"provided. Check your key and signing method. ({what})",
    )
