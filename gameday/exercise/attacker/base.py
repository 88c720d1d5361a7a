"""What every attacker technique shares: its record, the context it acts through, its outcome.

A technique is one small unit (Stratus Red Team style): a `TechniqueInfo` with a dotted id,
the tactic, what it does and how a defender would notice, plus a `detonate` function. The
runner owns timing and journaling; a technique only makes its calls through the
`AttackerContext`, which signs them with whatever credentials the attacker still holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError

from gameday.errors import did_you_mean
from gameday.world.decoys import Credential

Tactic = Literal[
    "discovery",
    "persistence",
    "impact",
    "credential-access",
    "exfiltration",
    "execution",
    "defense-evasion",
]

# Errors that mean "these credentials no longer work" rather than "this call is not allowed".
DEAD_CREDENTIAL_CODES = frozenset(
    {
        "AuthFailure",  # EC2's word for it
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "ExpiredToken",  # a session past its expiry
        "ExpiredTokenException",
    }
)
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


@dataclass(frozen=True)
class Resource:
    """Something the attacker created and left behind unless a responder removes it."""

    kind: Literal["user", "access-key", "login-profile", "role", "policy", "instance", "function"]
    id: str
    region: str = "global"
    parent: str = ""  # e.g. the user an access key or login profile belongs to


@dataclass
class Outcome:
    """What one detonation achieved: calls that worked, calls refused, what it created."""

    succeeded: int = 0
    failed: int = 0
    error_codes: list[str] = field(default_factory=list)
    created: list[Resource] = field(default_factory=list)
    loot: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> Literal["succeeded", "partial", "failed"]:
        if self.failed == 0:
            return "succeeded"
        return "partial" if self.succeeded else "failed"


class ClientFactory(Protocol):
    def __call__(self, credential: Credential, service: str, region: str) -> Any: ...


class AccountClients(Protocol):
    """What `attacker_clients` needs of the mock account (`MockAccount.client`)."""

    def client(self, service: str, credential: Credential | None = None, **options: Any) -> Any: ...


# Where the attacker's requests appear to come from. Documentation-reserved ranges
# (TEST-NET-2 and TEST-NET-3, RFC 5737): they can never be anyone's real address, yet read as
# public, foreign IPs in CloudTrail — unlike private ranges, which would look like the office.
ATTACKER_SOURCE_IPS = (
    "203.0.113.77",
    "203.0.113.142",
    "203.0.113.9",
    "198.51.100.23",
    "198.51.100.188",
    "198.51.100.61",
)
# What the attacker's tools say they are: the AWS CLI and boto3 on a Kali box, and the
# secret scanners that validate the keys they harvest.
ATTACKER_USER_AGENTS = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.kali.2024 prompt/off",
    "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#6.1.0-kali5-amd64 md/arch#x86_64 "
    "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.2",
    "python-requests/2.31.0 TruffleHog",
    "aws-sdk-go/1.50.8 (go1.21.6; linux; amd64)",
)


def attacker_clients(
    account: AccountClients,
    rng: random.Random,
    *,
    source_ips: Sequence[str] = (),
    user_agents: Sequence[str] = (),
) -> ClientFactory:
    """The attacker's `client_factory`: clients of the mock account marked as the attacker's.

    Each request comes from another address of a small pool (never the same one twice in a
    row), so CloudTrail shows what real intrusions show: a different source IP per request.
    Each credential is driven by one tool, whose user agent its calls carry. Clients are kept
    per credential, service and region, so a call does not build a new boto3 client: the
    address is drawn as each request is signed. `source_ips` and `user_agents` replace the
    pools (a scenario's `attacker` section).
    """
    ips = tuple(source_ips) or ATTACKER_SOURCE_IPS
    agents = tuple(user_agents) or ATTACKER_USER_AGENTS
    clients: dict[tuple[Credential, str, str], Any] = {}
    tools: dict[Credential, str] = {}
    previous: list[str] = []

    def next_address() -> str:
        source_ip = rng.choice([ip for ip in ips if ip not in previous] or list(ips))
        previous[:] = [source_ip]
        return source_ip

    def client_for(credential: Credential, service: str, region: str) -> Any:
        cache_key = (credential, service, region)
        client = clients.get(cache_key)
        if client is None:
            if credential not in tools:
                tools[credential] = rng.choice(agents)
            client = clients[cache_key] = account.client(
                service,
                credential,
                region=region,
                source_ip=next_address,
                user_agent=tools[credential],
                actor="attacker",
            )
        return client

    return client_for


class AttackerContext:
    """The attacker's view of the world: a wallet of credentials and clients signed with them.

    The wallet starts with the leaked key. Keys the attacker mints for itself (a backdoor
    user's, a second key on an existing user) join the wallet, and are preferred from then
    on: they are not quarantined. A call is retried with the next credential when one turns
    out dead (`InvalidClientTokenId`) or denied, as a real attacker's tooling does.
    """

    def __init__(
        self,
        *,
        account_id: str,
        leaked: Credential,
        client_factory: ClientFactory,
        regions_in_use: list[str],
        rng: random.Random,
    ) -> None:
        self.account_id = account_id
        self.leaked = leaked
        self.wallet: list[Credential] = [leaked]
        self.dead: set[str] = set()
        self.regions_in_use = regions_in_use
        self.rng = rng
        self._client_factory = client_factory
        self.outcome = Outcome()
        self.resources: list[Resource] = []  # everything created, across detonations
        self.sessions: dict[str, Credential] = {}  # temporary credentials, by technique id

    def add_credential(self, credential: Credential) -> None:
        self.wallet.insert(0, credential)

    def live_credentials(self) -> Iterator[Credential]:
        yield from (c for c in self.wallet if c.access_key_id not in self.dead)

    def has_working_credentials(self) -> bool:
        return any(True for _ in self.live_credentials())

    def call(self, service: str, operation: str, region: str = "us-east-1", **params: Any) -> Any:
        """Call `operation` (a boto3 method name); None when every credential failed.

        A failed call's outcome keeps the error code of each credential tried; with no live
        credential left no request is made at all, and the call fails with no code.
        """
        codes: list[str] = []
        for credential in list(self.live_credentials()):
            client = self._client_factory(credential, service, region)
            try:
                result = getattr(client, operation)(**params)
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", "ClientError"))
                codes.append(code)
                if code in DEAD_CREDENTIAL_CODES:
                    self.dead.add(credential.access_key_id)
                    continue
                if code in DENIED_CODES:
                    continue
                break  # a real failure of the request itself: another key will not help
            self.outcome.succeeded += 1
            return result
        self.outcome.failed += 1
        self.outcome.error_codes.extend(codes)
        return None

    def created(self, resource: Resource) -> None:
        self.outcome.created.append(resource)
        self.resources.append(resource)


Detonate = Callable[[AttackerContext, Any], None]


@dataclass(frozen=True)
class Technique:
    id: str
    tactic: Tactic
    title: str
    description: str
    detection: str
    detonate: Detonate


class Registry:
    """Techniques by id; duplicates are refused, unknown ids get a suggestion."""

    def __init__(self) -> None:
        self._techniques: dict[str, Technique] = {}

    def register(self, technique: Technique) -> Technique:
        if technique.id in self._techniques:
            raise ValueError(f"technique '{technique.id}' is registered twice")
        self._techniques[technique.id] = technique
        return technique

    def get(self, technique_id: str) -> Technique:
        try:
            return self._techniques[technique_id]
        except KeyError:
            hint = did_you_mean(technique_id, self._techniques)
            raise KeyError(f"unknown technique '{technique_id}' — {hint}") from None

    def __iter__(self) -> Iterator[Technique]:
        return iter(sorted(self._techniques.values(), key=lambda t: t.id))

    def ids(self) -> set[str]:
        return set(self._techniques)


TECHNIQUES = Registry()
