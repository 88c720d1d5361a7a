"""The production workload: a service whose key lives in a Secrets Manager secret.

Every probe does what the service does on each request: read its key from the secret
(in-process, as the service's own runtime would — it is not part of the incident's API
traffic) and call AWS with it. When that key stops working the service is down, and the
probe says so in the journal (`workload.probe`); outage time is scored from those events.
The right rotation — create a new key, store it in the secret, then disable the old one —
keeps every probe green.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from gameday.journal import Journal
from gameday.scenario.model import Workload
from gameday.world.decoys import Credential
from gameday.world.secret_values import credential_in


class WorkloadWorld(Protocol):
    """What a probe needs of the mock account."""

    account_id: str

    def register_key(self, access_key_id: str, actor: Any) -> None: ...

    def client(self, service: str, credential: Credential | None = None, **options: Any) -> Any: ...


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
        # One client per key the service has run with: a probe need not build a new one.
        self._clients: dict[Credential, Any] = {}

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
        client = self._clients.get(credential)
        if client is None:
            client = self._clients[credential] = self.world.client(
                "sts",
                credential,
                region=self.region,
                user_agent=f"{self.spec.name}/2.4.1",
                actor="workload",
            )
        try:
            client.get_caller_identity()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "ClientError"))
            return Probe(False, credential.access_key_id, code)
        return Probe(True, credential.access_key_id, None)
