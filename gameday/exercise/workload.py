"""The production workload: a service whose key lives in a Secrets Manager secret.

Every probe does what the service does on each request: read its key from the secret
(in-process, as the service's own runtime would — it is not part of the incident's API
traffic) and call AWS with it: a signed GetCallerIdentity to the account, journaled and in
CloudTrail as any other call. When that key stops working the service is down, and the
probe says so in the journal (`workload.probe`); outage time is scored from those events.
The right rotation — create a new key, store it in the secret, then disable the old one —
keeps every probe green.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from gameday.journal import Journal
from gameday.scenario.model import Workload
from gameday.world.decoys import Credential
from gameday.world.secret_values import credential_in

if TYPE_CHECKING:
    from gameday.world.clients import QueryCaller


# STS's API version: the query protocol names it in every request.
STS_API_VERSION = "2011-06-15"


class WorkloadWorld(Protocol):
    """What a probe needs of the mock account."""

    account_id: str

    def register_key(self, access_key_id: str, actor: Any) -> None: ...

    def query_caller(
        self,
        service: str,
        api_version: str,
        credential: Credential,
        *,
        region: str | None = None,
        user_agent: str,
        actor: Any,
    ) -> QueryCaller: ...


@dataclass(frozen=True)
class Probe:
    ok: bool
    access_key_id: str | None
    error_code: str | None


def read_secret(account_id: str, region: str, name: str) -> str | None:
    """The current value of a secret, straight from the mock's backend (no API call)."""
    from moto.secretsmanager.models import secretsmanager_backends

    backend = secretsmanager_backends[account_id][region]
    try:
        value = backend.get_secret_value(name, "", "AWSCURRENT")
    except Exception:  # deleted, scheduled for deletion, or never there: the service fails
        return None
    text = value.get("SecretString")
    return text if isinstance(text, str) else None


class WorkloadProbe:
    """Probes the workload every `spec.probe_every` seconds of run time."""

    def __init__(self, spec: Workload, world: WorkloadWorld, journal: Journal, region: str) -> None:
        self.spec = spec
        self.world = world
        self.journal = journal
        self.region = region
        # One caller per key the service has run with: a probe need not build a new one.
        self._callers: dict[Credential, QueryCaller] = {}

    def probe(self) -> Probe:
        result = self._attempt()
        self.journal.append(
            "workload.probe",
            workload=self.spec.name,
            ok=result.ok,
            access_key_id=result.access_key_id,
            error_code=result.error_code,
        )
        return result

    def _attempt(self) -> Probe:
        text = read_secret(self.world.account_id, self.region, self.spec.secret)
        if text is None:
            return Probe(False, None, "ResourceNotFoundException")
        credential = credential_in(text)
        if credential is None:
            return Probe(False, None, "MalformedSecret")
        self.world.register_key(credential.access_key_id, "workload")
        caller = self._callers.get(credential)
        if caller is None:
            caller = self._callers[credential] = self.world.query_caller(
                "sts",
                STS_API_VERSION,
                credential,
                region=self.region,
                user_agent=f"{self.spec.name}/2.4.1",
                actor="workload",
            )
        status, code = caller.call("GetCallerIdentity")
        if status >= 400:
            return Probe(False, credential.access_key_id, code or f"HTTP{status}")
        return Probe(True, credential.access_key_id, None)

    def close(self) -> None:
        """Close the connections the probe kept to the account."""
        for caller in self._callers.values():
            caller.close()
        self._callers.clear()
