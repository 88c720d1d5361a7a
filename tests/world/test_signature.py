"""Signatures made by botocore's own signers, checked by `gameday.world.signature`.

Every request here is signed by the class botocore uses for it (`SigV4Auth`, `S3SigV4Auth`,
`SigV4QueryAuth`, `S3SigV4QueryAuth`, `HmacV1Auth`, `HmacV1QueryAuth`) and handed to the
verifier as it would arrive on the wire: the path and query exactly as sent, the headers
as a WSGI server spells them.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.auth import (
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gameday.world.signature import (
    ALGORITHM,
    EMPTY_SHA256,
    STREAMING_SIGNED,
    HttpRequest,
    Signature,
    SignatureProblem,
    Verifier,
    check_time,
    environ_key,
    read_signature,
    signing_key,
)

KEY = Credentials("AKIAXFAZCUMLEXAMPLE1", "k3y/OfTheResponders+Secret0123456789abcd")
OTHER = Credentials("AKIAXFAZCUMLEXAMPLE2", "anotherSecretThatIsAlsoForty/Chars+ABCDE")
ENDPOINT = "http://127.0.0.1:40123"
SIGNED_AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def signing_time() -> Iterator[None]:
    # botocore's SigV4 signers read the time here, its SigV2 query signer from time.time().
    with (
        mock.patch(
            "botocore.auth.get_current_datetime", lambda *_, **__: SIGNED_AT.replace(tzinfo=None)
        ),
        mock.patch("botocore.auth.time.time", lambda: SIGNED_AT.timestamp()),
    ):
        yield


def wire(request: AWSRequest) -> HttpRequest:
    """The request as the gateway receives it."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = {environ_key(name): str(value) for name, value in prepared.headers.items()}
    headers.setdefault("HOST", url.netloc)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HttpRequest(prepared.method, url.path, url.query, headers, body)


def signed(
    signer: Any,
    method: str,
    path: str,
    *,
    body: bytes | str = b"",
    headers: dict[str, str] | None = None,
) -> HttpRequest:
    request = AWSRequest(method=method, url=f"{ENDPOINT}{path}", data=body, headers=headers or {})
    signer.add_auth(request)
    return wire(request)


def verify(request: HttpRequest, secret: str = KEY.secret_key) -> Signature:
    signature = read_signature(request)
    assert signature is not None
    Verifier().verify(request, signature, secret)
    return signature


IAM_FORM = "Action=CreateUser&UserName=svc%20backup&Version=2010-05-08"
JSON_BODY = '{"SecretId": "prod/web/database"}'


def header_cases() -> list[tuple[str, Any, str, str, dict[str, str], str]]:
    return [
        (
            "query protocol (IAM)",
            SigV4Auth(KEY, "iam", "us-east-1"),
            "POST",
            "/",
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            IAM_FORM,
        ),
        (
            "JSON protocol (Secrets Manager)",
            SigV4Auth(KEY, "secretsmanager", "eu-west-1"),
            "POST",
            "/",
            {
                "X-Amz-Target": "secretsmanager.GetSecretValue",
                "Content-Type": "application/x-amz-json-1.1",
            },
            JSON_BODY,
        ),
        (
            "REST with an encoded path and a sorted query",
            SigV4Auth(KEY, "lambda", "us-east-1"),
            "GET",
            "/2015-03-31/functions/my%20fn%3A1/configuration?Qualifier=%24LATEST&b=2&a=z&a=y",
            {},
            "",
        ),
        (
            "S3 object key with spaces, unicode, + and ~",
            S3SigV4Auth(KEY, "s3", "us-east-1"),
            "PUT",
            "/northwind-invoices/k%20a/%C3%BC%2B~.txt",
            {"Content-Type": "text/plain"},
            "hello",
        ),
        (
            "S3 listing with a prefix",
            S3SigV4Auth(KEY, "s3", "us-east-1"),
            "GET",
            "/northwind-invoices?list-type=2&prefix=2026%2F02%2F&delimiter=%2F",
            {},
            "",
        ),
    ]


@pytest.mark.parametrize(
    ("signer", "method", "path", "headers", "body"),
    [case[1:] for case in header_cases()],
    ids=[case[0] for case in header_cases()],
)
def test_header_signatures_from_botocore_verify_and_a_wrong_secret_does_not(
    signer: Any, method: str, path: str, headers: dict[str, str], body: str
) -> None:
    request = signed(signer, method, path, body=body, headers=headers)
    signature = verify(request)
    assert signature.scheme == "sigv4-header"
    assert signature.access_key_id == KEY.access_key
    assert signature.timestamp == SIGNED_AT
    with pytest.raises(SignatureProblem) as refused:
        verify(request, OTHER.secret_key)
    assert refused.value.kind == "mismatch"


def test_the_right_secret_of_another_key_does_not_sign_for_this_one() -> None:
    # Signed with OTHER's secret, but claiming KEY: the scope names KEY, the secret is wrong.
    impostor = Credentials(KEY.access_key, OTHER.secret_key)
    request = signed(SigV4Auth(impostor, "sts", "us-east-1"), "POST", "/", body="Action=X")
    with pytest.raises(SignatureProblem) as refused:
        verify(request)
    assert refused.value.kind == "mismatch"
    assert refused.value.details["AWSAccessKeyId"] == KEY.access_key


def test_a_body_changed_after_signing_is_caught() -> None:
    request = signed(SigV4Auth(KEY, "iam", "us-east-1"), "POST", "/", body=IAM_FORM)
    tampered = HttpRequest(
        request.method, request.path, request.query, request.headers, IAM_FORM.encode() + b"x"
    )
    with pytest.raises(SignatureProblem) as refused:
        verify(tampered)
    assert refused.value.kind == "mismatch"


def test_s3_checks_the_declared_body_hash_against_the_body() -> None:
    request = signed(S3SigV4Auth(KEY, "s3", "us-east-1"), "PUT", "/b/k", body="hello")
    tampered = HttpRequest(request.method, request.path, request.query, request.headers, b"bye")
    with pytest.raises(SignatureProblem) as refused:
        verify(tampered)
    assert (refused.value.kind, refused.value.s3_code) == ("body-hash", "XAmzContentSHA256Mismatch")


def test_an_unsigned_payload_is_accepted_as_declared() -> None:
    request = AWSRequest(method="PUT", url=f"{ENDPOINT}/b/k", data=b"not hashed")
    request.context["payload_signing_enabled"] = False
    SigV4Auth(KEY, "s3", "us-east-1").add_auth(request)
    unsigned = wire(request)
    assert unsigned.header("X-Amz-Content-SHA256") == "UNSIGNED-PAYLOAD"
    verify(unsigned)


def test_presigned_urls_verify_s3_and_query_services() -> None:
    s3 = AWSRequest(method="GET", url=f"{ENDPOINT}/northwind-invoices/2026/02/invoice%2010.pdf")
    S3SigV4QueryAuth(KEY, "s3", "us-east-1", expires=300).add_auth(s3)
    presigned = wire(s3)
    signature = verify(presigned)
    assert signature.scheme == "sigv4-query"
    assert signature.expires == SIGNED_AT + timedelta(seconds=300)

    sts = AWSRequest(
        method="POST",
        url=f"{ENDPOINT}/",
        data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    )
    SigV4QueryAuth(KEY, "sts", "us-east-1", expires=60).add_auth(sts)
    assert verify(wire(sts)).service == "sts"
    with pytest.raises(SignatureProblem):
        verify(presigned, OTHER.secret_key)


def test_s3_sigv2_header_and_presigned_query_verify() -> None:
    header = signed(HmacV1Auth(KEY), "GET", "/northwind-invoices/k?versionId=3&x=1", headers={})
    assert verify(header).scheme == "sigv2-header"
    query = AWSRequest(method="GET", url=f"{ENDPOINT}/northwind-invoices/a%20b.pdf")
    HmacV1QueryAuth(KEY, expires=120).add_auth(query)
    presigned = wire(query)
    signature = verify(presigned)
    assert signature.scheme == "sigv2-query"
    assert signature.expires == SIGNED_AT + timedelta(seconds=120)
    with pytest.raises(SignatureProblem):
        verify(presigned, OTHER.secret_key)


def test_a_session_token_is_read_from_the_header_or_the_query() -> None:
    temporary = Credentials("ASIAXFAZCUMLEXAMPLE3", KEY.secret_key, "the-session-token")
    request = signed(SigV4Auth(temporary, "sts", "us-east-1"), "POST", "/", body="Action=X")
    assert verify(request).session_token == "the-session-token"
    url = AWSRequest(method="GET", url=f"{ENDPOINT}/b/k")
    S3SigV4QueryAuth(temporary, "s3", "us-east-1", expires=60).add_auth(url)
    assert verify(wire(url)).session_token == "the-session-token"


# ── what cannot be read ────────────────────────────────────────────────────────────────────


def bare(query: str = "", **headers: str) -> HttpRequest:
    return HttpRequest(
        "POST", "/", query, {environ_key(k.replace("_", "-")): v for k, v in headers.items()}
    )


def test_an_unsigned_request_has_no_signature() -> None:
    assert read_signature(bare()) is None


@pytest.mark.parametrize(
    ("request_", "kind"),
    [
        # the forged form post: a credential in the query and nothing else
        (
            bare("X-Amz-Credential=AKIAXFAZCUMLEXAMPLE1/20260101/us-east-1/iam/aws4_request"),
            "incomplete",
        ),
        (
            bare(
                Authorization=f"{ALGORITHM} Credential=AKIA/20260101/us-east-1/iam/aws4_request",
                X_Amz_Date="20260101T120000Z",
            ),
            "incomplete",
        ),
        (bare(Authorization="Bearer abc"), "incomplete"),
        (bare("X-Amz-Signature=abc", Authorization="AWS4-HMAC-SHA256 Credential=x"), "incomplete"),
        (
            bare(
                Authorization=f"{ALGORITHM} Credential=AKIA/20251231/us-east-1/iam/aws4_request, "
                "SignedHeaders=host, Signature=00",
                X_Amz_Date="20260101T120000Z",
            ),
            "mismatch",
        ),
    ],
    ids=["credential only", "no signature", "other scheme", "two mechanisms", "scope date"],
)
def test_signatures_aws_would_not_try_are_refused_as_such(request_: HttpRequest, kind: str) -> None:
    with pytest.raises(SignatureProblem) as refused:
        read_signature(request_)
    assert refused.value.kind == kind


# ── time ───────────────────────────────────────────────────────────────────────────────────


def header_signature() -> Signature:
    signature = read_signature(signed(SigV4Auth(KEY, "sts", "us-east-1"), "POST", "/"))
    assert signature is not None
    return signature


@pytest.mark.parametrize("minutes", [-14.9, 0, 14.9])
def test_a_request_within_15_minutes_of_the_clock_is_in_time(minutes: float) -> None:
    check_time(header_signature(), [SIGNED_AT + timedelta(minutes=minutes)])


@pytest.mark.parametrize(
    ("minutes", "opening"), [(15.1, "Signature expired"), (-16, "Signature not yet current")]
)
def test_a_request_further_away_is_skewed_with_awss_message(minutes: float, opening: str) -> None:
    with pytest.raises(SignatureProblem) as refused:
        check_time(header_signature(), [SIGNED_AT + timedelta(minutes=minutes)])
    assert refused.value.kind == "skewed" and refused.value.message.startswith(opening)
    assert refused.value.s3_code == "RequestTimeTooSkewed"
    if minutes > 0:
        assert refused.value.message == (
            "Signature expired: 20260101T120000Z is now earlier than 20260101T120006Z "
            "(20260101T121506Z - 15 min.)"
        )


def test_any_of_the_clocks_given_may_accept_the_time() -> None:
    far = SIGNED_AT + timedelta(hours=3)
    check_time(header_signature(), [far, SIGNED_AT + timedelta(minutes=1)])


def test_a_presigned_url_is_good_until_it_expires() -> None:
    url = AWSRequest(method="GET", url=f"{ENDPOINT}/b/k")
    S3SigV4QueryAuth(KEY, "s3", "us-east-1", expires=600).add_auth(url)
    signature = read_signature(wire(url))
    assert signature is not None
    check_time(signature, [SIGNED_AT + timedelta(minutes=9)])
    check_time(signature, [SIGNED_AT - timedelta(minutes=14)])
    with pytest.raises(SignatureProblem) as refused:
        check_time(signature, [SIGNED_AT + timedelta(minutes=11)])
    assert (refused.value.kind, refused.value.s3_message) == ("expired", "Request has expired")
    assert refused.value.details["X-Amz-Expires"] == "600"
    with pytest.raises(SignatureProblem) as early:
        check_time(signature, [SIGNED_AT - timedelta(minutes=16)])
    assert early.value.kind == "not-yet-valid"


# ── chunked uploads ────────────────────────────────────────────────────────────────────────


def chunked(data: bytes, size: int, key: bytes, seed: str, stamp: str, scope: str) -> bytes:
    """An aws-chunked body, each chunk signed over the one before (AWS's chunked upload)."""
    out, previous = b"", seed
    pieces = [data[i : i + size] for i in range(0, len(data), size)] + [b""]
    for piece in pieces:
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                stamp,
                scope,
                previous,
                EMPTY_SHA256,
                sha256(piece).hexdigest(),
            ]
        )
        previous = hmac.new(key, to_sign.encode(), sha256).hexdigest()
        out += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece + b"\r\n"
    return out


class StreamingSigner(S3SigV4Auth):  # type: ignore[misc]
    """botocore's S3 signer, declaring a chunk-signed body as the Java SDK and CRT do."""

    def payload(self, request: Any) -> str:
        return STREAMING_SIGNED


def test_a_chunk_signed_upload_verifies_chunk_by_chunk() -> None:
    request = AWSRequest(
        method="PUT",
        url=f"{ENDPOINT}/b/big",
        headers={"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "20"},
    )
    StreamingSigner(KEY, "s3", "us-east-1").add_auth(request)
    head = wire(request)
    assert head.header("X-Amz-Content-SHA256") == STREAMING_SIGNED
    seed = read_signature(head)
    assert seed is not None
    key = signing_key(KEY.secret_key, "20260101", "us-east-1", "s3")
    body = chunked(b"0123456789abcdefghij", 8, key, seed.signature, seed.stamp, seed.scope)
    verify(HttpRequest(head.method, head.path, head.query, head.headers, body))
    forged = body.replace(b"01234567", b"76543210")
    with pytest.raises(SignatureProblem):
        verify(HttpRequest(head.method, head.path, head.query, head.headers, forged))
