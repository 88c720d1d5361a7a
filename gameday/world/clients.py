"""Clients of the mock account: boto3 sessions that reach it, and nothing on the machine.

`bare_botocore_session` reads no profile or configuration file of the machine; every session
shares one model loader and, per service, one client class. `MockSession` points its clients
at the mock, adds the framework's headers and signs at the run clock's time
(`signing_clock`). Nothing here imports moto: a runbook's own process makes its clients with
these, and pays for no mock it does not run.
"""

from __future__ import annotations

import functools
import os
import re
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import boto3

from gameday.world import service_models

# A header the framework adds to a request: fixed, or asked for each request as it is signed.
HeaderValue = str | Callable[[], str]


class MockSession(boto3.Session):  # type: ignore[misc]
    """A boto3 Session whose clients point at the mock and carry the framework's headers.

    With `now` (the run clock as a UTC datetime) every client of the session signs its
    requests at that time rather than the machine's: the gateway refuses a request dated
    more than 15 minutes from the run clock, as AWS does from its own, and a virtual-time
    run's clock is far from real time. Only this session's clients are affected, in whatever
    thread they sign (`signing_clock`).

    A client asked for again with the same arguments is the one made the first time: a
    runbook that writes `ctx.aws.client("ec2", region_name=region)` in a loop over regions
    builds each client once (botocore takes milliseconds to build one, nothing to reuse it,
    and its clients are safe to share between threads). Arguments that cannot be hashed (a
    dict of settings) get a new client every time.
    """

    def __init__(
        self,
        endpoint_url: str,
        headers: Mapping[str, HeaderValue],
        *,
        now: Callable[[], datetime] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(botocore_session=bare_botocore_session(), **kwargs)
        self.endpoint_url = endpoint_url
        self._headers = dict(headers)
        self._now = now
        self._clients: dict[Hashable, Any] = {}
        self._clients_lock = threading.Lock()
        if self._headers:
            self.events.register("before-sign", self._add_headers)

    def _add_headers(self, request: Any, **_: Any) -> None:
        for name, value in self._headers.items():
            request.headers[name] = value if isinstance(value, str) else value()

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        key: Hashable | None = (args, tuple(sorted(kwargs.items())))
        try:
            hash(key)
        except TypeError:
            key = None
        if key is not None:
            with self._clients_lock:
                cached = self._clients.get(key)
            if cached is not None:
                return cached
        client = self.new_client(*args, **kwargs)
        if key is None:
            return client
        with self._clients_lock:
            return self._clients.setdefault(key, client)

    def new_client(
        self, *args: Any, headers: Mapping[str, HeaderValue] | None = None, **kwargs: Any
    ) -> Any:
        """A client of its own (never one made before), whose requests also carry `headers`:
        a value that is a function is asked again for each request (as it is signed)."""
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        client = super().client(*args, **kwargs)
        if self._now is not None:
            signing_clock.sign_on(client, self._now)
        if headers:
            marking = dict(headers)

            def add_marking(request: Any, **_: Any) -> None:
                for name, value in marking.items():
                    request.headers[name] = value if isinstance(value, str) else value()

            client.meta.events.register("before-sign", add_marking)
        return client

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint_url)
        # boto3 makes the resource's client through `self.client`, which sets its clock.
        return super().resource(*args, **kwargs)


class SigningClock:
    """The time botocore signs with, per client: a run clock for the mock's own clients.

    botocore's SigV4 signers ask `botocore.auth.get_current_datetime` for the signing time,
    its S3 SigV2 presigner `botocore.auth.time.time()` for the expiry. Once installed, those
    names answer the clock of the client that is signing in the calling thread — set only
    for the duration of that client's `sign` — and the machine's time otherwise, exactly as
    botocore's own functions do. Other clients, threads and runs in the process are
    unaffected.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._original: Callable[..., datetime] | None = None

    def _clock(self) -> Callable[[], datetime] | None:
        now: Callable[[], datetime] | None = getattr(self._local, "now", None)
        return now

    def _current(self, remove_tzinfo: bool = True) -> datetime:
        now: Callable[[], datetime] | None = getattr(self._local, "now", None)
        if now is None:
            assert self._original is not None
            return self._original(remove_tzinfo)
        moment = now().astimezone(UTC)
        return moment.replace(tzinfo=None) if remove_tzinfo else moment

    def install(self) -> None:
        with self._lock:
            if self._original is not None:
                return
            import botocore.auth

            self._original = botocore.auth.get_current_datetime
            setattr(botocore.auth, "get_current_datetime", self._current)  # noqa: B010
            setattr(botocore.auth, "time", _SigningTime(self))  # noqa: B010

    def sign_on(self, client: Any, now: Callable[[], datetime]) -> None:
        """Make `client` sign at `now()` (its presigned URLs included)."""
        self.install()
        signer = client._request_signer
        original = signer.sign

        def sign(*args: Any, **kwargs: Any) -> Any:
            with self.at(now):
                return original(*args, **kwargs)

        signer.sign = sign

    @contextmanager
    def at(self, now: Callable[[], datetime]) -> Iterator[None]:
        """botocore signs at `now()` in this thread for the duration."""
        self.install()
        local = self._local
        previous = getattr(local, "now", None)
        local.now = now
        try:
            yield
        finally:
            local.now = previous


class QueryCaller:
    """One signed AWS query-protocol call after another, with none of a client's machinery.

    For the framework's own callers that make the same small call all run long (the
    workload's probe calls GetCallerIdentity every minute of the run): botocore's client
    pipeline — its events, its request and response models, its retry handler — is most of
    the cost of such a call, and none of it changes what reaches the account. The request
    is the one a botocore client sends (the form body, its content type), signed by
    botocore's own SigV4 signer at the run clock's time (`now`), with the framework's
    marking headers, over a kept-alive connection to the mock. A connection the mock
    closed while idle is opened again; an answer is its status and, for a refusal, AWS's
    error code.
    """

    def __init__(
        self,
        endpoint_url: str,
        service: str,
        api_version: str,
        credential: Any,
        *,
        region: str,
        headers: Mapping[str, str],
        user_agent: str,
        now: Callable[[], datetime],
    ) -> None:
        import urllib3
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        self.endpoint_url = endpoint_url.rstrip("/")
        self.api_version = api_version
        self._headers = {"User-Agent": user_agent, **headers}
        self._now = now
        self._signer = SigV4Auth(
            Credentials(
                credential.access_key_id,
                credential.secret_access_key,
                credential.session_token,
            ),
            service,
            region,
        )
        parts = urlsplit(self.endpoint_url)
        # Only a connection that failed before the request went out is tried again: a
        # request the mock may have served is never sent twice.
        retry = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0, other=0)
        self._pool = urllib3.HTTPConnectionPool(
            parts.hostname or "127.0.0.1", parts.port, maxsize=1, retries=retry
        )

    def call(self, action: str, **params: str) -> tuple[int, str | None]:
        """Call `action`; its HTTP status, and AWS's error code when refused."""
        from botocore.awsrequest import AWSRequest

        body = urlencode({"Action": action, "Version": self.api_version, **params})
        request = AWSRequest(
            method="POST",
            url=self.endpoint_url + "/",
            data=body.encode("utf-8"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                **self._headers,
            },
        )
        with signing_clock.at(self._now):
            self._signer.add_auth(request)
        prepared = request.prepare()
        answer = self._pool.urlopen(
            "POST", "/", body=prepared.body, headers=dict(prepared.headers), preload_content=True
        )
        if answer.status < 400:
            return answer.status, None
        code = _ERROR_CODE.search(answer.data or b"")
        return answer.status, code.group(1).decode("utf-8", "replace") if code else None

    def close(self) -> None:
        self._pool.close()


_ERROR_CODE = re.compile(rb"<Code>([^<]+)</Code>")


class _SigningTime:
    """The `time` module as `botocore.auth` sees it: `time()` follows the signing clock."""

    def __init__(self, clock: SigningClock) -> None:
        self._signing = clock

    def time(self) -> float:
        now = self._signing._clock()
        return now().timestamp() if now is not None else time.time()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


signing_clock = SigningClock()


_shared_loader: Any = None
_loader_lock = threading.Lock()


def bare_botocore_session() -> Any:
    """A botocore session that reads no configuration of the machine it runs on.

    No profile (not even one named by AWS_PROFILE), empty config files and no proxy: nothing
    on this machine can redirect a client to a real endpoint or break it. Every session shares one
    model loader — reading botocore's service models is most of the cost of a new client,
    and they never change.
    """
    global _shared_loader
    import botocore.config
    import botocore.loaders
    import botocore.session

    service_models.install(moto=False)
    session = botocore.session.Session(
        session_vars={"profile": (None, None, None, None)},
        event_hooks=_builtin_handlers(),
        include_builtin_handlers=False,
    )
    for variable in ("config_file", "credentials_file"):
        session.set_config_variable(variable, os.devnull)
    # The mock listens on loopback: never through a proxy. botocore would otherwise send
    # its clients through the machine's HTTP_PROXY (a company's, a developer's debugging
    # proxy), which cannot reach this machine's 127.0.0.1 — and reads the environment for
    # it each time it makes a client. A client's own `config` keeps its other settings.
    session.set_default_client_config(botocore.config.Config(proxies={}))
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = botocore.loaders.create_loader()
        session.register_component("data_loader", _shared_loader)
    _share_client_classes(session)
    return session


def _builtin_handlers() -> Any:
    """A copy of an event emitter holding botocore's built-in handlers.

    A new botocore session registers its 300 built-in handlers one by one, working out each
    event's alias as it goes: most of the cost of a session. They are the same for every
    session, so they are registered once, and each session starts from a copy — the copy
    botocore itself gives each client of a session.
    """
    import copy

    return copy.copy(_builtin_emitter())


@functools.cache
def _builtin_emitter() -> Any:
    import botocore.hooks
    import botocore.session

    emitter = botocore.hooks.HierarchicalEmitter()
    botocore.session.Session(event_hooks=emitter)  # registers botocore's handlers in it
    return emitter


# Marks the event emitter of a session made by `bare_botocore_session`.
_SHARES_CLIENT_CLASSES = "_gameday_shares_client_classes"
_client_classes: dict[tuple[Any, ...], type] = {}
_service_models: dict[tuple[Any, ...], Any] = {}
_client_classes_lock = threading.Lock()


def _share_client_classes(session: Any) -> None:
    """Clients of `session` reuse the client class (and service model) an earlier one of
    the same kind built.

    botocore builds a new Python class for every client — a method per operation, EC2's
    are 700 — which is nine tenths of the cost of a client once its model is loaded. The
    class depends only on the service model and on the `creating-client-class` handlers
    registered where the client is made; it is kept per service, model loader and exact
    handlers, and shared only between the sessions this module makes. Every other botocore
    session in the process builds its classes as botocore always does.
    """
    import botocore.client

    setattr(session.get_component("event_emitter"), _SHARES_CLIENT_CLASSES, True)
    creator: Any = botocore.client.ClientCreator
    with _client_classes_lock:
        if getattr(creator._create_client_class, _SHARES_CLIENT_CLASSES, False):
            return
        build = creator._create_client_class

        def create_client_class(self: Any, service_name: str, service_model: Any) -> type:
            emitter = self._event_emitter
            if not getattr(emitter, _SHARES_CLIENT_CLASSES, False):
                return build(self, service_name, service_model)  # type: ignore[no-any-return]
            event = f"creating-client-class.{service_model.service_id.hyphenize()}"
            try:
                registry = getattr(emitter, "_emitter", emitter)._handlers
                handlers = tuple(registry.prefix_search(event))
            except AttributeError:  # another botocore's emitter: build, as botocore does
                return build(self, service_name, service_model)  # type: ignore[no-any-return]
            key = (service_name, service_model.api_version, self._loader, handlers)
            with _client_classes_lock:
                known = _client_classes.get(key)
            if known is not None:
                return known
            made: type = build(self, service_name, service_model)
            with _client_classes_lock:
                return _client_classes.setdefault(key, made)

        setattr(create_client_class, _SHARES_CLIENT_CLASSES, True)
        creator._create_client_class = create_client_class

        load = creator._load_service_model

        def load_service_model(self: Any, service_name: str, api_version: Any = None) -> Any:
            # A service's model, made once: its caches (operations, shapes, the error
            # codes a client looks up on every refusal) fill once, not once per client.
            if not getattr(self._event_emitter, _SHARES_CLIENT_CLASSES, False):
                return load(self, service_name, api_version)
            key = (service_name, api_version, self._loader)
            with _client_classes_lock:
                known = _service_models.get(key)
            if known is not None:
                return known
            made = load(self, service_name, api_version)
            with _client_classes_lock:
                return _service_models.setdefault(key, made)

        creator._load_service_model = load_service_model
