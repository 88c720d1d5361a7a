"""What every attacker technique shares: its record, the context it acts through, its outcome.

A technique is one small unit (Stratus Red Team style): a `TechniqueInfo` with a dotted id,
the tactic, what it does and how a defender would notice, plus a `detonate` function. The
runner owns timing and journaling; a technique only makes its calls through the
`AttackerContext`, which signs them with whatever credentials the attacker still holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
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
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
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

    def add_credential(self, credential: Credential) -> None:
        self.wallet.insert(0, credential)

    def live_credentials(self) -> Iterator[Credential]:
        yield from (c for c in self.wallet if c.access_key_id not in self.dead)

    def has_working_credentials(self) -> bool:
        return any(True for _ in self.live_credentials())

    def call(self, service: str, operation: str, region: str = "us-east-1", **params: Any) -> Any:
        """Call `operation` (a boto3 method name); None when every credential failed."""
        last_code = ""
        for credential in list(self.live_credentials()):
            client = self._client_factory(credential, service, region)
            try:
                result = getattr(client, operation)(**params)
            except ClientError as error:
                last_code = str(error.response.get("Error", {}).get("Code", "ClientError"))
                if last_code in DEAD_CREDENTIAL_CODES:
                    self.dead.add(credential.access_key_id)
                    continue
                if last_code in DENIED_CODES:
                    continue
                break  # a real failure of the request itself: another key will not help
            self.outcome.succeeded += 1
            return result
        self.outcome.failed += 1
        self.outcome.error_codes.append(last_code or "NoCredentials")
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
