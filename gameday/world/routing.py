"""Which of moto's services a request reaches: decided once, by moto's own dispatcher.

moto's server picks the service for a request from the credential scope of its
`Authorization` header (`…/us-east-1/iam/aws4_request` → IAM), and for a request without one
from its body and path — falling back to S3. The gateway must journal what moto really did,
and refuse a request whose credential says one service while moto would serve another (a
form post carrying an IAM action and a credential in its query string would otherwise be
served by S3 and journaled as IAM). So the gateway asks moto's dispatcher
(`DomainDispatcherApplication.infer_service_region_host` and `get_backend_for_host`, the
functions its `get_application` uses) which backend serves a request, and then hands the
request to that backend's application itself: what is journaled and what is served come
from one decision. Backends found for a host are cached — matching a host against moto's
URL patterns is most of the dispatcher's cost.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from wsgiref.types import WSGIApplication

DEFAULT_HOST = "s3.us-east-1.amazonaws.com"  # moto's answer when nothing else says
MOTO_API = "moto_api"
INSTANCE_METADATA = "instance_metadata"
_SCOPE_PROBE = "AWS4-HMAC-SHA256 Credential=PROBE/20000101/{region}/{service}/aws4_request, "

# moto's backend names that differ from the service's prefix in IAM actions.
SERVICE_OF_BACKEND = {
    "awslambda": "lambda",
    "cognitoidp": "cognito-idp",
    "cognitoidentity": "cognito-identity",
    "sesv2": "ses",
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "dynamodbstreams": "dynamodb",
}


class Routes:
    """moto's dispatcher, asked once per request."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher
        self._lock = threading.Lock()
        self._backends: dict[str, str | None] = {}
        self._signed: dict[tuple[str, ...], str | None] = {}

    def backend(self, environ: Mapping[str, Any], body: bytes) -> str | None:
        """The moto backend that serves the request as it stands (None: no backend would)."""
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith("/moto-api") or path == "/favicon.ico":
            return MOTO_API
        if path.startswith(("/latest/meta-data/", "/latest/api/")):
            return INSTANCE_METADATA
        shape = _signed_shape(environ, path)
        if shape is not None:
            with self._lock:
                known = self._signed.get(shape, _UNKNOWN)
            if known is not _UNKNOWN:
                return known  # type: ignore[return-value]
        probe = {k: v for k, v in environ.items() if k != "wsgi.input"}
        probe["wsgi.input"] = io.BytesIO(body)
        try:
            host = self.dispatcher.infer_service_region_host(probe, path)
        except (KeyError, IndexError, ValueError):
            return None
        backend = self._backend_for_host(host or DEFAULT_HOST)
        if shape is not None:
            with self._lock:
                if len(self._signed) >= _SIGNED_SHAPES:
                    self._signed.clear()
                self._signed[shape] = backend
        return backend

    def backend_for_scope(
        self, environ: Mapping[str, Any], service: str, region: str
    ) -> str | None:
        """The backend a request signed for `service` in `region` is meant for: where moto
        sends it when the credential scope is in its `Authorization` header."""
        probe = {k: v for k, v in environ.items() if k != "wsgi.input"}
        probe["HTTP_AUTHORIZATION"] = _SCOPE_PROBE.format(region=region, service=service)
        probe["wsgi.input"] = io.BytesIO(b"")
        try:
            host = self.dispatcher.infer_service_region_host(probe, str(probe.get("PATH_INFO", "")))
        except (KeyError, IndexError, ValueError):
            return None
        return self._backend_for_host(host or DEFAULT_HOST)

    def _backend_for_host(self, host: str) -> str | None:
        with self._lock:
            if host in self._backends:
                return self._backends[host]
        found = self.dispatcher.get_backend_for_host(host)
        backend = str(found) if found else None
        with self._lock:
            self._backends[host] = backend
        return backend

    def app(self, backend: str) -> WSGIApplication:
        """The backend's WSGI application, made once as moto's dispatcher makes it."""
        dispatcher = self.dispatcher
        with dispatcher.lock:
            app = dispatcher.app_instances.get(backend)
            if app is None:
                app = dispatcher.create_app(backend)
                dispatcher.app_instances[backend] = app
        return app  # type: ignore[no-any-return]


_UNKNOWN = object()
# How many signed-request shapes `Routes.backend` remembers before it starts afresh.
_SIGNED_SHAPES = 4096


def _signed_shape(environ: Mapping[str, Any], path: str) -> tuple[str, ...] | None:
    """What moto's dispatcher reads of a SigV4-signed request, or None for any other.

    For a request with an `Authorization` header the dispatcher looks only at the region
    and service of its credential scope, the path, the `X-Amz-Target` header and the host
    (never the body), so requests alike in these go to the same backend.
    """
    authorization = environ.get("HTTP_AUTHORIZATION")
    if not isinstance(authorization, str):
        return None
    words = authorization.split(",")[0].split()
    scope = words[1].split("/") if len(words) > 1 else []
    if len(scope) != 5:
        return None
    return (
        scope[2],
        scope[3],
        path,
        str(environ.get("PATH_INFO", "")),
        str(environ.get("HTTP_X_AMZ_TARGET", "")),
        str(environ.get("HTTP_HOST", "")),
    )


def service_of(backend: str) -> str:
    """The prefix IAM gives the actions of a moto backend's service."""
    return SERVICE_OF_BACKEND.get(backend, backend)


# ── partitions ─────────────────────────────────────────────────────────────────────────────

ACCOUNT_PARTITION = "aws"  # the exercise's accounts are commercial ones


@lru_cache(maxsize=512)
def partition_of(region: str) -> str | None:
    """The partition a region belongs to (`aws`, `aws-cn`, `aws-us-gov` …), as botocore's
    endpoint data says; None for a name no partition claims."""
    from botocore.exceptions import UnknownRegionError

    try:
        return str(_endpoint_data_session().get_partition_for_region(region))
    except UnknownRegionError:
        return None


@lru_cache(maxsize=1)
def _endpoint_data_session() -> Any:
    """One botocore session whose endpoint data answers every partition question: a session
    reads the endpoint file the first time it is asked, so a new one per region would read
    it per region."""
    from botocore.session import get_session

    return get_session()


def outside_partition(region: str) -> bool:
    """A region of another partition: a separate AWS where the account's keys do not exist."""
    partition = partition_of(region)
    return partition is not None and partition != ACCOUNT_PARTITION
