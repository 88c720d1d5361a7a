"""The mock AWS account: moto's WSGI app behind the gateway, served in-process on loopback.

`MockAccount` owns the server's lifecycle (start, warm, reset, stop), the run clock moto
stamps its times with, and who signs what:

- the framework — what AWS itself does (the quarantine, the Health event) and the exercise's
  plumbing (warm-up) — signs with a credential that lives only in this object's memory
  (`framework_credential`). It is no IAM user or key of the account: nothing in
  `iam list-users` belongs to the exercise, and nothing the responders do to the account's
  users, keys or policies can stop AWS acting. The gateway knows the credential
  (`Gateway.framework_credential`) and acts with it in the scenario's account;
- the responders sign with a key of an estate user, old and with a history like any other
  (`gameday.world.estate`: the scenario's `responders.user`, or a default on-call admin);
  its key goes in the generated AWS CLI profile (`write_profiles`);
- the attacker and the workload sign with estate keys too.

moto's AWS managed policies are loaded (`MOTO_IAM_LOAD_MANAGED_POLICIES`), so the quarantine
policies attach by their real ARNs. moto picks the account of a request from the key that
signed it (the framework's through the gateway's account header), so everything happens in
the scenario's account; `MOTO_ACCOUNT_ID` is never set. The server binds 127.0.0.1 on an
ephemeral port.

Times: moto stamps what it creates with `moto.core.utils.utcnow`; while the gateway serves a
request that function answers the run clock (`clock.t0 + clock.now()`, see
`gateway.moto_time`), so a key created during a virtual-time run is dated on the run's
timeline, as are CloudTrail events and support cases.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import secrets
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from gameday import heap
from gameday.journal import Journal, RunClock, time_at
from gameday.world import service_models
from gameday.world.clients import HeaderValue, MockSession, QueryCaller
from gameday.world.cloudtrail import CloudTrailEvents
from gameday.world.decoys import BASE32, SECRET_ALPHABET, SECRET_LENGTH, Credential
from gameday.world.gateway import (
    ACTOR_HEADER,
    CLIENT_HEADER,
    SOURCE_IP_HEADER,
    USER_AGENT_HEADER,
    Actor,
    Gateway,
    moto_time,
)
from gameday.world.support import SupportCenter

LOOPBACK = "127.0.0.1"
# How often the server's loop looks for `stop()`: it blocks in select() that long at most,
# and a run waits for it once, at its end (socketserver's default is half a second).
SHUTDOWN_POLL_S = 0.02
PROFILE = "gameday"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
# AWS's own sessions carry temporary keys; the framework's is one of no IAM user.
FRAMEWORK_KEY_PREFIX = "ASIA"


@dataclass(frozen=True)
class Principal:
    """An IAM user of the estate the exercise signs with, and the actor its calls count as."""

    user_name: str
    arn: str
    actor: Actor
    credential: Credential


# ── moto, prepared once per process ────────────────────────────────────────────────────────


# Largest request body a kept-alive connection reads past when the app left it unread; a
# request with more unread is answered on a connection that then closes.
_KEEP_ALIVE_DRAIN_MAX = 1 << 20
# An idle kept-alive connection is closed after this long (a client reconnects by itself).
KEEP_ALIVE_IDLE_S = 120.0
# How long a stopping server waits for a thread still answering a request.
_STOP_JOIN_S = 5.0


class _BodyReader:
    """A request's body, exactly `length` bytes of the connection and not one past it.

    Werkzeug's development server closes every connection after one response, because
    after a response it drains whatever the socket still holds, which on a kept-alive
    connection would be the client's next request. Reading the body through this instead,
    that drain finds the body's end (`b""`) and stops, and the connection can serve the
    next request.
    """

    def __init__(self, raw: Any, length: int) -> None:
        self._raw = raw
        self.remaining = length

    def read(self, size: int | None = -1) -> bytes:
        return self._take(self._raw.read, size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        return self._take(self._raw.readline, size)

    def _take(self, reading: Any, size: int | None) -> bytes:
        if self.remaining <= 0:
            return b""
        if size is None or size < 0 or size > self.remaining:
            size = self.remaining
        data: bytes = reading(size)
        self.remaining = self.remaining - len(data) if data else 0
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        return self.read().splitlines(keepends=True)

    def __iter__(self) -> Any:
        return iter(self.readlines())

    def drain(self) -> bool:
        """Read what the app left of the body; False when too much was left to bother."""
        if self.remaining > _KEEP_ALIVE_DRAIN_MAX:
            return False
        while self.remaining > 0 and self.read(65536):
            pass
        return self.remaining == 0


class _LiveConnections:
    """The connections a server is serving, each with the thread that serves it: a server
    stops only once they are closed and their threads gone (a parked account is forked)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: dict[Any, threading.Thread] = {}

    def add(self, connection: Any) -> None:
        with self._lock:
            self._live[connection] = threading.current_thread()

    def discard(self, connection: Any) -> None:
        with self._lock:
            self._live.pop(connection, None)

    def connections(self) -> frozenset[Any]:
        with self._lock:
            return frozenset(self._live)

    def close_all(self) -> None:
        with self._lock:
            live = list(self._live.items())
        for connection, _ in live:
            # the thread's blocked read of the next request line ends with b""
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in live:
            if thread is not threading.current_thread():  # one still answering: not long
                thread.join(timeout=_STOP_JOIN_S)


def _request_handler() -> type:
    """moto's request handler (it keeps S3 metadata headers intact), without an access log,
    keeping HTTP/1.1 connections alive.

    Every AWS call of a run would otherwise open a connection and a server thread of its
    own; boto3 and the AWS CLI keep their connections, so a run's calls reuse a handful.
    A request whose body's length is not known up front (chunked) is answered the old
    way, on a connection that then closes.
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietRequestHandler(MotoRequestHandler):
        timeout = KEEP_ALIVE_IDLE_S
        # a response goes out in several writes (headers, body, a chunk's end); with Nagle's
        # algorithm the second waits for the client's delayed ACK, 40 ms a call
        disable_nagle_algorithm = True
        _keep_alive = False

        def log_request(self, *args: Any, **kwargs: Any) -> None:
            return None

        def log_error(self, format: str, *args: Any) -> None:
            # a kept connection idle past `timeout` is closed, not an error to print on the
            # facilitator's console: its client opens another when it calls again
            if format.startswith("Request timed out"):
                return
            super().log_error(format, *args)

        def setup(self) -> None:
            super().setup()
            live: _LiveConnections | None = getattr(self.server, "live_connections", None)
            if live is not None:
                live.add(self.connection)

        def finish(self) -> None:
            live: _LiveConnections | None = getattr(self.server, "live_connections", None)
            if live is not None:
                live.discard(self.connection)
            super().finish()

        def run_wsgi(self) -> None:
            length = self.headers.get("Content-Length")
            chunked = "Transfer-Encoding" in self.headers
            if chunked or self.close_connection or (length is not None and not length.isdigit()):
                self._keep_alive = False
                super().run_wsgi()
                self.close_connection = True
                return
            connection = self.rfile
            body = _BodyReader(connection, int(length or 0))
            self._keep_alive = True
            self.rfile = body  # type: ignore[assignment]  # read by make_environ and the drain
            try:
                super().run_wsgi()
            finally:
                self.rfile = connection
            if not body.drain():
                self.close_connection = True

        def send_header(self, keyword: str, value: str) -> None:
            if self._keep_alive and keyword.lower() == "connection" and value == "close":
                return
            super().send_header(keyword, value)

    return QuietRequestHandler


def prepare_moto() -> None:
    """Process-wide settings that must precede moto's first IAM backend."""
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    # moto would load ~1,000 public images into every region's EC2 backend (≈50 ms a region,
    # and a sweep touches every region); nobody in the exercise looks images up
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    os.environ.pop("MOTO_ACCOUNT_ID", None)
    service_models.install()
    moto_time.install()
    _cache_handler_lookup()
    with service_models.collector_paused():  # moto's modules and policies: none of it garbage
        _import_run_backends()
        _look_up_keys_without_creating_backends()
        _share_managed_policies()


def _cache_handler_lookup() -> None:
    """moto finds the method that answers a request by listing every function of the
    service's response class (`inspect.getmembers`), on every request: a fifth of what an
    STS call costs the server, more for EC2's hundreds of actions. Neither the classes nor
    moto's folders change while the process lives: each is listed once."""
    import moto.core.responses as responses

    listing = vars(responses)["method_names_from_class"]
    if not hasattr(listing, "cache_info"):
        responses.method_names_from_class = functools.cache(listing)  # type: ignore[attr-defined]
    # and moto's dispatcher, to tell a service's name from a host, lists moto's package
    # folder (a stat of each of its two hundred entries) on every request
    import moto.backends as backends

    modules = backends.list_of_moto_modules
    if not hasattr(modules, "cache_info"):
        listed = functools.cache(lambda: tuple(modules()))
        backends.list_of_moto_modules = functools.wraps(modules)(listed)


def _look_up_keys_without_creating_backends() -> None:
    """moto finds the account of a request signed with a key it was not told the account of
    by asking every account's IAM backend of every partition (seven) for the key — creating
    each missing backend on the way, with its own copy of the 1,600 AWS managed policies. A
    backend nobody made holds no key: the same search, over the backends that exist."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models

    search = vars(models)["get_account_id_from"]
    if getattr(search, "_gameday_reads_only", False):
        return

    def get_account_id_from(access_key: str) -> str:
        for account_id, partitions in list(models.iam_backends.items()):
            for backend in list(dict.values(partitions)):
                if access_key in backend.access_keys:
                    return str(account_id)
        return str(DEFAULT_ACCOUNT_ID)

    get_account_id_from._gameday_reads_only = True  # type: ignore[attr-defined]
    models.get_account_id_from = get_account_id_from


# The moto services every run serves. Their models import one another (sts ↔ iam, ec2 ↔
# iam …); imported lazily from two threads at once — a request creating the STS app while
# another checks a signature against IAM — Python's import locks can deadlock
# (`_DeadlockError`), so they are imported here, in one thread, before the server starts.
_RUN_BACKENDS = (
    "moto.iam.models",
    "moto.sts.models",
    "moto.s3.models",
    "moto.ec2.models",
    "moto.secretsmanager.models",
    "moto.cloudtrail.models",
    "moto.support.models",
    "moto.core.request",
    "moto.core.routing",
    "moto.moto_server.werkzeug_app",
)


_backends_imported = False


def _import_run_backends() -> None:
    global _backends_imported
    import importlib

    if _backends_imported:
        return
    for module in _RUN_BACKENDS:
        importlib.import_module(module)
    # moto's modules and data live as long as the process: kept out of the cycle
    # collector's full passes, which would walk them again at every one
    heap.freeze()
    _backends_imported = True


_managed_policies_shared = False
# partition ("aws", "aws-cn" …) → AWS managed policies as built once, never handed out
_managed_policy_templates: dict[str, list[Any]] = {}
_templates_lock = threading.Lock()
_TEMPLATE_ACCOUNT = "000000000000"
_POLICY_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def _share_managed_policies() -> None:
    """Every new IAM backend gets its ~1,600 AWS managed policies copied, not built again.

    moto parses their 3 MB of JSON and builds each policy anew for every IAM backend — each
    with a policy ID drawn from its random source —, and a reset mock makes a new backend for
    each run: about 0.1 s a run. Here the policies of a partition are built once per process
    and every backend gets copies with fresh mutable parts (attachments, versions, tags) and
    its own account.

    As in AWS, where an AWS managed policy has one ID in every account, the copies keep the
    template's ID: `ANPA` and 17 characters drawn from a generator of their own, the same in
    every process. The build draws nothing from moto's random source, so the IDs moto draws
    afterwards for a run's own resources do not depend on when, or whether, an IAM backend
    was made.
    """
    global _managed_policies_shared
    from moto.iam import models
    from moto.settings import load_iam_aws_managed_policies

    if _managed_policies_shared:
        return
    build = models.IAMBackend._init_aws_policies

    def templates_of(partition: str) -> list[Any]:
        with _templates_lock:
            templates = _managed_policy_templates.get(partition)
            if templates is None:
                ids = random.Random(f"gameday:aws-managed-policies:{partition}")
                drawing = models.random_policy_id  # type: ignore[attr-defined]
                # the build's IDs are replaced below: it must not draw them from moto's source
                models.random_policy_id = lambda: ""  # type: ignore[attr-defined]
                try:
                    owner: Any = _PolicyOwner(_TEMPLATE_ACCOUNT, partition)
                    built = build(owner)
                finally:
                    models.random_policy_id = drawing  # type: ignore[attr-defined]
                for policy in built:
                    policy.id = "ANPA" + "".join(ids.choices(_POLICY_ID_ALPHABET, k=17))
                templates = _managed_policy_templates[partition] = built
        return templates

    def init_aws_policies(backend: Any) -> list[Any]:
        if not load_iam_aws_managed_policies():
            return []
        policies = []
        for template in templates_of(backend.region_name):
            policy = _copy_policy(template)
            policy.account_id = backend.account_id
            policies.append(policy)
        return policies

    setattr(models.IAMBackend, "_init_aws_policies", init_aws_policies)  # noqa: B010
    _managed_policies_shared = True
    if load_iam_aws_managed_policies():
        templates_of("aws")  # now, while no request can be in flight


@dataclass(frozen=True)
class _PolicyOwner:
    """What moto's build of the AWS managed policies reads of its IAM backend."""

    account_id: str
    region_name: str


def _copy_policy(policy: Any) -> Any:
    copy = object.__new__(type(policy))
    copy.__dict__.update(policy.__dict__)
    copy.tags = dict(policy.tags)
    copy.versions = []
    for version in policy.versions:
        twin = object.__new__(type(version))
        twin.__dict__.update(version.__dict__)
        copy.versions.append(twin)
    return copy


def iam_backend(account_id: str) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account_id]["global"]


def backend(service: str, account_id: str, region: str = "global") -> Any:
    """moto's in-process backend of `service` in an account and region, for checks and seeding."""
    from moto.backends import get_backend

    name: Any = service  # moto types the name as a literal of its services
    return get_backend(name)[account_id][region]


def forget_account(account_id: str) -> None:
    """Drop every moto backend of one account; the next request finds it new and empty."""
    from moto.core.base_backend import BackendDict
    from moto.s3.models import s3_backends

    instances: list[Any] = list(getattr(BackendDict, "_instances", []))
    for backends in instances:
        dict.pop(backends, account_id, None)
    owned = [
        name for name, (_, owner) in s3_backends.bucket_accounts.items() if owner == account_id
    ]
    for name in owned:
        s3_backends.bucket_accounts.pop(name, None)


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# ── in-process access keys with chosen IDs ─────────────────────────────────────────────────


def install_access_key(
    account_id: str,
    user_name: str,
    credential: Credential,
    *,
    status: str = "Active",
    created: datetime | None = None,
) -> Any:
    """Give `user_name` an access key with exactly this ID and secret (moto draws its own)."""
    iam = iam_backend(account_id)
    key = iam.create_access_key(user_name, status=status)
    del iam.access_keys[key.access_key_id]
    key.access_key_id = credential.access_key_id
    key.secret_access_key = credential.secret_access_key
    if created is not None:
        key.create_date = naive_utc(created)
    iam.access_keys[credential.access_key_id] = key
    return key


def framework_credential(account_id: str, seed: int) -> Credential:
    """The framework's credential: in no IAM backend, its secret drawn anew in each process.

    The key id comes from the seed, so two runs with one seed journal the same calls; the
    secret comes from the operating system's randomness and is never written anywhere, so
    the key id a journal shows lets nobody sign as the framework.
    """
    rng = random.Random(f"gameday-aws-side:{seed}:{account_id}")
    access_key_id = FRAMEWORK_KEY_PREFIX + "".join(rng.choice(BASE32) for _ in range(16))
    secret = "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    return Credential(access_key_id, secret)


# ── the account ────────────────────────────────────────────────────────────────────────────


class MockAccount:
    """One mock AWS account served on 127.0.0.1, behind the gateway; a context manager."""

    def __init__(
        self,
        account_id: str,
        clock: RunClock,
        *,
        journal: Journal | None = None,
        regions: Sequence[str] = ("us-east-1",),
        support_plan: str = "enterprise",
        seed: int = 0,
    ) -> None:
        self.account_id = account_id
        self.clock = clock
        self.journal = journal
        self.regions = tuple(dict.fromkeys(regions)) or ("us-east-1",)
        self.support_plan = support_plan
        self.seed = seed
        self.token = secrets.token_urlsafe(24)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._gateway: Gateway | None = None
        self.moto_app: Any = None
        self.framework_credential = framework_credential(account_id, seed)
        self._responder: Principal | None = None
        # The framework's clients, one per signer, service, region and marking: a boto3
        # client costs milliseconds to build and nothing to reuse.
        self._clients: dict[tuple[Any, ...], Any] = {}
        self._sessions: dict[Credential, MockSession] = {}
        self._signers_session: MockSession | None = None  # every other signer's
        self._clients_lock = threading.Lock()

    # ── lifecycle ─────────────────────────────────────────────────────────────────────────

    def start(self) -> MockAccount:
        """Serve the account and warm the backends; idempotent."""
        if self._server is not None:
            return self
        prepare_moto()
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.moto_app = DomainDispatcherApplication(create_backend_app)
        self._gateway = Gateway(
            self.moto_app,
            self.account_id,
            self.clock,
            support=self._support_center(),
            trail=CloudTrailEvents(self.account_id),
            token=self.token,
            journal=self.journal,
        )
        self._gateway.framework_credential = self.framework_credential
        self._serve()
        # The account is this object's: whatever an earlier mock left in it goes.
        forget_account(self.account_id)
        self.warm()
        return self

    def _serve(self) -> None:
        from werkzeug.serving import make_server

        self._server = make_server(
            LOOPBACK, 0, self.gateway, threaded=True, request_handler=_request_handler()
        )
        self._server.live_connections = _LiveConnections()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(SHUTDOWN_POLL_S,),
            name=f"mock-aws-{self.account_id}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server.live_connections.close_all()
        self._server = None
        self._thread = None
        self._forget_clients()

    def park(self) -> None:
        """Stop serving but keep everything warm: moto's backends, the gateway, the caches.

        What a warm-start server does before it forks (`gameday.warm_start`): a process
        with one thread forks safely, and each child serves the parked account again on a
        port of its own (`unpark`), under a client token of its own.
        """
        self.stop()

    @property
    def parked(self) -> bool:
        return self._server is None and self._gateway is not None

    def unpark(self) -> None:
        """Serve a parked account again, on a new port, under a new client token: a forked
        copy shares nothing of its parent's secrets with the parent's other children."""
        if not self.parked:
            return
        self.token = secrets.token_urlsafe(24)
        self.gateway.token = self.token
        self._serve()

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> MockAccount:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(
        self,
        *,
        clock: RunClock | None = None,
        journal: Journal | None = None,
        account_id: str | None = None,
        regions: Sequence[str] | None = None,
        support_plan: str | None = None,
        seed: int | None = None,
    ) -> None:
        """Empty the account (every moto backend of it) and the gateway's state, keeping the
        warm server: for tests that share one, each with its own clock, journal and account.
        Other accounts in the process (another moto server's) are left alone.
        """
        gateway = self.gateway
        prepare_moto()  # its settings may have gone from the environment since the start
        forgotten = {self.account_id, account_id or self.account_id}
        self.clock = clock or self.clock
        self.journal = journal
        self.account_id = account_id or self.account_id
        self.regions = tuple(dict.fromkeys(regions)) if regions else self.regions
        self.support_plan = support_plan or self.support_plan
        self.seed = self.seed if seed is None else seed
        previous = self.framework_credential
        self.framework_credential = framework_credential(self.account_id, self.seed)
        self._responder = None
        self._keep_framework_clients(previous, self.framework_credential)
        gateway.recording = False
        for forgotten_id in forgotten:
            forget_account(forgotten_id)
        gateway.account_id = self.account_id
        gateway.clock = self.clock
        gateway.support = self._support_center()
        gateway.trail = CloudTrailEvents(self.account_id)
        gateway.registry.clear()
        gateway.clear_propagation()
        gateway.vault = None
        gateway.attach_journal(self.journal)
        gateway.framework_credential = self.framework_credential
        gateway.recording = True

    def _support_center(self) -> SupportCenter:
        def journal_change(kind: str, fields: Mapping[str, Any]) -> None:
            if self.journal is not None:
                self.journal.append(kind, **fields)

        return SupportCenter(
            self.account_id,
            self.now,
            plan=self.support_plan,
            seed=self.seed,
            on_change=journal_change,
        )

    # ── what others use ───────────────────────────────────────────────────────────────────

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            raise RuntimeError("the mock account is not started; call start() first")
        return self._gateway

    @property
    def support(self) -> SupportCenter:
        return self.gateway.support

    @property
    def trail(self) -> CloudTrailEvents:
        return self.gateway.trail

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the mock account is not started; call start() first")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def endpoint_url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    @property
    def region(self) -> str:
        """The region responders work in by default: the scenario's first."""
        return self.regions[0]

    def now(self) -> datetime:
        return time_at(self.clock, self.clock.now())

    def iam(self) -> Any:
        """moto's IAM backend of this account (in-process; for checks and seeding)."""
        return iam_backend(self.account_id)

    @property
    def responder(self) -> Principal:
        """The estate user the responders sign as (set when the estate is seeded)."""
        if self._responder is None:
            raise RuntimeError(
                "the responders' user comes with the estate: seed it first "
                "(gameday.world.estate.seed_estate)"
            )
        return self._responder

    def adopt_responder(self, principal: Principal, key_ids: Iterable[str] = ()) -> None:
        """The responders sign as `principal`; its keys (and `key_ids`) are theirs."""
        self._responder = principal
        for access_key_id in {principal.credential.access_key_id, *key_ids}:
            self.register_key(access_key_id, principal.actor)

    def register_key(self, access_key_id: str, actor: Actor) -> None:
        self.gateway.registry.register(access_key_id, actor)

    def attach_journal(self, journal: Journal | None) -> None:
        self.journal = journal
        self.gateway.attach_journal(journal)

    def session(
        self,
        credential: Credential,
        *,
        region: str | None = None,
        framework_client: bool = True,
        source_ip: HeaderValue | None = None,
        user_agent: str | None = None,
        actor: Actor | None = None,
    ) -> MockSession:
        """A boto3 session signing with `credential` against this account, on the run clock.

        `framework_client` marks the calls as the framework's own client for the key's actor
        (the attacker's, the workload's…); only then are `source_ip` and `user_agent`
        recorded in place of the real ones.
        """
        return MockSession(
            self.endpoint_url,
            self._marking(framework_client, source_ip, user_agent, actor),
            now=self.now,
            aws_access_key_id=credential.access_key_id,
            aws_secret_access_key=credential.secret_access_key,
            aws_session_token=credential.session_token,
            region_name=region or self.region,
        )

    def _marking(
        self,
        framework_client: bool = True,
        source_ip: HeaderValue | None = None,
        user_agent: str | None = None,
        actor: Actor | None = None,
    ) -> dict[str, HeaderValue]:
        """The headers that mark a request as the framework's client for an actor; a
        `source_ip` that is a function gives each request its own address."""
        headers: dict[str, HeaderValue] = {}
        if framework_client:
            headers[CLIENT_HEADER] = self.token
            if source_ip:
                headers[SOURCE_IP_HEADER] = source_ip
            if user_agent:
                headers[USER_AGENT_HEADER] = user_agent
            if actor:
                headers[ACTOR_HEADER] = actor
        return headers

    def client(self, service: str, credential: Credential | None = None, **options: Any) -> Any:
        """A boto3 client; by default the framework's own. Made once per signer, service,
        region and options, then reused (boto3 clients are safe to share between threads)."""
        signer = credential or self.framework_credential
        key = (service, signer, self.endpoint_url, tuple(sorted(options.items())))
        with self._clients_lock:
            client = self._clients.get(key)
        if client is not None:
            return client
        region = options.pop("region", None)
        headers = self._marking(**options)
        # A session costs more to make than a client. The framework's key has a session of
        # its own (its clients outlive a run: `_keep_framework_clients`); every other
        # signer's clients (the attacker's, a run's) are made by one shared session, each
        # with its signer's key.
        explicit: dict[str, str | None] = {}
        with self._clients_lock:
            if signer == self.framework_credential:
                session = self._sessions.get(signer)
                if session is None:
                    session = self._sessions[signer] = self.session(signer, framework_client=False)
            else:
                session = self._signers_session
                if session is None:
                    session = self._signers_session = self.session(
                        self.framework_credential, framework_client=False
                    )
                explicit = {
                    "aws_access_key_id": signer.access_key_id,
                    "aws_secret_access_key": signer.secret_access_key,
                    "aws_session_token": signer.session_token,
                }
        client = session.new_client(
            service, headers=headers, region_name=region or self.region, **explicit
        )
        with self._clients_lock:
            return self._clients.setdefault(key, client)

    def query_caller(
        self,
        service: str,
        api_version: str,
        credential: Credential,
        *,
        region: str | None = None,
        user_agent: str,
        actor: Actor,
    ) -> QueryCaller:
        """A lean signed caller of one query-protocol service, as the framework's client
        for `actor` (see `QueryCaller`: for a call made again and again all run long)."""
        marking = self._marking(True, None, user_agent, actor)  # fixed: no address drawn
        return QueryCaller(
            self.endpoint_url,
            service,
            api_version,
            credential,
            region=region or self.region,
            headers={name: value for name, value in marking.items() if isinstance(value, str)},
            user_agent=user_agent,
            now=self.now,
        )

    def _forget_clients(self) -> None:
        with self._clients_lock:
            self._clients.clear()
            self._sessions.clear()
            self._signers_session = None

    def _keep_framework_clients(self, previous: Credential, current: Credential) -> None:
        """The framework's own clients outlive a reset, signing with its key for the next run.

        They sign at `self.now`, whatever the clock, and hold nothing of a run; making them
        again (a client per service and region, ≈15 ms each) was most of a warm-up. Their
        session's credentials are one botocore object every client of it signs with, read at
        each signature: it takes the new key in place. Every other signer's clients (the
        attacker's, the workload's) were a run's, and go.
        """
        with self._clients_lock:
            session = self._sessions.get(previous)
            clients = {k: c for k, c in self._clients.items() if k[1] == previous}
            self._sessions.clear()
            self._clients = {}
            if session is None:
                return
            if current != previous:
                signing = session.get_credentials()
                signing.access_key = current.access_key_id
                signing.secret_key = current.secret_access_key
                signing.token = current.session_token
            self._sessions[current] = session
            for (service, _, endpoint, options), client in clients.items():
                self._clients[service, current, endpoint, options] = client

    def write_profiles(self, run_dir: Path) -> dict[str, str]:
        """RUN_DIR/aws/config and aws/credentials with profile `gameday` (the responder's key).

        Returns the environment variables that select it, for a shell or a subprocess.
        """
        folder = run_dir / "aws"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "config"
        credentials = folder / "credentials"
        config.write_text(
            f"[profile {PROFILE}]\n"
            f"region = {self.region}\n"
            "output = json\n"
            f"endpoint_url = {self.endpoint_url}\n"
            "cli_pager =\n",
            encoding="utf-8",
        )
        credentials.write_text(
            f"[{PROFILE}]\n"
            f"aws_access_key_id = {self.responder.credential.access_key_id}\n"
            f"aws_secret_access_key = {self.responder.credential.secret_access_key}\n",
            encoding="utf-8",
        )
        credentials.chmod(0o600)
        return profile_environment(run_dir)

    # ── warm-up ───────────────────────────────────────────────────────────────────────────

    def warm(self, regions: Iterable[str] | None = None) -> float:
        """Load every backend a run touches before the clock starts; the seconds it took."""
        started = datetime.now(UTC)
        wanted = tuple(dict.fromkeys([*(regions or ()), *self.regions]))
        gateway = self.gateway
        recording, gateway.recording = gateway.recording, False
        calls = [
            ("iam", "us-east-1", "list_users"),
            ("sts", "us-east-1", "get_caller_identity"),
            ("s3", "us-east-1", "list_buckets"),
            ("cloudtrail", wanted[0], "describe_trails"),
        ]
        for region in wanted:
            calls.append(("ec2", region, "describe_instances"))
            calls.append(("secretsmanager", region, "list_secrets"))

        def touch(service: str, region: str, operation: str) -> object:
            return getattr(self.client(service, region=region), operation)()

        try:
            # the backends and clients made here last the run: nothing for the collector.
            # One call after another: the work is the server's and the clients' Python, under
            # one interpreter lock; threads calling at once only pass the lock to and fro (a
            # third more time, most of it in the kernel).
            with service_models.collector_paused():
                for call in calls:
                    touch(*call)
        finally:
            gateway.recording = recording
        return (datetime.now(UTC) - started).total_seconds()


# ── the process's warm mock ───────────────────────────────────────────────────────────────
#
# moto's backends are process-wide, so a process holds one mock account at a time, and the
# seconds its start-up and warm-up take are paid again by every run that starts its own. A
# process that plays many runs one after another (a pool's worker, a test process, a team's
# pytest session) calls `keep_warm()`: a run's mock is then kept, started and warm, when the
# run is done, and the next run takes it and empties it for itself (`MockAccount.reset`).
# A process that plays one run (`gameday run`) keeps nothing: its mock stops with the run.

_kept_lock = threading.Lock()
_keeping = False
_kept: MockAccount | None = None  # started, warm and idle


def keep_warm(keep: bool = True) -> None:
    """Keep the mock a run is done with for the process's next run (or stop keeping it)."""
    global _keeping, _kept
    with _kept_lock:
        _keeping = keep
        idle, _kept = (None, _kept) if keep else (_kept, None)
    if idle is not None:
        idle.stop()


def acquire_mock(
    account_id: str,
    clock: RunClock,
    *,
    journal: Journal | None = None,
    regions: Sequence[str] = ("us-east-1",),
    support_plan: str = "enterprise",
    seed: int = 0,
) -> MockAccount:
    """A started mock account for one run: the process's kept one emptied for it, or a new one.

    Give it back with `release_mock` when the run is done.
    """
    global _kept
    with _kept_lock:
        account, _kept = _kept, None
    if account is not None and account.parked:
        account.unpark()
    if account is None:
        return MockAccount(
            account_id, clock, journal=journal, regions=regions, support_plan=support_plan,
            seed=seed,
        ).start()  # fmt: skip
    account.reset(
        clock=clock, journal=journal, account_id=account_id, regions=regions,
        support_plan=support_plan, seed=seed,
    )  # fmt: skip
    return account


def park_mock(account: MockAccount) -> None:
    """Park `account` (`MockAccount.park`) as the process's kept mock: the next run of this
    process — or of a child forked from it — serves it again and empties it for itself."""
    global _kept
    account.park()
    with _kept_lock:
        _kept = account


def release_mock(account: MockAccount) -> None:
    """A run is done with `account`: kept warm for the next when the process keeps one, else
    stopped."""
    global _kept
    with _kept_lock:
        keep = _keeping and _kept is None and account.running
        if keep:
            account.attach_journal(None)  # the next run's reset empties the rest
            _kept = account
    if not keep:
        account.stop()


def profile_environment(run_dir: Path) -> dict[str, str]:
    """The variables that point the AWS CLI and SDKs at a run's generated profile."""
    folder = run_dir / "aws"
    return {
        "AWS_CONFIG_FILE": str(folder / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(folder / "credentials"),
        "AWS_PROFILE": PROFILE,
    }
