"""The gateway: a WSGI layer in front of moto that makes the mock behave like AWS where it counts.

For every request it
- works out which service serves it, by asking moto's own dispatcher once (`routing.Routes`)
  and handing the request to that backend itself: the service and action journaled are
  those moto serves;
- authenticates it as AWS does (moto checks nothing; `signature`): the SigV4 (or S3 SigV2)
  signature recomputed with the secret of the signing key — an IAM access key, an STS
  session's key with its session token, or the framework's own credential — and refused
  with the error AWS gives in that protocol: an unknown, Inactive or deleted key
  (`InvalidClientTokenId`, EC2's `AuthFailure`, JSON's `UnrecognizedClientException`, S3's
  `InvalidAccessKeyId`), a wrong signature (`SignatureDoesNotMatch`, EC2's `AuthFailure`,
  JSON's `InvalidSignatureException`), a request dated more than 15 minutes from the run
  clock (`SignatureDoesNotMatch` "Signature expired", EC2's `RequestExpired`, S3's
  `RequestTimeTooSkewed`), an expired presigned URL (S3's `AccessDenied` "Request has
  expired"), a credential scoped to another service than the one moto would serve it as, a
  request signed for a region of another partition (China, GovCloud: AWSs of their own whose
  IAM never heard of the account's keys, so the key is unknown there);
- refuses what no SDK sends and a web page can: any request with an `Origin` header (a
  browser's), and requests that mix protocols (a form body with a presigned query, an
  `X-Amz-Target` with an `Action`);
- refuses an action matched by an explicit Deny in a policy attached to the caller
  (the quarantine policies, a deny-all, a role's "revoke older sessions" deny on the
  `aws:TokenIssueTime` of temporary credentials) with AWS's `AccessDenied` and the message
  naming the resource AWS names; right after AWS's quarantine lands, reads it denies are
  still served for a few seconds (IAM is eventually consistent: `Gateway.quarantined`);
- answers what moto lacks itself: CloudTrail `LookupEvents` (from the journal) and Support;
  cuts moto's `DescribeRegions` to the account's partition;
- journals the call as `api.call` (secrets redacted) with its HTTP status and AWS error code
  — a refused call too, as refused;
- keeps, for each successful call that changes state, the request as sent and the response in
  the run's private vault (`Vault`), which is what `gameday recover` rebuilds the mock from.

Time: AWS holds a request's date to its own clock; the mock holds it to the run clock. The
exercise's clients sign on the run clock (`account.MockSession`), so a virtual-time run,
months away from real time, is served like any other; people sign with their machine's time,
which a wall-clock run's clock follows (and which stays good while such a run is paused or
sped up: `Gateway.clocks`).

Actors: the framework registers which key belongs to which actor (`KeyRegistry`). A key
created by a call (`CreateAccessKey`, STS credentials) belongs to the creator's actor. The
framework's own clients prove themselves with a per-run token header; a request signed with
an attacker's or workload's key that lacks it comes from a person holding that key, so it is
journaled as `responder` (with `key_actor` saying whose key it was). A request signed with
the framework's credential (`Gateway.framework_credential`, in no IAM backend) is AWS acting
in the account: it reaches moto in `account_id`, no key status or deny applies, and it is
journaled as `framework` with an `AWSService` principal invoked by "AWS Internal". Only the
framework's clients may set the source IP and user agent recorded for their calls.
"""

from __future__ import annotations

import base64
import functools
import hmac
import io
import json
import os
import re
import sys
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlsplit
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from gameday.journal import Event, Journal, RunClock, iso, time_at
from gameday.world.cloudtrail import CloudTrailError, CloudTrailEvents, is_read_only
from gameday.world.decoys import Credential
from gameday.world.quarantine import (
    INLINE_QUARANTINE_POLICY_NAME,
    QUARANTINE_POLICY_ARNS,
    Denial,
    explicit_deny,
)
from gameday.world.routing import (
    Routes,
    outside_partition,
    service_of,
)
from gameday.world.secret_values import access_key_id_in
from gameday.world.sessions import (
    SessionRefused,
    caller_identity_response,
    duration_of,
    is_user_session,
    mint_user_session,
    session_response,
    session_token,
)
from gameday.world.signature import (
    HttpRequest,
    Signature,
    SignatureProblem,
    Verifier,
    check_time,
    read_signature,
)
from gameday.world.support import SupportCenter, SupportError

Actor = Literal["attacker", "responder", "workload", "framework"]
ACTORS: tuple[Actor, ...] = ("attacker", "responder", "workload", "framework")

CLIENT_HEADER = "X-Gameday-Client"
SOURCE_IP_HEADER = "X-Gameday-Source-Ip"
USER_AGENT_HEADER = "X-Gameday-User-Agent"
ACTOR_HEADER = "X-Gameday-Actor"  # a framework client says whose hands it is (with the token)
_DECLARABLE_ACTORS = frozenset({"attacker", "workload", "framework"})
_GAMEDAY_ENVIRON_PREFIX = "HTTP_X_GAMEDAY_"
MOTO_ACCOUNT_HEADER = "HTTP_X_MOTO_ACCOUNT_ID"

_CLAIMED_KEY = re.compile(r"Credential=([A-Za-z0-9]+)/|^AWS ([A-Za-z0-9]+):")
_AUTH_PARAMETERS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
        "AWSAccessKeyId",
        "Signature",
        "Expires",
    }
)
_ACCESS_KEY_IN_RESPONSE = re.compile(r"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>")
_INSTANCE_IN_RESPONSE = re.compile(r"<instanceId>(i-[0-9a-f]+)</instanceId>")
_SPOT_REQUEST_IN_RESPONSE = re.compile(
    r"<spotInstanceRequestId>(sir-[0-9a-z]+)</spotInstanceRequestId>"
)
_EXPIRATION_IN_RESPONSE = re.compile(r"<Expiration>([^<]+)</Expiration>")
_POLICY_ARN_IN_RESPONSE = re.compile(r"<Arn>(arn:aws:iam::\d{12}:policy/[^<]+)</Arn>")
_SECRET_WRITES = frozenset({"CreateSecret", "PutSecretValue", "UpdateSecret"})
_XML_ERROR_CODE = re.compile(rb"<Code>([^<]+)</Code>")
_XML_ERROR_MESSAGE = re.compile(rb"<Message>([^<]*)</Message>")

# Signing names that differ from the service's prefix in IAM actions.
IAM_PREFIXES = {"email": "ses", "monitoring": "cloudwatch"}
REST_XML_SERVICES = frozenset({"route53", "cloudfront"})
SENSITIVE_PARAMETERS = frozenset(
    {
        "secretaccesskey",
        "secretstring",
        "secretbinary",
        "password",
        "newpassword",
        "oldpassword",
        "sessiontoken",
        "privatekey",
        "communicationbody-attachment",
    }
)
MAX_PARAMETER_LENGTH = 2048
# S3 operations whose IAM action has another name.
S3_IAM_ACTIONS = {
    "ListBuckets": "ListAllMyBuckets",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "ListObjectVersions": "ListBucketVersions",
    "DeleteObjects": "DeleteObject",
    "CopyObject": "PutObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "GetBucketCors": "GetBucketCORS",
    "PutBucketCors": "PutBucketCORS",
}
# Request parameters that name a resource, for CloudTrail's `Resources`.
RESOURCE_PARAMETERS = {
    "UserName": "AWS::IAM::User",
    "RoleName": "AWS::IAM::Role",
    "GroupName": "AWS::IAM::Group",
    "PolicyArn": "AWS::IAM::Policy",
    "AccessKeyId": "AWS::IAM::AccessKey",
    "InstanceProfileName": "AWS::IAM::InstanceProfile",
    "Bucket": "AWS::S3::Bucket",
    "SecretId": "AWS::SecretsManager::Secret",
    "FunctionName": "AWS::Lambda::Function",
    "Name": "AWS::CloudTrail::Trail",
    "InstanceId": "AWS::EC2::Instance",
}
_RESOURCE_PARAMETER_SERVICES = {"Name": "cloudtrail"}

# After AWS attaches its quarantine, reads it denies may still be served this long (IAM is
# eventually consistent; in the field report List/Describe calls 13 s later still worked).
READS_STILL_SERVED_S = 15.0
# AWS answers these whatever the caller's policies say.
NEVER_DENIED = frozenset({"sts:GetCallerIdentity"})

# How many request shapes the REST operation matcher remembers before it starts afresh.
_MATCHED_SHAPES = 4096

Protocol = Literal["query", "ec2", "json", "rest-json", "rest-xml", "s3"]


# ── moto's sense of time ───────────────────────────────────────────────────────────────────


class MotoTime:
    """moto's `utcnow`, answering the run clock of the request being served.

    moto stamps what it creates (keys, users, instances, tokens) with
    `moto.core.utils.utcnow`. Once installed, that function returns the run clock's time in
    any thread that is `following` a clock (the gateway follows its clock while it serves a
    request) and real UTC everywhere else, so another moto server in the process keeps
    real time.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._installed = False

    def now(self) -> datetime:
        clock: RunClock | None = getattr(self._local, "clock", None)
        if clock is None:
            return datetime.now(UTC).replace(tzinfo=None)
        return time_at(clock, clock.now()).astimezone(UTC).replace(tzinfo=None)

    @contextmanager
    def following(self, clock: RunClock) -> Iterator[None]:
        previous = getattr(self._local, "clock", None)
        self._local.clock = clock
        try:
            yield
        finally:
            self._local.clock = previous

    def install(self) -> None:
        with self._lock:
            if self._installed:
                return
            import moto.core.utils as moto_utils

            original = moto_utils.utcnow
            setattr(moto_utils, "utcnow", self.now)  # noqa: B010
            # Modules already imported hold their own reference; later imports get ours.
            for name, module in list(sys.modules.items()):
                if name.startswith("moto.") and getattr(module, "utcnow", None) is original:
                    setattr(module, "utcnow", self.now)  # noqa: B010
            self._installed = True


moto_time = MotoTime()


# ── the vault: what a recovery needs and the journal must not hold ─────────────────────────

VAULT_FILE = ".vault.jsonl"


class Vault:
    """`RUN_DIR/.vault.jsonl`: each state-changing call as it was really sent, and its answer.

    The journal redacts secrets and keeps request parameters only, which is not enough to
    rebuild the mock after a crash: a secret written, a key minted (its secret key), an S3
    body. For every call that succeeds and is not read-only, the gateway appends one line —
    `entry` (1, 2, 3 …), `service`, `action`, the `request` (method, path, query, headers, body
    in base64) and the `response` (status, headers, body in base64) — and syncs it before the
    `api.call` event that names it (`vault`: the entry) is journaled, so the journal never
    names an entry the vault lacks. The file is created 0600 and holds decoy secrets only:
    keys and values that exist nowhere but in the mock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries = max(read_vault(path), default=0) if path.exists() else 0

    def append(self, record: Mapping[str, Any]) -> int:
        """Write `record` as the next entry, synced to the disk; its entry number."""
        with self._lock:
            self._entries += 1
            line = json.dumps({"entry": self._entries, **record}, separators=(",", ":")) + "\n"
            data = line.encode("utf-8")
            handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                while data:
                    data = data[os.write(handle, data) :]
                os.fsync(handle)
            finally:
                os.close(handle)
            return self._entries


def read_vault(path: Path) -> dict[int, dict[str, Any]]:
    """A vault's entries by number; a torn last line (a crash mid-write) is left out."""
    entries: dict[int, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                break
            record = json.loads(line)
            entries[int(record["entry"])] = record
    return entries


def vault_body(record: Mapping[str, Any]) -> bytes:
    """The body of a vault entry's `request` or `response`."""
    return base64.b64decode(str(record.get("body") or ""))


# ── who holds which key ────────────────────────────────────────────────────────────────────


class KeyRegistry:
    """Which exercise actor each access key belongs to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._actors: dict[str, Actor] = {}

    def register(self, access_key_id: str, actor: Actor) -> None:
        if actor not in ACTORS:
            raise ValueError(f"unknown actor {actor!r}; use one of {', '.join(ACTORS)}")
        with self._lock:
            self._actors[access_key_id] = actor

    def inherit(self, access_key_id: str, actor: Actor) -> None:
        """A key created by `actor`: theirs, unless the framework registered it already."""
        with self._lock:
            self._actors.setdefault(access_key_id, actor)

    def actor_of(self, access_key_id: str | None) -> Actor | None:
        if access_key_id is None:
            return None
        with self._lock:
            return self._actors.get(access_key_id)

    def clear(self) -> None:
        with self._lock:
            self._actors.clear()


# ── one request, as the gateway sees it ────────────────────────────────────────────────────


@dataclass
class Call:
    protocol: Protocol
    service: str
    signing_name: str
    action: str
    region: str
    access_key_id: str | None
    params: dict[str, Any]
    method: str
    source_ip: str
    user_agent: str
    actor: Actor = "responder"
    key_actor: Actor | None = None
    principal: dict[str, Any] = field(default_factory=dict)
    request_id: str = field(default_factory=lambda: _request_id())
    backend: str | None = None  # the moto backend that serves it
    signature: Signature | None = None
    problem: SignatureProblem | None = None  # why AWS would not even check the signature
    http: HttpRequest | None = field(default=None, repr=False)
    token_ok: bool = False  # sent by one of the framework's own clients
    origin: str | None = None  # the web page a browser says it sends the request for
    key: Any = field(default=None, repr=False)  # moto's access key that signed it

    @property
    def iam_action(self) -> str:
        if self.service == "s3":
            return f"s3:{S3_IAM_ACTIONS.get(self.action, self.action)}"
        return f"{self.service}:{self.action}"


@dataclass
class Outcome:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    error_code: str | None = None
    error_message: str | None = None


class Gateway:
    """The WSGI application the mock's server runs: moto behind AWS's missing behaviours."""

    def __init__(
        self,
        app: WSGIApplication,
        account_id: str,
        clock: RunClock,
        *,
        support: SupportCenter,
        trail: CloudTrailEvents,
        token: str,
        journal: Journal | None = None,
    ) -> None:
        self.app = app
        self.account_id = account_id
        self.clock = clock
        self.support = support
        self.trail = trail
        self.registry = KeyRegistry()
        self.token = token
        # The framework's credential (AWS's own hands): in no IAM backend; set by the account.
        self.framework_credential: Credential | None = None
        self.recording = True
        # A recovery replays calls that succeeded when first made: no key or deny check then.
        self.replaying = False
        self.journal: Journal | None = None
        self.vault: Vault | None = None
        self._local_seq = 0
        self._seq_lock = threading.Lock()
        self._propagation: dict[str, float] = {}
        self._reads_propagation: dict[str, float] = {}
        self._routers: dict[str, Any] = {}
        self._matched: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
        self.routes = Routes(app)
        self.verifier = Verifier()
        self._subscribed: weakref.WeakSet[Journal] = weakref.WeakSet()
        if journal is not None:
            self.attach_journal(journal)

    def attach_journal(self, journal: Journal | None) -> None:
        """Journal calls to `journal` (None: keep CloudTrail's history in memory only)."""
        self.journal = journal
        if journal is not None and journal not in self._subscribed:
            self._subscribed.add(journal)
            journal.subscribe(lambda event: self._journaled(journal, event))

    def _journaled(self, source: Journal, event: Event) -> None:
        # Only the journal in use feeds the history (an earlier one may outlive a reset).
        if source is self.journal:
            self.trail.record(event)

    def now(self) -> datetime:
        return time_at(self.clock, self.clock.now())

    # ── WSGI ──────────────────────────────────────────────────────────────────────────────

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            # moto's control API would let anyone read or wipe the account; AWS has no such thing.
            return self._send(
                start_response, Outcome(404, [("Content-Type", "text/plain")], b"Not Found")
            )
        with moto_time.following(self.clock):
            call = self._parse(environ)
            request = self._request_record(call, environ)
            outcome = self._authenticate(call)
            if outcome is None:
                outcome = self._authorise(call)
            if outcome is None:
                outcome = self._serve(call, environ)
                self._aws_quarantines(call, outcome)
            self._record(call, outcome, request)
        return self._send(start_response, outcome)

    def _send(self, start_response: StartResponse, outcome: Outcome) -> Iterable[bytes]:
        headers = list(outcome.headers)
        # moto's own length stands (a HEAD answer states the object's size with no body).
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers.append(("Content-Length", str(len(outcome.body))))
        start_response(f"{outcome.status} {_REASONS.get(outcome.status, 'Status')}", headers)
        return [outcome.body]

    # ── parsing ───────────────────────────────────────────────────────────────────────────

    def _parse(self, environ: WSGIEnvironment) -> Call:
        """Who signed the request and how, which service serves it, and what it asks.

        The signature is read from the request as it arrived, before anything is taken out
        of it; the service is the backend moto's dispatcher routes the request to
        (`Routes`), so the journal names what moto really serves.
        """
        body = _read_body(environ)
        http = http_request(environ, body)
        problem: SignatureProblem | None = None
        try:
            signature = read_signature(http)
        except SignatureProblem as unreadable:
            signature, problem = None, unreadable
        backend = self.routes.backend(environ, body)
        signing_name = signature.service if signature is not None else (backend or "s3")
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        content_type = str(environ.get("CONTENT_TYPE", ""))
        form_body = (
            dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            if content_type.startswith("application/x-www-form-urlencoded")
            else {}
        )
        query_params = http.query_parameters
        protocol: Protocol
        if backend == "s3" or (backend is None and signing_name == "s3"):
            protocol = "s3"
        elif target:
            protocol = "json"
        elif form_body or "Action" in query_params:
            protocol = "ec2" if backend == "ec2" else "query"
        else:
            protocol = "rest-xml" if backend in REST_XML_SERVICES else "rest-json"
        service = service_of(backend) if backend else IAM_PREFIXES.get(signing_name, signing_name)

        operation = {k: v for k, v in query_params.items() if k not in _AUTH_PARAMETERS}
        if protocol in ("query", "ec2"):
            # moto reads a form body when there is one, the query string otherwise.
            params: dict[str, Any] = dict(form_body or operation)
            action = str(params.pop("Action", ""))
            params.pop("Version", None)
        elif protocol == "json":
            action = target.rsplit(".", 1)[-1]
            params = _json_object(body)
        else:
            action, path_params = self._route(service, environ)
            params = {**operation, **path_params}
            if protocol == "rest-json" and content_type.startswith("application/json"):
                params.update(_json_object(body))

        if problem is None and signature is not None:
            problem = self._misrouted(environ, signature, backend)
        if problem is None:
            problem = _mixed(protocol, signature, form_body, operation, target)

        token_ok = self._carries_token(environ)
        user_agent = str(environ.get("HTTP_USER_AGENT", ""))
        source_ip = str(environ.get("REMOTE_ADDR", "127.0.0.1"))
        declared = ""
        if token_ok:
            user_agent = str(environ.get("HTTP_X_GAMEDAY_USER_AGENT") or user_agent)
            source_ip = str(environ.get("HTTP_X_GAMEDAY_SOURCE_IP") or source_ip)
            declared = str(environ.get("HTTP_X_GAMEDAY_ACTOR", ""))
        for key in [k for k in environ if str(k).startswith(_GAMEDAY_ENVIRON_PREFIX)]:
            del environ[key]
        # moto would let this header choose the account; here only the signing key does.
        environ.pop(MOTO_ACCOUNT_HEADER, None)

        access_key_id = signature.access_key_id if signature is not None else _claimed_key(http)
        call = Call(
            protocol=protocol,
            service=service,
            signing_name=signing_name,
            action=action,
            region=signature.region if signature is not None else "us-east-1",
            access_key_id=access_key_id,
            params=params,
            method=http.method,
            source_ip=source_ip,
            user_agent=canonical_user_agent(user_agent),
            backend=backend,
            signature=signature,
            problem=problem,
            http=http,
            token_ok=token_ok,
            origin=str(environ.get("HTTP_ORIGIN", "")) or None,
        )
        call.key_actor = self.registry.actor_of(access_key_id)
        if self._framework_key(access_key_id):
            call.key_actor = "framework"
        if token_ok:
            # A key can be two parties' at once (the leaked key may be the workload's own):
            # the framework's client then says whose call it is.
            if declared in _DECLARABLE_ACTORS:
                call.actor = declared  # type: ignore[assignment]
            else:
                call.actor = call.key_actor or "framework"
        elif call.key_actor == "framework":
            # Only the framework holds its own key's secret, whatever client it signs with
            # (`_authenticate` takes this back when the signature does not prove it).
            call.actor = "framework"
        return call

    def _framework_key(self, access_key_id: str | None) -> bool:
        framework = self.framework_credential
        return framework is not None and access_key_id == framework.access_key_id

    def _misrouted(
        self, environ: WSGIEnvironment, signature: Signature, backend: str | None
    ) -> SignatureProblem | None:
        """A credential scoped to one service on a request moto would serve as another."""
        if signature.scheme == "sigv4-header":
            return None  # moto routes these by their credential scope: they agree
        meant = (
            self.routes.backend_for_scope(environ, signature.service, signature.region)
            if signature.scheme == "sigv4-query"
            else "s3"  # SigV2 is S3's alone
        )
        if meant == backend:
            return None
        serving = service_of(backend) if backend else "an unknown service"
        return SignatureProblem(
            "mismatch",
            f"Credential should be scoped to correct service: '{serving}'.",
            s3_code="AuthorizationQueryParametersError",
            s3_message=f"Error parsing the X-Amz-Credential parameter; incorrect service "
            f'"{signature.service}". This endpoint belongs to "{serving}".',
        )

    def _request_record(self, call: Call, environ: WSGIEnvironment) -> dict[str, Any] | None:
        """The request as sent, for the vault: only for calls that may change state."""
        if (
            self.vault is None
            or self.journal is None
            or not self.recording
            or (is_read_only(call.service, call.action) and call.action not in _CREDENTIAL_ACTIONS)
        ):
            return None
        body = _read_body(environ)  # kept for moto: the body is replaced by a copy
        return {
            "method": call.method,
            "path": str(environ.get("PATH_INFO", "")),
            "query": str(environ.get("QUERY_STRING", "")),
            "headers": {
                str(k): str(v)
                for k, v in environ.items()
                if str(k).startswith("HTTP_") or k in ("CONTENT_TYPE", "CONTENT_LENGTH")
            },
            "body": base64.b64encode(body).decode("ascii"),
        }

    def _carries_token(self, environ: WSGIEnvironment) -> bool:
        offered = str(environ.get("HTTP_X_GAMEDAY_CLIENT", ""))
        return bool(offered) and hmac.compare_digest(offered, self.token)

    def _route(self, signing_name: str, environ: WSGIEnvironment) -> tuple[str, dict[str, Any]]:
        """The operation of a REST request, matched on botocore's model by moto's router."""
        from moto.core.routing import get_service_router

        router: Any = self._routers.get(signing_name)
        if router is None:
            try:
                router = get_service_router(signing_name)
            except Exception:  # an unknown model: no name for the operation
                router = False
            self._routers[signing_name] = router
        if router is False:
            return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}", {}
        # An operation is matched on the method, host, path, query, content type and which
        # headers are present (botocore's model requires some): requests alike in those
        # match alike.
        shape = (
            signing_name,
            str(environ.get("REQUEST_METHOD", "")),
            str(environ.get("HTTP_HOST", "")),
            str(environ.get("PATH_INFO", "")),
            str(environ.get("QUERY_STRING", "")),
            str(environ.get("CONTENT_TYPE", "")),
            str(environ.get("HTTP_SMITHY_PROTOCOL", "")),
            frozenset(str(k) for k in environ if str(k).startswith("HTTP_")),
        )
        known = self._matched.get(shape)
        if known is None:
            known = self._match(router, environ)
            if len(self._matched) >= _MATCHED_SHAPES:
                self._matched.clear()
            self._matched[shape] = known
        return known[0], dict(known[1])

    def _match(self, router: Any, environ: WSGIEnvironment) -> tuple[str, dict[str, Any]]:
        from moto.core.request import Request

        # A copy of the environ without the body stream, so matching never consumes it.
        probe = {k: v for k, v in environ.items() if k != "wsgi.input"}
        probe["wsgi.input"] = io.BytesIO(b"")
        try:
            operation, uri_params = router.match(Request(probe))
        except Exception:
            return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}", {}
        return str(operation.name), {str(k): v for k, v in uri_params.items()}

    # ── authentication and the explicit deny ──────────────────────────────────────────────

    def clocks(self) -> list[datetime]:
        """The times a request may be dated near: the run clock's first.

        A wall-clock run's clock is real time, but pausing it or running it faster moves it
        away: the people at the keyboard sign with their machine's time, which stays good.
        """
        clocks = [self.now()]
        if getattr(self.clock, "virtual", None) is False:
            clocks.append(datetime.now(UTC))
        return clocks

    def _authenticate(self, call: Call) -> Outcome | None:
        """AWS's checks before any policy: a request from a browser, a signature it cannot
        read or that does not match the key's secret, a time too far off, a dead key."""
        if self.replaying:
            # A recovery replays calls that were authenticated when first made.
            return self._identify(call)
        if call.origin is not None:
            return _from_browser(call)
        if call.problem is not None:
            return self._refused(call, call.problem)
        signature = call.signature
        if signature is None:
            if call.protocol == "s3":
                return _error(call, 403, "AccessDenied", "Access Denied")
            return _error(
                call, 403, "MissingAuthenticationToken", "Request is missing Authentication Token"
            )
        try:
            check_time(signature, self.clocks())
        except SignatureProblem as problem:
            return self._refused(call, problem)
        if outside_partition(signature.region) and not self._framework_key(call.access_key_id):
            # China and GovCloud are AWSs of their own: no key of this account exists there.
            return self._refused_key(call)
        refused = self._identify(call)
        if refused is not None:
            return refused
        secret = self._secret_of(call)
        if secret is None:
            return _invalid_key(call)
        assert call.http is not None  # every parsed call keeps its request
        try:
            self.verifier.verify(call.http, signature, secret)
        except SignatureProblem as problem:
            call.principal = {}
            return self._refused(call, problem)
        return self._session_checked(call)

    def _identify(self, call: Call) -> Outcome | None:
        """The key's principal, or AWS's answer for a key it does not know (or disabled)."""
        if call.access_key_id is None:
            return _invalid_key(call)
        if self._framework_key(call.access_key_id):
            # AWS acting in the account: no IAM key whose status or policies could stop it.
            call.principal = {
                "type": "AWSService",
                "invoked_by": "AWS Internal",
                "account_id": self.account_id,
            }
            return None
        found = find_access_key(call.access_key_id)
        if found is None or found[1].status != "Active":
            return self._refused_key(call)
        account_id, key = found
        call.principal = principal_of(account_id, key)
        call.key = key
        return None

    def _secret_of(self, call: Call) -> str | None:
        framework = self.framework_credential
        if framework is not None and call.access_key_id == framework.access_key_id:
            return framework.secret_access_key
        return None if call.key is None else str(call.key.secret_access_key)

    def _session_checked(self, call: Call) -> Outcome | None:
        """Temporary credentials need their session token, and end when they expire."""
        key, signature = call.key, call.signature
        if key is not None and signature is not None and is_user_session(key):
            given = (signature.session_token or "").encode()
            if not hmac.compare_digest(given, session_token(key).encode()):
                return self._refused_key(call, token=True)
            if key.session_expiration < self.now():
                call.principal = {}
                return _expired_token(call)
            if not call.principal.get("principal_id"):
                return self._refused_key(call)  # the user is gone, and its sessions
            return None
        if key is None or signature is None or not getattr(key, "role_arn", None):
            return None
        assumed = assumed_role(str(call.principal.get("account_id", "")), key.access_key_id)
        if assumed is None:
            return None  # a temporary key moto minted without a session: nothing to check
        given = (signature.session_token or "").encode()
        if not hmac.compare_digest(given, str(assumed.session_token).encode()):
            return self._refused_key(call, token=True)
        if assumed.expiration.replace(tzinfo=UTC) < self.now():
            call.principal = {}
            return _expired_token(call)
        if not call.principal.get("role_id"):
            # The role is gone: its sessions die with it.
            return self._refused_key(call)
        return None

    def _refused_key(self, call: Call, *, token: bool = False) -> Outcome:
        call.principal = {}
        self._untrusted(call)
        if token and call.protocol == "s3":
            return _error(
                call, 400, "InvalidToken", "The provided token is malformed or otherwise invalid."
            )
        return _invalid_key(call)

    def _refused(self, call: Call, problem: SignatureProblem) -> Outcome:
        self._untrusted(call)
        return _signature_refusal(call, problem)

    def _untrusted(self, call: Call) -> None:
        # A request that does not prove it holds the framework's secret is nobody's we know.
        if call.actor == "framework" and not call.token_ok:
            call.actor = "responder"

    def _authorise(self, call: Call) -> Outcome | None:
        """The explicit Deny of a policy attached to the caller (never for the framework)."""
        key = call.key
        if key is None or self.replaying or call.iam_action in NEVER_DENIED:
            return None
        principal = call.principal
        read = is_read_only(call.service, call.action) and call.action not in _CREDENTIAL_ACTIONS
        if self._propagating(principal, read=read):
            return None
        account_id = str(principal["account_id"])
        denial = explicit_deny(
            policy_documents(account_id, key),
            call.iam_action,
            resource_of(call, account_id, principal),
            request_context(call, principal, self.now()),
        )
        if denial is not None:
            return _access_denied(call, principal["arn"], denial)
        return None

    def delay_denies(self, user_name: str, seconds: float) -> None:
        """A scenario's explicit widening of IAM's consistency window (`consistency_window`).

        For `seconds` of run time, calls by `user_name` — writes too — are not held to its
        deny policies: the window in which a freshly quarantined key still does everything.
        """
        with self._seq_lock:
            self._propagation[user_name] = self.clock.now() + seconds

    def quarantined(self, user_name: str) -> None:
        """AWS has just attached its quarantine to `user_name`: IAM is eventually consistent.

        For `READS_STILL_SERVED_S` seconds, reads the quarantine denies (`ListUsers`,
        `ListBuckets`, `LookupEvents` …) may still be served, as in the field report where
        List/Describe calls 13 s after the attach still worked; writes it denies
        (`CreateUser`, `AttachUserPolicy`, `CreateAccessKey` …) and credential minting
        (`GetSessionToken`) are refused from the attach on, unless `delay_denies` widens it.
        """
        with self._seq_lock:
            self._reads_propagation[user_name] = self.clock.now() + READS_STILL_SERVED_S

    def clear_propagation(self) -> None:
        with self._seq_lock:
            self._propagation.clear()
            self._reads_propagation.clear()

    def _propagating(self, principal: Mapping[str, Any], *, read: bool) -> bool:
        user = str(principal.get("user_name"))
        now = self.clock.now()
        until = self._propagation.get(user)
        if until is not None and now < until:
            return True
        reads_until = self._reads_propagation.get(user)
        return read and reads_until is not None and now < reads_until

    def _aws_quarantines(self, call: Call, outcome: Outcome) -> None:
        """Start IAM's consistency window when AWS's own quarantine lands on a user."""
        if call.actor != "framework" or outcome.status >= 300 or self.replaying:
            return
        params = call.params
        if call.service != "iam" or not params.get("UserName"):
            return
        if (
            call.action == "AttachUserPolicy"
            and params.get("PolicyArn") in QUARANTINE_POLICY_ARNS.values()
        ) or (
            call.action == "PutUserPolicy"
            and params.get("PolicyName") == INLINE_QUARANTINE_POLICY_NAME
        ):
            self.quarantined(str(params["UserName"]))

    # ── serving ───────────────────────────────────────────────────────────────────────────

    def _serve(self, call: Call, environ: WSGIEnvironment) -> Outcome:
        if call.service == "sts" and call.action == "GetSessionToken" and call.key is not None:
            return self._get_session_token(call)
        whoami = call.service == "sts" and call.action == "GetCallerIdentity"
        if whoami and self._answers_whoami(call):
            principal = call.principal
            return Outcome(
                200,
                [("Content-Type", "text/xml"), ("x-amzn-RequestId", call.request_id)],
                caller_identity_response(
                    str(principal.get("principal_id", "")),
                    str(principal.get("account_id", "")),
                    str(principal.get("arn", "")),
                    call.request_id,
                ),
            )
        if call.service == "cloudtrail" and call.action == "LookupEvents":
            try:
                answer = self.trail.lookup_events(call.params, call.region, self.now())
            except CloudTrailError as error:
                return _error(call, 400, error.code, error.message)
            return _json_answer(call, answer)
        if call.service == "support" and self.support.handles(call.action):
            try:
                answer = self.support.handle(
                    call.action, call.params, str(call.principal.get("arn", ""))
                )
            except SupportError as error:
                return _error(call, 400, error.code, error.message)
            return _json_answer(call, answer)
        return self._forward(call, environ)

    def _answers_whoami(self, call: Call) -> bool:
        """Whether the gateway answers this GetCallerIdentity itself, as moto would.

        A user's session: moto does not know its key. A user's own key: the gateway knows
        the user already, and moto's answer would only cost a trip through its
        dispatcher; its one side effect, the key's last use, is recorded here as moto
        records it. An assumed role's key goes to moto, which holds its session.
        """
        key = call.key
        if is_user_session(key):
            return True
        principal = call.principal
        if (
            key is None
            or getattr(key, "role_arn", None)
            or principal.get("type") != "IAMUser"
            or not principal.get("principal_id")
        ):
            return False
        from moto.iam.models import mark_account_as_visited

        mark_account_as_visited(
            account_id=str(principal["account_id"]),
            access_key=str(call.access_key_id),
            service="sts",
            region=call.region,
        )
        return True

    def _get_session_token(self, call: Call) -> Outcome:
        """A real session of the calling user, where moto hands out AWS's example key."""
        key = call.key
        if getattr(key, "role_arn", None) or is_user_session(key):
            return _error(
                call, 403, "AccessDenied", "Cannot call GetSessionToken with session credentials"
            )
        try:
            duration = duration_of(call.params)
        except SessionRefused as refused:
            return _error(call, refused.status, refused.code, refused.message)
        account_id = str(call.principal.get("account_id", ""))
        minted = mint_user_session(
            _iam_backend(account_id), str(call.principal.get("user_name", "")), duration
        )
        return Outcome(
            200,
            [("Content-Type", "text/xml"), ("x-amzn-RequestId", call.request_id)],
            session_response(minted, call.request_id),
        )

    def _forward(self, call: Call, environ: WSGIEnvironment) -> Outcome:
        if call.principal.get("account_id"):
            # The account is already known from the key; moto would search every account
            # and partition for it (creating IAM backends on the way) on each request.
            environ[MOTO_ACCOUNT_HEADER] = call.principal["account_id"]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(headers)
            return lambda chunk: captured.setdefault("written", []).append(chunk)

        if call.backend is None:
            return _error(
                call, 400, "InvalidAction", f"The mock account does not offer {call.service}."
            )
        result = self.routes.app(call.backend)(environ, capture)
        try:
            body = b"".join([*captured.get("written", []), *result])
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        headers: list[tuple[str, str]] = captured.get("headers", [])
        if call.service == "ec2" and call.action == "DescribeRegions" and body:
            body = _regions_of_the_partition(body)
            headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
        outcome = Outcome(int(captured.get("status", 500)), headers, body)
        for name, value in outcome.headers:
            if name.lower() in ("x-amzn-requestid", "x-amz-request-id"):
                call.request_id = value
        if outcome.status >= 400:
            outcome.error_code, outcome.error_message = _error_of(outcome)
        return outcome

    # ── the journal ───────────────────────────────────────────────────────────────────────

    def _record(self, call: Call, outcome: Outcome, request: dict[str, Any] | None = None) -> None:
        if not self.recording:
            return
        response, resources = self._created(call, outcome)
        fields: dict[str, Any] = {
            "actor": call.actor,
            "access_key_id": call.access_key_id,
            "service": call.service,
            "action": call.action,
            "region": call.region,
            "params": redact(call.params),
            "status": outcome.status,
            "error_code": outcome.error_code,
            "error_message": outcome.error_message,
            "key_actor": call.key_actor,
            "principal": call.principal,
            "source_ip": call.source_ip,
            "user_agent": call.user_agent,
            "request_id": call.request_id,
            "resources": resources,
            "response": response,
            "result": _result_of(call, outcome, response),
        }
        if self.journal is not None:
            if request is not None and self.vault is not None and outcome.status < 400:
                fields["vault"] = self.vault.append(
                    {
                        "service": call.service,
                        "action": call.action,
                        "request": request,
                        "response": {
                            "status": outcome.status,
                            "headers": [list(pair) for pair in outcome.headers],
                            "body": base64.b64encode(outcome.body).decode("ascii"),
                        },
                    }
                )
            self.journal.append("api.call", **fields)
            return
        with self._seq_lock:
            self._local_seq += 1
            seq = self._local_seq
        self.trail.record(
            {
                "seq": seq,
                "t": self.clock.now(),
                "time": iso(self.now()),
                "kind": "api.call",
                **fields,
            }
        )

    def _created(
        self, call: Call, outcome: Outcome
    ) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
        """What the call created (registered to the caller's actor) and the resources it named."""
        resources = resources_of(call)
        if outcome.status >= 300:
            return None, resources
        response: dict[str, Any] | None = None
        if call.service in ("iam", "sts") and call.action in _CREDENTIAL_ACTIONS:
            text = outcome.body.decode("utf-8", "replace")
            new_key = _ACCESS_KEY_IN_RESPONSE.search(text)
            if new_key:
                self.registry.inherit(new_key.group(1), call.actor)
                resources.append({"type": "AWS::IAM::AccessKey", "name": new_key.group(1)})
                if call.action in ("AssumeRole", "GetSessionToken"):
                    # CloudTrail's record of the session handed out (never its secret parts).
                    expires = _EXPIRATION_IN_RESPONSE.search(text)
                    response = {
                        "credentials": {
                            "accessKeyId": new_key.group(1),
                            "expiration": expires.group(1) if expires else None,
                        }
                    }
                if call.action == "CreateAccessKey":
                    response = {
                        "accessKey": {
                            "accessKeyId": new_key.group(1),
                            "status": "Active",
                            "userName": call.params.get("UserName")
                            or call.principal.get("user_name"),
                        }
                    }
        elif call.service == "ec2" and call.action == "RunInstances":
            instances = _INSTANCE_IN_RESPONSE.findall(outcome.body.decode("utf-8", "replace"))
            resources.extend({"type": "AWS::EC2::Instance", "name": i} for i in instances)
            response = {"instancesSet": {"items": [{"instanceId": i} for i in instances]}}
        return response, resources


def _result_of(call: Call, outcome: Outcome, response: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the call created or changed that scoring needs, named as the API names it.

    For secret writes this is the one place the new value is looked at before redaction:
    only the access key id it holds (never the secret key) is kept, so scoring can tell
    whether a workload's secret was rotated to a new key.
    """
    if outcome.status >= 300:
        return {}
    result: dict[str, Any] = {}
    text = outcome.body.decode("utf-8", "replace")
    if response and "accessKey" in response:
        result["AccessKeyId"] = response["accessKey"]["accessKeyId"]
        result["UserName"] = response["accessKey"]["userName"]
    elif response and "instancesSet" in response:
        result["InstanceIds"] = [i["instanceId"] for i in response["instancesSet"]["items"]]
    elif call.service == "ec2" and call.action == "RequestSpotInstances":
        result["SpotInstanceRequestIds"] = _SPOT_REQUEST_IN_RESPONSE.findall(text)
    elif call.service == "sts" and call.action in _CREDENTIAL_ACTIONS:
        minted = _ACCESS_KEY_IN_RESPONSE.search(text)
        expires = _EXPIRATION_IN_RESPONSE.search(text)
        if minted:
            result["AccessKeyId"] = minted.group(1)
        if expires:
            result["Expiration"] = expires.group(1)
    elif call.service == "iam" and call.action == "CreatePolicy":
        found = _POLICY_ARN_IN_RESPONSE.search(text)
        if found:
            result["PolicyArn"] = found.group(1)
    elif call.service == "secretsmanager" and call.action in _SECRET_WRITES:
        value = call.params.get("SecretString")
        if isinstance(value, str):
            result["SecretAccessKeyId"] = access_key_id_in(value)
        with suppress(ValueError):
            result["Name"] = json.loads(text).get("Name")
    return result


_REGION_ITEM = re.compile(
    rb"<item>(?:(?!</item>).)*?<regionName>([^<]+)</regionName>.*?</item>", re.S
)


def _regions_of_the_partition(body: bytes) -> bytes:
    """moto's `DescribeRegions` answer cut to the account's partition: moto lists every
    partition's regions, AWS a commercial account's own only (no `cn-*`, no `us-gov-*`)."""

    def kept(item: re.Match[bytes]) -> bytes:
        region = item.group(1).decode("ascii", "replace")
        return b"" if outside_partition(region) else item.group(0)

    return _REGION_ITEM.sub(kept, body)


def _request_id() -> str:
    """A request id from moto's generator, so a seeded run repeats its ids too."""
    from moto.moto_api._internal import mock_random

    return str(mock_random.uuid4())


_UA_FEATURES = re.compile(r"(?<=\bm/)[A-Za-z0-9,]+")


@functools.lru_cache(maxsize=512)
def canonical_user_agent(user_agent: str) -> str:
    """The user agent with botocore's feature list (`m/…`) sorted.

    botocore writes the features it used from a set, so their order changes from one
    process to the next; sorted, the same client always reads the same in CloudTrail.
    """
    return _UA_FEATURES.sub(lambda m: ",".join(sorted(m.group(0).split(","))), user_agent)


_CREDENTIAL_ACTIONS = frozenset(
    {"CreateAccessKey", "AssumeRole", "GetSessionToken", "GetFederationToken", "AssumeRoleWithSAML"}
)


# ── moto's IAM state, read in-process ──────────────────────────────────────────────────────


def find_access_key(access_key_id: str) -> tuple[str, Any] | None:
    """The account holding `access_key_id` and its moto AccessKey, or None (deleted/unknown)."""
    from moto.iam.models import iam_backends

    for account_id, partitions in list(iam_backends.items()):
        # dict.get: looking must not create a backend for a partition nobody used.
        backend = dict.get(partitions, "aws")
        if backend is not None:
            key = backend.access_keys.get(access_key_id)
            if key is not None:
                return str(account_id), key
    return None


def assumed_role(account_id: str, access_key_id: str) -> Any:
    """moto's record of the role session a temporary key belongs to, or None."""
    from moto.sts.models import sts_backends

    # moto keeps an assumed role in its partition's backend ("aws"), read without creating one.
    backends: dict[str, dict[str, Any]] = sts_backends  # type: ignore[assignment]
    partitions = dict.get(backends, account_id) or {}
    for backend in list(dict.values(partitions)):
        found = backend.get_assumed_role_from_access_key(access_key_id)
        if found is not None:
            return found
    return None


def _iam_backend(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


def principal_of(account_id: str, key: Any) -> dict[str, Any]:
    """Who signs with `key`, as CloudTrail's userIdentity names them."""
    backend = _iam_backend(account_id)
    if key.user_name is not None and key.user_name in backend.users:
        user = backend.users[key.user_name]
        return {
            "type": "IAMUser",
            "arn": user.arn,
            "principal_id": user.id,
            "account_id": account_id,
            "user_name": user.name,
        }
    if key.role_arn:
        assumed = assumed_role(account_id, key.access_key_id)
        role_name = str(key.role_arn).rsplit("/", 1)[-1]
        session = assumed.session_name if assumed is not None else "session"
        role_id = next((r.id for r in backend.roles.values() if r.arn == key.role_arn), "")
        return {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session}",
            "principal_id": f"{role_id}:{session}",
            "account_id": account_id,
            "role_arn": key.role_arn,
            "role_id": role_id,
            "role_name": role_name,
        }
    return {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{account_id}:user/{key.user_name or 'unknown'}",
        "principal_id": "",
        "account_id": account_id,
        "user_name": key.user_name or "",
    }


def _default_document(policy: Any) -> Any:
    for version in policy.versions:
        if version.version_id == policy.default_version_id:
            return version.document
    return "{}"


def policy_documents(account_id: str, key: Any) -> Iterator[Any]:
    """Every identity policy that applies to the key's principal: managed, inline, via groups."""
    backend = _iam_backend(account_id)
    holders: list[Any] = []
    if key.user_name is not None and key.user_name in backend.users:
        user = backend.users[key.user_name]
        holders.append(user)
        holders.extend(g for g in list(backend.groups.values()) if user in g.users)
    elif key.role_arn:
        holders.extend(r for r in list(backend.roles.values()) if r.arn == key.role_arn)
    for holder in holders:
        for policy in list(holder.managed_policies.values()):
            yield _default_document(policy)
        yield from list(holder.policies.values())


def request_context(call: Call, principal: Mapping[str, Any], now: datetime) -> dict[str, str]:
    """The global condition keys IAM would know for this request."""
    context = {
        "aws:SourceIp": call.source_ip,
        "aws:UserAgent": call.user_agent,
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:RequestedRegion": call.region,
        "aws:PrincipalArn": str(principal.get("role_arn") or principal.get("arn", "")),
        "aws:PrincipalAccount": str(principal.get("account_id", "")),
        "aws:PrincipalType": "User" if principal.get("type") == "IAMUser" else "AssumedRole",
        "aws:userid": str(principal.get("principal_id", "")),
        "aws:SecureTransport": "true",
    }
    if principal.get("type") == "IAMUser":
        context["aws:username"] = str(principal.get("user_name", ""))
    if call.service == "iam" and call.params.get("PolicyArn"):
        context["iam:PolicyARN"] = str(call.params["PolicyArn"])
    issued = token_issue_time(call.key)
    if issued is not None:
        # Only temporary credentials have it: "revoke older sessions" denies by it.
        context["aws:TokenIssueTime"] = issued
    return context


def token_issue_time(key: Any) -> str | None:
    """When a temporary credential was issued (moto stamps its key on the run clock)."""
    if key is None or not str(getattr(key, "access_key_id", "")).startswith("ASIA"):
        return None
    created = getattr(key, "create_date", None)
    if not isinstance(created, datetime):
        return None
    moment = created if created.tzinfo else created.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def resource_of(call: Call, account_id: str, principal: Mapping[str, Any]) -> str:
    """The resource ARN IAM would evaluate the call against, as far as the request names it."""
    params = call.params
    if call.service == "iam":
        # Attaching a policy is an act on the principal: IAM authorises it on the user,
        # role or group (the policy is only the `iam:PolicyARN` condition key).
        if params.get("PolicyArn") and not _IAM_ATTACHMENT.fullmatch(call.action):
            return str(params["PolicyArn"])
        if params.get("RoleName"):
            return f"arn:aws:iam::{account_id}:role/{params['RoleName']}"
        if params.get("GroupName"):
            return f"arn:aws:iam::{account_id}:group/{params['GroupName']}"
        if params.get("UserName"):
            return f"arn:aws:iam::{account_id}:user/{params['UserName']}"
        if call.action.startswith(("CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey")):
            return str(principal.get("arn", "*"))
        if call.action == "ListUsers":
            return f"arn:aws:iam::{account_id}:user/"
        return "*"
    if call.service == "ec2":
        if call.action in ("RunInstances", "RequestSpotInstances"):
            return f"arn:aws:ec2:{call.region}:{account_id}:instance/*"
        instance = params.get("InstanceId.1") or params.get("InstanceId")
        if instance:
            return f"arn:aws:ec2:{call.region}:{account_id}:instance/{instance}"
        return "*"
    if call.service == "s3":
        bucket = params.get("Bucket")
        if bucket and params.get("Key"):
            return f"arn:aws:s3:::{bucket}/{params['Key']}"
        return f"arn:aws:s3:::{bucket}" if bucket else "*"
    if call.service == "secretsmanager" and params.get("SecretId"):
        secret = str(params["SecretId"])
        return (
            secret
            if secret.startswith("arn:")
            else f"arn:aws:secretsmanager:{call.region}:{account_id}:secret:{secret}"
        )
    return "*"


def resources_of(call: Call) -> list[dict[str, str]]:
    resources: list[dict[str, str]] = []
    for name, value in call.params.items():
        base = name.split(".", 1)[0]
        kind = RESOURCE_PARAMETERS.get(base)
        service = _RESOURCE_PARAMETER_SERVICES.get(base)
        if (
            kind
            and isinstance(value, str)
            and value
            and (service is None or service == call.service)
        ):
            resources.append({"type": kind, "name": value})
    return resources


# ── redaction and parsing helpers ──────────────────────────────────────────────────────────


def redact(value: Any) -> Any:
    """A copy of request parameters with secrets replaced and very long values cut."""
    if isinstance(value, Mapping):
        return {
            k: (
                "HIDDEN_DUE_TO_SECURITY_REASONS"
                if str(k).lower() in SENSITIVE_PARAMETERS
                else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and len(value) > MAX_PARAMETER_LENGTH:
        return f"[{len(value)} characters]"
    return value


def _read_body(environ: WSGIEnvironment) -> bytes:
    cached = environ.get("gameday.body")
    if isinstance(cached, bytes):
        return cached
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body: bytes
    if length > 0:
        body = environ["wsgi.input"].read(length)
    elif environ.get("wsgi.input_terminated") and "CONTENT_LENGTH" not in environ:
        body = environ["wsgi.input"].read()  # a chunked body: the server ends the stream
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["gameday.body"] = body
    return body


def _json_object(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _error_of(outcome: Outcome) -> tuple[str, str | None]:
    for name, value in outcome.headers:
        if name.lower() == "x-amzn-errortype":
            code = value.split(":", 1)[0]
            answer = _json_object(outcome.body)
            text = str(answer.get("message") or answer.get("Message") or "")
            return code.rsplit("#", 1)[-1], text or None
    body = outcome.body
    code_match = _XML_ERROR_CODE.search(body)
    if code_match:
        message_match = _XML_ERROR_MESSAGE.search(body)
        message = message_match.group(1).decode("utf-8", "replace") if message_match else None
        return code_match.group(1).decode("utf-8", "replace"), message
    document = _json_object(body)
    if "__type" in document:
        said = document.get("message") or document.get("Message")
        return str(document["__type"]).rsplit("#", 1)[-1], str(said) if said else None
    # A HEAD answer has no body; AWS's SDKs report the status code itself.
    return str(outcome.status), None


# ── refusals ───────────────────────────────────────────────────────────────────────────


def http_request(environ: WSGIEnvironment, body: bytes) -> HttpRequest:
    """The request as it arrived: the path and query as sent, the headers as received."""
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw and not raw.startswith("/"):  # an absolute URL in the request line
        parts = urlsplit(raw)
        raw = parts.path + (f"?{parts.query}" if parts.query else "")
    if raw:
        # WSGI carries the request line's bytes as latin-1 text.
        with suppress(UnicodeError):
            raw = raw.encode("latin-1").decode("utf-8")
        path, _, query = raw.partition("?")
    else:
        path = quote(str(environ.get("PATH_INFO", "")), safe="/~!$&'()*+,;=:@")
        query = str(environ.get("QUERY_STRING", ""))
    headers = {
        (str(key)[5:] if str(key).startswith("HTTP_") else str(key)): str(value)
        for key, value in environ.items()
        if str(key).startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    }
    return HttpRequest(str(environ.get("REQUEST_METHOD", "GET")), path, query, headers, body)


def _claimed_key(request: HttpRequest) -> str | None:
    """The key an unreadable signature names, for the journal only: it proves nothing."""
    found = _CLAIMED_KEY.search(request.header("Authorization") or "")
    if found:
        return found.group(1) or found.group(2)
    credential = request.query_parameters.get("X-Amz-Credential", "")
    return credential.split("/", 1)[0] or request.query_parameters.get("AWSAccessKeyId") or None


def _mixed(
    protocol: Protocol,
    signature: Signature | None,
    form_body: Mapping[str, str],
    operation: Mapping[str, str],
    target: str,
) -> SignatureProblem | None:
    """A request no SDK sends: one protocol's parts in another's (a forged form post)."""
    said = None
    if signature is not None and signature.presigned and form_body and protocol != "s3":
        said = "A presigned request carries its parameters in the query string, not a form."
    elif protocol in ("query", "ec2") and form_body and operation:
        said = "The request has parameters both in its query string and in a form body."
    elif target and ("Action" in form_body or "Action" in operation):
        said = "The request names its operation both in X-Amz-Target and in an Action parameter."
    if said is None:
        return None
    return SignatureProblem("mixed", said, s3_code="InvalidRequest")


def _from_browser(call: Call) -> Outcome:
    """A request a web page made the browser send (it says where from): never AWS's client."""
    message = (
        f"Requests from a web page (Origin: {call.origin}) are not accepted: use the AWS CLI "
        "or an SDK with your credentials."
    )
    if call.protocol == "json":
        return _error(call, 400, "AccessDeniedException", message)
    if call.protocol == "rest-json":
        return _error(call, 403, "AccessDeniedException", message)
    if call.protocol == "ec2":
        return _error(call, 403, "UnauthorizedOperation", message)
    return _error(call, 403, "AccessDenied", message)


# The error AWS answers for each kind of signature problem, per protocol:
# (code, status) for query, ec2, json, rest-json; S3 below.
_SIGNATURE_ERRORS: dict[str, dict[str, tuple[str, int]]] = {
    "incomplete": {
        "query": ("IncompleteSignature", 400),
        "ec2": ("IncompleteSignature", 400),
        "json": ("IncompleteSignatureException", 400),
        "rest-json": ("IncompleteSignatureException", 403),
    },
    "mixed": {
        "query": ("InvalidParameterCombination", 400),
        "ec2": ("InvalidParameterCombination", 400),
        "json": ("InvalidParameterCombination", 400),
        "rest-json": ("InvalidParameterCombination", 400),
    },
    "mismatch": {
        "query": ("SignatureDoesNotMatch", 403),
        "ec2": ("AuthFailure", 401),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
    },
    "skewed": {
        "query": ("SignatureDoesNotMatch", 403),
        "ec2": ("RequestExpired", 400),
        "json": ("InvalidSignatureException", 400),
        "rest-json": ("InvalidSignatureException", 403),
    },
}
_SIGNATURE_ERRORS["body-hash"] = _SIGNATURE_ERRORS["mismatch"]
_SIGNATURE_ERRORS["expired"] = _SIGNATURE_ERRORS["skewed"]
_SIGNATURE_ERRORS["not-yet-valid"] = _SIGNATURE_ERRORS["skewed"]
_S3_DEFAULT_CODES = {
    "mismatch": "SignatureDoesNotMatch",
    "body-hash": "XAmzContentSHA256Mismatch",
    "skewed": "RequestTimeTooSkewed",
    "expired": "AccessDenied",
    "not-yet-valid": "AccessDenied",
    "mixed": "InvalidRequest",
}
_S3_FORBIDDEN = frozenset({"SignatureDoesNotMatch", "RequestTimeTooSkewed", "AccessDenied"})


def _signature_refusal(call: Call, problem: SignatureProblem) -> Outcome:
    """AWS's answer to a signature problem, in the caller's protocol."""
    if call.protocol == "s3":
        code = (
            problem.s3_code
            or _S3_DEFAULT_CODES.get(problem.kind)
            or (
                "AuthorizationHeaderMalformed"
                if call.http is not None and call.http.header("Authorization")
                else "AuthorizationQueryParametersError"
            )
        )
        status = 403 if code in _S3_FORBIDDEN else 400
        return _error(
            call, status, code, problem.s3_message or problem.message, extra=problem.details
        )
    if call.protocol == "ec2" and problem.kind in ("skewed", "expired", "not-yet-valid"):
        return _error(call, 400, "RequestExpired", "Request has expired.")
    if call.protocol == "ec2" and problem.kind in ("mismatch", "body-hash"):
        return _error(
            call, 401, "AuthFailure", "AWS was not able to validate the provided access credentials"
        )
    protocol = "query" if call.protocol == "rest-xml" else call.protocol
    code, status = _SIGNATURE_ERRORS[problem.kind][protocol]
    return _error(call, status, code, problem.message)


def _expired_token(call: Call) -> Outcome:
    if call.protocol == "s3":
        return _error(call, 400, "ExpiredToken", "The provided token has expired.")
    if call.protocol == "ec2":
        return _error(call, 400, "RequestExpired", "Request has expired.")
    message = "The security token included in the request is expired"
    if call.protocol == "json":
        return _error(call, 400, "ExpiredTokenException", message)
    if call.protocol == "rest-json":
        return _error(call, 403, "ExpiredTokenException", message)
    return _error(call, 403, "ExpiredToken", message)


# ── answers in each protocol's shape ───────────────────────────────────────────────────────


def _json_answer(call: Call, answer: Mapping[str, Any]) -> Outcome:
    return Outcome(
        200,
        [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", call.request_id)],
        json.dumps(answer, separators=(",", ":")).encode(),
    )


def _error(
    call: Call,
    status: int,
    code: str,
    message: str,
    *,
    extra: Mapping[str, str] | None = None,
) -> Outcome:
    """An error in the shape the caller's protocol expects (S3 adds the `extra` fields)."""
    request_id = call.request_id
    text = escape(message, quote=False)
    headers: list[tuple[str, str]]
    if call.protocol == "s3":
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        fields = dict(extra or {})
        if code == "InvalidAccessKeyId":
            fields["AWSAccessKeyId"] = str(call.access_key_id)
        details = "".join(
            f"<{name}>{escape(value, quote=False)}</{name}>" for name, value in fields.items()
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{text}</Message>{details}"
            f"<RequestId>{request_id}</RequestId>"
            f"<HostId>{uuid.uuid5(uuid.NAMESPACE_URL, request_id).hex}</HostId></Error>"
        )
        payload = b"" if call.method == "HEAD" else body.encode()
    elif call.protocol == "ec2":
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
        payload = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{text}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        ).encode()
    elif call.protocol in ("query", "rest-xml"):
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        payload = (
            f'<ErrorResponse xmlns="https://{call.signing_name}.amazonaws.com/doc/">'
            f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{text}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    else:
        content_type = (
            "application/x-amz-json-1.1" if call.protocol == "json" else "application/json"
        )
        headers = [
            ("Content-Type", content_type),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
        payload = json.dumps({"__type": code, "message": message}).encode()
    return Outcome(status, headers, payload, code, message)


def _invalid_key(call: Call) -> Outcome:
    if call.protocol == "s3":
        return _error(
            call,
            403,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        )
    if call.protocol == "ec2":
        return _error(
            call, 401, "AuthFailure", "AWS was not able to validate the provided access credentials"
        )
    if call.protocol in ("json", "rest-json"):
        status = 400 if call.protocol == "json" else 403
        return _error(
            call,
            status,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    return _error(
        call, 403, "InvalidClientTokenId", "The security token included in the request is invalid."
    )


# IAM names the principal a policy is attached to or detached from by kind and name.
_IAM_ATTACHMENT_TARGETS = {
    "User": ("UserName", "user"),
    "Role": ("RoleName", "role"),
    "Group": ("GroupName", "group"),
}
_IAM_ATTACHMENT = re.compile(r"(?:Attach|Detach)(User|Role|Group)Policy")


def denied_resource(call: Call, denial: Denial) -> str | None:
    """The resource AWS's AccessDenied message names, or None where it names none.

    IAM's attach and detach name the principal (`user bob`), not the policy; services
    speaking JSON leave out a resource the action is not scoped to (`*`), where the query
    protocol services (IAM among them) still write `on resource: *`.
    """
    attachment = _IAM_ATTACHMENT.fullmatch(call.action) if call.service == "iam" else None
    if attachment is not None:
        parameter, kind = _IAM_ATTACHMENT_TARGETS[attachment.group(1)]
        if call.params.get(parameter):
            return f"{kind} {call.params[parameter]}"
    if denial.resource == "*" and call.protocol in ("json", "rest-json"):
        return None
    return denial.resource


def _access_denied(call: Call, caller_arn: str, denial: Denial) -> Outcome:
    resource = denied_resource(call, denial)
    on_resource = "" if resource is None else f" on resource: {resource}"
    statement = (
        f"User: {caller_arn} is not authorized to perform: {denial.action}{on_resource} "
        "with an explicit deny in an identity-based policy"
    )
    if call.protocol == "ec2":
        return _error(
            call,
            403,
            "UnauthorizedOperation",
            f"You are not authorized to perform this operation. {statement}",
        )
    if call.protocol == "json":
        return _error(call, 400, "AccessDeniedException", statement)
    if call.protocol == "rest-json":
        return _error(call, 403, "AccessDeniedException", statement)
    return _error(call, 403, "AccessDenied", statement)


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    304: "Not Modified",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    412: "Precondition Failed",
    416: "Range Not Satisfiable",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}
