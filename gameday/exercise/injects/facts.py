"""The facts of one incident, as AWS's notices state them.

Every inject reveals some of these: the account, the leaked key and the IAM user that owns
it, the public URL where AWS found the key, the support case AWS opens, the contacts it
writes to or calls. They are fixed when the run starts (the world is built, the leak commit
exists) and never change, so an inject rendered twice says the same thing.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gameday.errors import UserError, did_you_mean
from gameday.scenario.model import RELEASE_ASSET_VECTORS, Scenario
from gameday.world.decoys import estate_credentials, leaked_key_ref

CONTACT_ROLES = ("primary", "security", "operations", "billing")

# Where each leak vector usually puts the key; used only when previewing a scenario whose
# repository has not been built. A live run takes the path from the built repository.
PREVIEW_PATHS = {
    "shell-export": "scripts/deploy.sh",
    "aws-credentials-file": ".aws/credentials",
    "dotenv": ".env",
    "python-boto3": "app/storage.py",
    "terraform-provider": "infra/provider.tf",
    "terraform-tfvars": "infra/terraform.tfvars",
    "jupyter-notebook": "notebooks/exploration.ipynb",
    "github-actions": ".github/workflows/deploy.yml",
    "docker-compose": "docker-compose.yml",
    # release assets: the download's name
    "package-artifact": "{name}-1.0.0.tar.gz",
    "docker-image": "{name}-1.0.0-image.tar",
}


@dataclass(frozen=True)
class ContactFacts:
    """One of the account's contacts: who AWS writes to or calls."""

    role: str
    name: str
    email: str
    phone: str | None = None
    title: str | None = None

    def as_variables(self) -> dict[str, str | None]:
        return {
            "role": self.role,
            "name": self.name,
            "email": self.email,
            "phone": self.phone,
            "title": self.title,
        }


@dataclass(frozen=True)
class IncidentFacts:
    """What AWS knows about the incident when it starts telling the customer."""

    scenario_id: str
    scenario_title: str
    account_id: str
    account_alias: str
    support_plan: str
    regions: tuple[str, ...]
    access_key_id: str
    user_name: str
    repository: str  # owner/name on the code host
    repository_url: str
    leak_path: str
    leak_commit: str
    public_url: str  # the page where AWS found the key and its secret
    case_id: str  # the number AWS shows customers ("Case ID: 1234567890")
    case_reference: str  # the Support API's caseId ("case-<account>-<year>-<hex>")
    contacts: tuple[ContactFacts, ...]
    t0: datetime  # the push of the leaking commit; T0 of the run clock
    seed: int = 0

    @classmethod
    def from_scenario(
        cls,
        scenario: Scenario,
        *,
        access_key_id: str,
        leak_commit: str,
        t0: datetime,
        leak_path: str | None = None,
        public_url: str | None = None,
        seed: int = 0,
    ) -> IncidentFacts:
        """The facts of a run: the scenario plus what building the world produced.

        `public_url` is where AWS found the key (the built repository's); by default the
        blob of `leak_path` in `leak_commit`. A release-asset leak cites the asset's download.
        """
        path = leak_path or scenario.leak.path
        if path is None:
            raise UserError(
                f"scenario '{scenario.id}': the leak has no path — pass the path of the leaking "
                "file from the built repository, or set leak.path"
            )
        repository = f"{scenario.leak.repository.owner}/{scenario.leak.repository.name}"
        repository_url = f"https://github.com/{repository}"
        case_id, case_reference = _case_numbers(scenario, t0, seed)
        contacts = scenario.account.contacts
        return cls(
            scenario_id=scenario.id,
            scenario_title=scenario.title,
            account_id=scenario.account.id,
            account_alias=scenario.account.alias,
            support_plan=scenario.account.support_plan,
            regions=tuple(scenario.account.regions),
            access_key_id=access_key_id,
            user_name=scenario.leak.user,
            repository=repository,
            repository_url=repository_url,
            leak_path=path,
            leak_commit=leak_commit,
            public_url=public_url or f"{repository_url}/blob/{leak_commit}/{path}",
            case_id=case_id,
            case_reference=case_reference,
            contacts=tuple(
                ContactFacts(role, c.name, c.email, c.phone, c.title)
                for role in CONTACT_ROLES
                if (c := getattr(contacts, role)) is not None
            ),
            t0=t0.astimezone(UTC),
            seed=seed,
        )

    def contact(self, role: str) -> ContactFacts:
        """The contact in `role`; AWS writes to the primary contact when no other is set."""
        if role not in CONTACT_ROLES:
            raise UserError(f"unknown contact '{role}' — {did_you_mean(role, CONTACT_ROLES)}")
        by_role = {c.role: c for c in self.contacts}
        return by_role.get(role) or by_role["primary"]

    def at(self, t: float) -> datetime:
        """The moment `t` seconds after T0."""
        return self.t0 + timedelta(seconds=t)


def sample_facts(scenario: Scenario, *, seed: int = 0, t0: datetime | None = None) -> IncidentFacts:
    """Facts for previewing a scenario without building its world.

    The key ID is the one a run with the same seed leaks; the commit is a stable stand-in,
    so a preview reads like the real thing and does not change between calls.
    """
    credentials = estate_credentials(scenario, seed)
    commit = hashlib.sha1(f"{scenario.id}:{seed}:leak".encode()).hexdigest()
    path = scenario.leak.path or PREVIEW_PATHS.get(scenario.leak.vector, "config/settings")
    public_url = None
    if scenario.leak.vector in RELEASE_ASSET_VECTORS:
        # a stand-in release download, as a run cites one
        path = PREVIEW_PATHS[scenario.leak.vector].format(name=scenario.leak.repository.name)
        repository = f"{scenario.leak.repository.owner}/{scenario.leak.repository.name}"
        public_url = f"https://github.com/{repository}/releases/download/v1.0.0/{path}"
    return IncidentFacts.from_scenario(
        scenario,
        access_key_id=credentials[leaked_key_ref(scenario)].access_key_id,
        leak_commit=commit,
        leak_path=path,
        public_url=public_url,
        t0=t0 or datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
        seed=seed,
    )


def run_facts(scenario: Scenario, *, seed: int = 0, t0: datetime | None = None) -> IncidentFacts:
    """The facts a virtual-time run of `scenario` with `seed` has (T0 `t0`, by default the
    virtual clock's): its leaky repository is built the way the run builds it, in a folder
    removed after, so the commit and the public URL are the run's own (a tenth of a second).
    """
    import tempfile
    from pathlib import Path

    from gameday.world.repo import DEFAULT_T0, build_repository

    moment = t0 or DEFAULT_T0
    leaked = estate_credentials(scenario, seed)[leaked_key_ref(scenario)]
    with tempfile.TemporaryDirectory(prefix="gameday-render-") as folder:
        built = build_repository(scenario, Path(folder), seed=seed, t0=moment, credential=leaked)
    return IncidentFacts.from_scenario(
        scenario,
        access_key_id=leaked.access_key_id,
        leak_commit=built.leak_commit,
        leak_path=built.leak_path,
        public_url=built.public_url,
        t0=moment,
        seed=seed,
    )


def _case_numbers(scenario: Scenario, t0: datetime, seed: int) -> tuple[str, str]:
    """The case's display number and Support API id, stable for a scenario and seed."""
    rng = random.Random(f"{scenario.id}:{scenario.account.id}:{seed}:case")
    display = str(rng.randrange(10**9, 10**10))
    reference = f"case-{scenario.account.id}-{t0.astimezone(UTC).year}-{rng.getrandbits(64):016x}"
    return display, reference
