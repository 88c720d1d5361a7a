"""The leaky repository: a believable project whose history leaks a decoy key, its "public"
remote, and the code host's actions on it during a run.

`build_repository` writes `OUT/repo` (the developer's clone) and `OUT/remote.git` (a bare
repository standing for the public GitHub one). The whole history is produced as one
`git fast-import` stream — hundreds of commits in a fraction of a second — then checked out
and pushed. Every byte of it derives from the scenario and the seed, so the same seed gives
the same commit hashes and the same public URL.

The leak itself is a Jinja template per vector (`templates/leaks/<vector>.j2`), rendered in a
sandbox with strict undefined. The removal commit renders the same template with
`removed=True`, so "deleting the key lines" is the template's own idea of the clean file.

Safety: the repository never gets a remote outside OUT (`origin` is the relative path
`../remote.git`), `leak.path` is confined to the work tree, and git runs with no system or
global configuration, so a developer's hooks, signing or identity never leak into a build.

`CodeHost` is what GitHub does for the owner during a run: make the repository private,
delete it, notice pushes (and force-pushes), and answer whether the key is still reachable.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import random
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from gameday.errors import UserError, did_you_mean
from gameday.journal import Journal, iso, time_at
from gameday.paths import TEMPLATES
from gameday.scenario.fields import (
    EMAIL_PATTERN,
    name_problem,
    ref_format_problem,
    repository_path_problem,
)
from gameday.scenario.limits import MAX_COMMITS
from gameday.scenario.model import (
    LEAK_VECTORS,
    RELEASE_ASSET_VECTORS,
    Person,
    Scenario,
    Trick,
)
from gameday.world.codehost import (
    HostFiles,
    KeyReach,
    KeyScan,
    Place,
    RefTip,
    ScanMemo,
    Served,
    asset_url,
    kept_commits,
    key_in_files,
    key_reach,
    places,
    ref_tips,
    resolve,
    scan_key,
)
from gameday.world.decoys import Credential, estate_credentials, leaked_key_ref
from gameday.world.git import HOST_CONFIG, add_config, git_text, run_git
from gameday.world.release_assets import docker_save, image_name, sdist, sdist_name, tree_files

LEAK_TEMPLATES = TEMPLATES / "leaks"
DEFAULT_T0 = datetime(2026, 3, 2, 12, 33, 12, tzinfo=UTC)
REMOTE_NAME = "remote.git"
CLONE_NAME = "repo"
HOST_STATE_NAME = "code-host.json"
HOST_LOCK_NAME = ".code-host.lock"
# the history tricks' defaults (`leak.trick`)
DEFAULT_KEY_MESSAGE = "Temporarily hardcode {key} until CI secrets work"
DEFAULT_FORK_OWNER = "repo-mirror-archive"

Flavour = Literal["python", "terraform", "notebooks"]
HostState = Literal["public", "private", "deleted"]

# The journal fields of the owners' other actions (`CodeHost.act`), besides the common ones.
_ACTION_FIELDS: Mapping[str, tuple[str, ...]] = {
    "repo.branch-deleted": ("ref", "name"),
    "repo.tag-deleted": ("ref", "name"),
    "repo.release-deleted": ("tag",),
    "repo.commit-purged": ("commit", "via", "purged"),
}
# The owners' actions on the code host, and what each acts on (None: the repository).
REPO_ACTIONS: Mapping[str, str | None] = {
    "private": None,
    "delete": None,
    "delete-branch": "branch",
    "delete-tag": "tag",
    "delete-release": "release tag",
    "purge-commit": "commit id",
}


@dataclass(frozen=True)
class LeakVector:
    """How one vector looks by default: where the file goes and how the commit reads."""

    path: str  # `{package}`: the project's Python package; `{slug}`: its domain's topic
    message: str  # `{topic}`: what the project's notebooks look at
    flavour: Flavour


VECTORS: Mapping[str, LeakVector] = {
    "shell-export": LeakVector(
        "scripts/deploy.sh", "Add deploy script for the staging bucket", "python"
    ),
    "aws-credentials-file": LeakVector(
        ".aws/credentials", "Add AWS profile for the deploy tooling", "python"
    ),
    "dotenv": LeakVector(".env", "Add local environment settings", "python"),
    "python-boto3": LeakVector(
        "{package}/aws_clients.py", "Add S3 client for report uploads", "python"
    ),
    "terraform-provider": LeakVector("providers.tf", "Configure the AWS provider", "terraform"),
    "terraform-tfvars": LeakVector(
        "terraform.tfvars", "Add variables for the staging environment", "terraform"
    ),
    "jupyter-notebook": LeakVector(
        "notebooks/{slug}.ipynb", "Add {topic} exploration notebook", "notebooks"
    ),
    "github-actions": LeakVector(
        ".github/workflows/deploy.yml", "Add deploy workflow for staging", "python"
    ),
    "docker-compose": LeakVector(
        "docker-compose.yml", "Add docker compose setup for local development", "python"
    ),
    "kubernetes-secret": LeakVector(
        "deploy/k8s/aws-credentials.yaml",
        "Add the Secret the pods read their settings from",
        "python",
    ),
    "helm-values": LeakVector(
        "charts/values-staging.yaml", "Add staging values for the chart", "python"
    ),
    "notebook-output": LeakVector("notebooks/{slug}.ipynb", "Add {topic} notebook", "notebooks"),
    "ci-log": LeakVector(
        "ci/logs/deploy-staging.log",
        "Add the failing deploy log for the build investigation",
        "python",
    ),
    # the key is only in the release asset: the path is the build file the leak commit adds
    "package-artifact": LeakVector(
        "MANIFEST.in", "Ship the settings templates in the source distribution", "python"
    ),
    "docker-image": LeakVector("Dockerfile", "Add a Dockerfile for the service image", "python"),
}
assert set(VECTORS) == set(LEAK_VECTORS), "every leak vector needs a default path and message"


@dataclass(frozen=True)
class BuiltRepository:
    repo: Path
    remote: Path
    leak_commit: str
    leak_path: str
    public_url: str
    commits: int  # public at T0: the history up to and including the leak
    credential: Credential
    t0: datetime
    branch: str
    later: tuple[LaterCommit, ...] = ()


# ── checking what the scenario asks for ───────────────────────────────────────────────────

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


# `gameday validate` applies the same rules (gameday.scenario.fields): these are for a
# scenario built in code without validation, so git is never handed what it would refuse.


def checked_leak_path(path: str) -> str:
    """`path` as a clean relative path inside the work tree, or a UserError saying why not."""
    problem = "is empty — give a path" if not path.strip() else repository_path_problem(path)
    if problem:
        raise UserError(f"leak.path {path!r} {problem}, like 'scripts/deploy.sh'")
    return path


def _checked_person(person: Person, where: str) -> Person:
    problem = name_problem(person.name)
    if problem is None and (
        _CONTROL.search(person.email) or not re.match(EMAIL_PATTERN, person.email)
    ):
        problem = "has an email address git cannot hold — write it like name@example.com"
    if problem:
        raise UserError(f"{where} {person.name!r} <{person.email}> {problem}")
    return person


def _checked_branch(branch: str) -> str:
    if problem := ref_format_problem(branch):
        raise UserError(
            f"leak.repository.default_branch {branch!r} {problem}, so git refuses it as a branch "
            "— try 'main'"
        )
    return branch


def _checked_history(scenario: Scenario) -> None:
    history = scenario.leak.history
    removal = scenario.leak.removed.after_commits if scenario.leak.removed else 0
    commits = history.before + max(history.after, removal) + 1
    if commits > MAX_COMMITS + 1:
        raise UserError(
            f"the history would hold {commits:,} commits, over the {MAX_COMMITS:,} allowed — "
            "lower leak.history.before or after"
        )


def _prepare_directory(path: Path, what: str) -> None:
    if path.is_symlink():
        raise UserError(f"{path} is a symbolic link — the {what} must be a real folder in --out")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UserError(f"{path} already exists — choose an empty --out folder for the {what}")


# ── templates ─────────────────────────────────────────────────────────────────────────────


@cache
def leak_environment() -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        loader=FileSystemLoader(str(LEAK_TEMPLATES)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # a Kubernetes Secret's `data:` holds base64 values
    environment.filters["b64"] = lambda text: base64.b64encode(str(text).encode()).decode()
    return environment


def render_leak(vector: str, context: Mapping[str, Any]) -> str:
    """The leaking file of `vector` (with the key, or without it when `removed` is true)."""
    if vector not in VECTORS:
        raise UserError(f"unknown leak vector {vector!r}")
    return leak_environment().get_template(f"{vector}.j2").render(**context)


# ── people and time ───────────────────────────────────────────────────────────────────────

_FIRST_NAMES = (
    "Alex", "Priya", "Tomasz", "Aisha", "Kenji", "Lucia", "Omar", "Hannah", "Diego", "Ingrid",
    "Wei", "Fatima", "Noah", "Zanele", "Marta", "Ravi", "Chloe", "Mateus", "Yuki", "Samir",
)  # fmt: skip
_LAST_NAMES = (
    "Novak", "Ferreira", "Lindqvist", "Okoye", "Tanaka", "Moreau", "Haddad", "Schneider",
    "Kowalski", "Nguyen", "Brennan", "Castillo", "Iyer", "Mensah", "Petrov", "Olsen",
)  # fmt: skip
_TIMEZONES = ("+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900", "-0300")


@dataclass(frozen=True)
class _Author:
    name: str
    email: str
    tz: str

    @property
    def offset(self) -> timedelta:
        sign = -1 if self.tz.startswith("-") else 1
        return sign * timedelta(hours=int(self.tz[1:3]), minutes=int(self.tz[3:5]))

    def signature(self, moment: int) -> str:
        return f"{self.name} <{self.email}> {moment} {self.tz}"


def _team(scenario: Scenario, rng: random.Random) -> tuple[_Author, list[_Author]]:
    """The leak's author and the people who commit to the project (the author among them)."""
    leak = scenario.leak
    home = rng.choice(_TIMEZONES)

    def zone() -> str:
        return home if rng.random() < 0.75 else rng.choice(_TIMEZONES)

    people = [_checked_person(p, "leak.history.authors:") for p in leak.history.authors]
    if not people:
        domain = leak.author.email.split("@", 1)[1]
        names = rng.sample([(f, la) for f in _FIRST_NAMES for la in _LAST_NAMES], rng.randint(2, 4))
        people = [Person(name=f"{f} {la}", email=f"{f}.{la}@{domain}".lower()) for f, la in names]
    author = _checked_person(leak.author, "leak.author:")
    by_email: dict[str, _Author] = {}
    for person in [author, *people]:
        if person.email not in by_email:
            by_email[person.email] = _Author(person.name, person.email, zone())
    return by_email[author.email], list(by_email.values())


def _business_hours(moment: float, author: _Author, rng: random.Random) -> float:
    """Move a moment to a weekday working hour of the author's own time zone (mostly)."""
    local = datetime.fromtimestamp(moment, UTC) + author.offset
    if local.weekday() >= 5 and rng.random() < 0.9:
        # To a weekday of the same week, any of the five alike.
        local -= timedelta(days=local.weekday() - rng.randint(0, 4))
    if not 9 <= local.hour < 18 and rng.random() < 0.92:
        local = local.replace(hour=rng.randint(9, 17), minute=rng.randint(0, 59))
    return (local - author.offset).timestamp()


def _history_times(
    count: int, start: float, end: float, authors: list[_Author], rng: random.Random
) -> list[tuple[int, _Author]]:
    """`count` (moment, author) pairs in [start, end), sorted and strictly increasing."""
    picks = []
    for _ in range(count):
        author = rng.choice(authors)
        raw = rng.uniform(start, end)
        moment = _business_hours(raw, author, rng)
        # Near the ends of the span a working hour may fall outside it: try the days before.
        for days_back in range(4):
            candidate = moment - days_back * 86400
            if start <= candidate < end:
                moment = candidate
                break
        else:
            moment = raw
        picks.append((moment, author))
    picks.sort(key=lambda pick: pick[0])
    times: list[tuple[int, _Author]] = []
    latest = int(end)
    for moment, author in reversed(picks):
        latest = min(int(moment), latest - 1)
        times.append((latest, author))
    times.reverse()
    return times


# ── the project the key leaks from ────────────────────────────────────────────────────────

_VERBS = (
    "load", "fetch", "parse", "build", "sync", "validate", "render", "publish", "archive",
    "resolve", "merge", "export", "normalize", "schedule",
)  # fmt: skip
_NOUNS = (
    "invoice", "order", "upload", "session", "report", "customer", "webhook", "thumbnail",
    "payment", "receipt", "coupon", "shipment", "refund", "asset", "price", "catalog",
)  # fmt: skip


@dataclass(frozen=True)
class Domain:
    """What a project works on: its commits, functions and notebooks speak of these things.

    `nouns` name the records the code handles (no noun ends in an s of its own, and none has
    an underscore: function names are `verb_noun…`); `keywords` find the domain in the
    repository's name and description; `topic` and `measure` title an analysis notebook.
    """

    name: str
    keywords: tuple[str, ...]
    nouns: tuple[str, ...]
    topic: str
    measure: str


DOMAINS: tuple[Domain, ...] = (
    Domain("genomics", ("genom", "sequenc", "variant", "bioinf", "dna", "rna", "gene", "cohort",
                        "exome", "omics"),
           ("sample", "variant", "alignment", "genome", "cohort", "contig", "assay", "gene",
            "probe", "readgroup", "flowcell", "haplotype", "annotation", "library"),
           "Variant calls per cohort", "variants"),
    Domain("media", ("video", "encod", "transcod", "media", "stream", "podcast", "render"),
           ("clip", "rendition", "segment", "thumbnail", "manifest", "subtitle", "track",
            "encoding", "playlist", "frame", "chapter", "caption"),
           "Encoded renditions per day", "renditions"),
    Domain("telemetry", ("telemetry", "fleet", "rover", "robot", "sensor", "vehicle", "iot",
                         "device", "tracking"),
           ("reading", "sensor", "rover", "waypoint", "battery", "mission", "heartbeat", "route",
            "device", "firmware", "alert", "trip"),
           "Sensor readings per rover", "readings"),
    Domain("games", ("game", "match", "player", "lobby", "esport"),
           ("player", "match", "lobby", "ranking", "party", "season", "server", "queue",
            "loadout", "replay", "region", "ticket"),
           "Matches per region", "matches"),
    Domain("commerce", (), _NOUNS, "Storage usage", "objects"),
)  # fmt: skip


def project_domain(name: str, description: str) -> Domain:
    """The domain whose keywords the repository's name or description mention first."""
    text = f"{name} {description}".lower()
    for domain in DOMAINS:
        if any(keyword in text for keyword in domain.keywords):
            return domain
    return DOMAINS[-1]


_SETTING_VALUES = {
    "REQUEST_TIMEOUT_SECONDS": (10, 15, 20, 30, 45, 60, 90),
    "MAX_RETRIES": (2, 3, 4, 5, 8),
    "PAGE_SIZE": (25, 50, 100, 200, 500),
    "CACHE_TTL_SECONDS": (60, 120, 300, 600, 900, 3600),
    "UPLOAD_CHUNK_MB": (4, 8, 16, 32, 64),
}
_NOTES = {
    "local development": (
        "Use Python 3.11 and a virtualenv; `make test` must pass before you push.",
        "Settings come from the environment; see the config module for the names and defaults.",
    ),
    "running the tests": (
        "Tests run offline; anything that talks to AWS is behind a fake client.",
        "Run a single test with `python -m pytest -k name`.",
    ),
    "the release process": (
        "Releases are cut from the default branch: bump the version, update the changelog, tag.",
        "Write the changelog entry in the same pull request as the change.",
    ),
    "configuration": (
        "Every setting can be overridden with an environment variable of the same name.",
        "Staging and production differ only in bucket names and instance sizes.",
    ),
    "troubleshooting timeouts": (
        "Most timeouts are the upstream being slow, not us: check its status page first.",
        "Raise REQUEST_TIMEOUT_SECONDS only together with MAX_RETRIES, or retries pile up.",
    ),
    "deploying to staging": (
        "Staging deploys go out from CI on every merge; deploy by hand only when CI is down.",
        "Ask in #{channel} before deploying on a Friday afternoon.",
    ),
    "logging": (
        "Logs are JSON lines; include the request id in every message you add.",
        "Never log payloads: they may hold customer data.",
    ),
}


_CHANGELOG_RELEASES = 25
_BLOCKS_PER_FILE = 24
_MODULE_KINDS = ("_jobs", "_exports", "_tasks", "_sync", "_client", "_rules", "_events")


def _noun_of(function: str) -> str:
    # `sync_webhooks` → `webhook`: no noun of a domain ends in an s of its own.
    return function.split("_")[1].removesuffix("s")


def _package_name(repository: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", repository.lower()).strip("_") or "app"
    return f"app_{name}" if name[0].isdigit() else name


@dataclass
class _Module:
    path: str
    header: str
    functions: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def text(self) -> str:
        return self.header + "".join("\n\n" + f for f in self.functions)


class _Project:
    """A small project that changes one plausible thing per commit.

    Each change returns a commit message and the files it touched with their new content.
    Content is regenerated only for touched files, so a commit costs O(size of its files).
    """

    def __init__(self, scenario: Scenario, flavour: Flavour, rng: random.Random) -> None:
        repository = scenario.leak.repository
        self.vector = scenario.leak.vector
        self.flavour = flavour
        self.rng = rng
        self.name = repository.name
        self.package = _package_name(repository.name)
        self.description = repository.description or f"Tools and services of {repository.owner}"
        self.domain = project_domain(repository.name, repository.description or "")
        self.nouns = self.domain.nouns
        self.region = scenario.account.regions[0]
        self.version = [0, 1, 0]
        self.unreleased: list[str] = []
        self.changelog: list[str] = []
        self.readme_notes: dict[str, str] = {}
        self.used: set[str] = set()
        self.modules: list[_Module] = []
        self.tests: dict[str, list[tuple[str, str]]] = {}
        self.settings = {
            "REQUEST_TIMEOUT_SECONDS": 30,
            "MAX_RETRIES": 3,
            "PAGE_SIZE": 100,
            "CACHE_TTL_SECONDS": 300,
            "UPLOAD_CHUNK_MB": 8,
        }
        self.dependencies = {
            "python": {"boto3": [1, 34, 51], "click": [8, 1, 7], "requests": [2, 31, 0],
                       "pydantic": [2, 6, 3], "structlog": [24, 1, 0], "pytest": [8, 0, 2]},
            "notebooks": {"boto3": [1, 34, 51], "pandas": [2, 2, 1], "numpy": [1, 26, 4],
                          "matplotlib": [3, 8, 3], "jupyterlab": [4, 1, 5], "pyarrow": [15, 0, 1]},
            "terraform": {"hashicorp/aws": [5, 40, 0], "hashicorp/random": [3, 6, 0]},
        }[flavour]  # fmt: skip
        self.tf_blocks: dict[str, list[str]] = {}
        self.tf_counts: dict[str, int] = {}
        self.tf_resources: list[tuple[str, str]] = []

    # The files of the first commit.
    def initial_files(self) -> dict[str, str]:
        files = {"README.md": self._readme(), "CHANGELOG.md": self._changelog()}
        if self.flavour == "terraform":
            files[".gitignore"] = ".terraform/\n*.tfstate\n*.tfstate.*\ncrash.log\n*.tfplan\n"
            for _ in range(2):
                self._add_tf_variable()
                self._add_tf_resource()
            self._add_tf_output()
            files.update(self._terraform_files())
            return files
        files[".gitignore"] = "__pycache__/\n*.pyc\n.venv/\n.ipynb_checkpoints/\ndist/\n.coverage\n"
        files["requirements.txt"] = self._requirements()
        if self.flavour == "python":
            files["Makefile"] = (
                ".PHONY: test lint dist\n\ntest:\n\tpython -m pytest -q\n\n"
                "lint:\n\truff check .\n\ndist:\n\tpython -m build --outdir dist\n"
            )
            files[f"{self.package}/__init__.py"] = self._init()
            files[f"{self.package}/config.py"] = self._config()
            files["tests/__init__.py"] = ""
        else:
            files["analysis/__init__.py"] = '"""Helpers shared by the notebooks."""\n'
        for _ in range(2):
            module = self._new_module()
            for _ in range(2):
                self._add_function(module)
            files[module.path] = module.text()
        return files

    def change(self) -> tuple[str, dict[str, str]]:
        roll = self.rng.random()
        if self.flavour == "terraform":
            if roll < 0.3:
                return self._tf_change(self._add_tf_resource)
            if roll < 0.45:
                return self._tf_change(self._add_tf_variable)
            if roll < 0.55:
                return self._tf_change(self._add_tf_output)
        elif roll < 0.38:
            return self._function_change()
        elif roll < 0.5 and self.flavour == "python":
            return self._setting_change()
        elif roll < 0.55:
            return self._guard_change()
        if roll < 0.72:
            return self._dependency_change()
        if roll < 0.84:
            return self._readme_change()
        return self._release_change()

    # ── python and notebook sources
    def _new_module(self) -> _Module:
        noun = self._fresh(
            lambda: self.rng.choice(self.nouns) + self.rng.choice(("s",) * 4 + _MODULE_KINDS),
            prefix="module:",
        )
        if self.flavour == "python":
            path = f"{self.package}/{noun}.py"
            header = (
                f'"""{noun.replace("_", " ").capitalize()} handling for {self.name}."""\n\n'
                "from __future__ import annotations\n\n"
                "from collections.abc import Iterable\nfrom typing import Any\n\n"
                f"from {self.package} import config\n"
            )
        else:
            path = f"analysis/{noun}.py"
            header = (
                f'"""{noun.replace("_", " ").capitalize()} data as the notebooks use it."""\n\n'
                "from __future__ import annotations\n\nimport pandas as pd\n"
            )
        module = _Module(path, header)
        self.modules.append(module)
        return module

    def _fresh(self, draw: Callable[[], str], prefix: str = "") -> str:
        for _ in range(20):
            name = draw()
            if prefix + name not in self.used:
                break
        suffix = 2
        while prefix + name + (f"_{suffix}" if suffix > 2 else "") in self.used:
            suffix += 1
        name += f"_{suffix}" if suffix > 2 else ""
        self.used.add(prefix + name)
        return name

    def _add_function(self, module: _Module) -> tuple[str, str]:
        rng = self.rng
        verb, noun = rng.choice(_VERBS), rng.choice(self.nouns)
        shape = rng.randrange(3) if self.flavour == "python" else 3
        suffix = ("", "s", "_key", "_frame")[shape]
        name = self._fresh(lambda: f"{rng.choice(_VERBS)}_{rng.choice(self.nouns)}{suffix}")
        verb, noun = name.split("_")[0], _noun_of(name)
        body = {
            0: f'def {name}(client: Any, {noun}_id: str) -> dict[str, Any]:\n'
               f'    """{verb.capitalize()} one {noun} by its id."""\n'
               f'    response = client.get(\n'
               f'        f"/{noun}s/{{{noun}_id}}", timeout=config.REQUEST_TIMEOUT_SECONDS\n'
               f'    )\n    response.raise_for_status()\n    return dict(response.json())\n',
            1: f'def {name}(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:\n'
               f'    """{verb.capitalize()} a batch of {noun}s, skipping those without an id."""\n'
               f'    return [item for item in items if item.get("{noun}_id")]\n',
            2: f'def {name}(prefix: str, {noun}_id: str) -> str:\n'
               f'    """Where a {noun} is stored."""\n'
               f'    return f"{{prefix.rstrip(\'/\')}}/{noun}s/{{{noun}_id}}.json"\n',
            3: f'def {name}(frame: pd.DataFrame) -> pd.DataFrame:\n'
               f'    """{verb.capitalize()} the {noun} rows of an export."""\n'
               f'    rows = frame[frame["{noun}_id"].notna()]\n'
               f'    return rows.sort_values("modified", ascending=False)\n',
        }[shape]  # fmt: skip
        module.functions.append(body)
        module.names.append(name)
        if shape == 2:
            self.tests.setdefault(module.path, []).append(
                (
                    name,
                    f"def test_{name}_strips_trailing_slash() -> None:\n"
                    f'    assert {name}("exports/", "42") == "exports/{noun}s/42.json"\n',
                )
            )
        return name, noun

    def _function_change(self) -> tuple[str, dict[str, str]]:
        module = self.modules[-1]
        files: dict[str, str] = {}
        if len(module.functions) >= 12:
            module = self._new_module()
        tests_before = len(self.tests.get(module.path, []))
        name, noun = self._add_function(module)
        files[module.path] = module.text()
        file_name = module.path.rsplit("/", 1)[-1]
        message = self.rng.choice(
            (f"Add {name}", f"Add {name} helper", f"Support {noun}s in {file_name}",
             f"Implement {name}", f"Add {noun} {name.split('_')[0]} step")
        )  # fmt: skip
        tests = self.tests.get(module.path, [])
        if len(tests) > tests_before:
            stem = module.path.rsplit("/", 1)[-1].removesuffix(".py")
            names = "".join(f"    {name},\n" for name, _ in sorted(tests))
            files[f"tests/test_{stem}.py"] = (
                f"from {self.package}.{stem} import (\n{names})\n\n\n"
                + "\n\n".join(text for _, text in tests)
            )
            message += " with tests"
        self.unreleased.append(f"Added `{name}`.")
        return message, files

    def _guard_change(self) -> tuple[str, dict[str, str]]:
        module = self.rng.choice(self.modules)
        index = self.rng.randrange(len(module.functions))
        name = module.names[index]
        noun = _noun_of(name)
        lines = module.functions[index].split("\n")
        if "guard:" + name in self.used:
            return self._readme_change()
        self.used.add("guard:" + name)
        if f"{noun}_id: str" in lines[0]:
            guard = f'    if not {noun}_id:\n        raise ValueError("{noun}_id is required")'
        elif "frame" in lines[0]:
            guard = "    if frame.empty:\n        return frame"
        else:
            guard = "    items = list(items)\n    if not items:\n        return []"
        lines.insert(2, guard)
        module.functions[index] = "\n".join(lines)
        self.unreleased.append(f"Fixed `{name}` on empty input.")
        message = self.rng.choice(
            (f"Handle empty input in {name}", f"Fix {name} on empty input",
             f"Guard {name} against missing {noun}s")
        )  # fmt: skip
        return message, {module.path: module.text()}

    def _setting_change(self) -> tuple[str, dict[str, str]]:
        name = self.rng.choice(sorted(self.settings))
        old = self.settings[name]
        new = self.rng.choice([v for v in _SETTING_VALUES[name] if v != old])
        self.settings[name] = new
        verb = "Raise" if new > old else "Lower"
        self.unreleased.append(f"`{name}` is now {new}.")
        return f"{verb} {name} to {new}", {f"{self.package}/config.py": self._config()}

    def _config(self) -> str:
        lines = [f'"""Settings of {self.name}, overridable from the environment."""', "",
                 "import os", ""]  # fmt: skip
        for name, value in self.settings.items():
            lines.append(f'{name} = int(os.environ.get("{name}", "{value}"))')
        lines.append(f'REGION = os.environ.get("AWS_REGION", "{self.region}")')
        return "\n".join(lines) + "\n"

    def _init(self) -> str:
        version = ".".join(map(str, self.version))
        return f'"""{self.description}"""\n\n__version__ = "{version}"\n'

    # ── dependencies, docs, releases
    def _requirements(self) -> str:
        return "".join(
            f"{name}=={'.'.join(map(str, v))}\n" for name, v in self.dependencies.items()
        )

    def _dependency_change(self) -> tuple[str, dict[str, str]]:
        name = self.rng.choice(sorted(self.dependencies))
        version = self.dependencies[name]
        old = ".".join(map(str, version))
        if self.rng.random() < 0.7:
            version[2] += 1
        else:
            version[1:] = [version[1] + 1, 0]
        new = ".".join(map(str, version))
        message = f"Bump {name} from {old} to {new}"
        if self.flavour == "terraform":
            return message, {"versions.tf": self._versions_tf()}
        return message, {"requirements.txt": self._requirements()}

    def _readme(self) -> str:
        title = f"# {self.name}\n\n{self.description}\n\n"
        if self.flavour == "terraform":
            usage = (
                "## Usage\n\n```sh\nterraform init\n"
                "terraform plan -var-file=terraform.tfvars\n```\n"
            )
        elif self.flavour == "notebooks":
            usage = (
                "## Usage\n\n```sh\npip install -r requirements.txt\njupyter lab notebooks/\n```\n"
            )
        else:
            usage = "## Usage\n\n```sh\npip install -r requirements.txt\nmake test\n```\n"
        notes = "".join(
            f"\n### {topic.capitalize()}\n\n{text}\n" for topic, text in self.readme_notes.items()
        )
        return title + usage + notes

    def _readme_change(self) -> tuple[str, dict[str, str]]:
        topic = self.rng.choice(sorted(_NOTES))
        known = topic in self.readme_notes
        text = self.rng.choice(_NOTES[topic]).format(channel=self.name.lower())
        if known and text in self.readme_notes[topic]:
            return self._release_change() if self.unreleased else self._dependency_change()
        self.readme_notes[topic] = (self.readme_notes[topic] + " " + text) if known else text
        message = self.rng.choice(
            (f"Clarify {topic} in README", "Update README") if known
            else (f"Document {topic}", f"README: describe {topic}")
        )  # fmt: skip
        return message, {"README.md": self._readme()}

    def _changelog(self) -> str:
        head = "# Changelog\n\n## Unreleased\n" + "".join(f"- {e}\n" for e in self.unreleased)
        # The file keeps the latest releases only, so a long history stays linear to build.
        kept = self.changelog[:_CHANGELOG_RELEASES]
        older = (
            "\nOlder releases are described in their tags.\n"
            if len(self.changelog) > len(kept)
            else ""
        )
        return head + "".join(kept) + older

    def next_version(self) -> list[int]:
        """The version the next patch release would carry."""
        return [*self.version[:2], self.version[2] + 1]

    def _release_change(self) -> tuple[str, dict[str, str]]:
        if not self.unreleased:
            return self._readme_change()
        if self.rng.random() < 0.2:
            self.version[1:] = [self.version[1] + 1, 0]
        else:
            self.version[2] += 1
        version = ".".join(map(str, self.version))
        entries = "".join(f"- {e}\n" for e in self.unreleased)
        self.changelog.insert(0, f"\n## {version}\n{entries}")
        del self.changelog[_CHANGELOG_RELEASES + 1 :]
        self.unreleased = []
        files = {"CHANGELOG.md": self._changelog()}
        if self.flavour == "python":
            files[f"{self.package}/__init__.py"] = self._init()
        return f"Release {version}", files

    # ── terraform
    def _tf_change(self, add: Callable[[], tuple[str, str]]) -> tuple[str, dict[str, str]]:
        message, path = add()
        self.unreleased.append(message + ".")
        return message, {path: self._tf_text(path)}

    def _tf_add(self, stem: str, block: str) -> str:
        """File a block under `stem.tf`, then `stem-2.tf`… so no file grows without end."""
        count = self.tf_counts.get(stem, 0)
        self.tf_counts[stem] = count + 1
        index = count // _BLOCKS_PER_FILE
        path = f"{stem}.tf" if index == 0 else f"{stem}-{index + 1}.tf"
        self.tf_blocks.setdefault(path, []).append(block)
        return path

    def _tf_text(self, path: str) -> str:
        head = self._tf_variables_head() if path == "variables.tf" else ""
        return head + "\n".join(self.tf_blocks.get(path, []))

    def _add_tf_variable(self) -> tuple[str, str]:
        rng = self.rng
        measures = ("retention_days", "max_size_mb", "alarm_threshold")
        name = self._fresh(
            lambda: f"{rng.choice(self.nouns)}_{rng.choice(measures)}", prefix="var:"
        )
        noun, what = name.split("_", 1)
        default = {"retention_days": 30, "max_size_mb": 64, "alarm_threshold": 5}.get(what, 1)
        path = self._tf_add(
            "variables",
            f'variable "{name}" {{\n  description = "{what.replace("_", " ").capitalize()} '
            f'for {noun} data"\n  type        = number\n  default     = '
            f"{default * rng.choice((1, 2, 3, 4))}\n}}\n",
        )
        return f"Add {name} variable", path

    def _add_tf_resource(self) -> tuple[str, str]:
        rng = self.rng
        kind = rng.randrange(3)
        purposes = (("exports", "archive", "uploads", "backups"), ("events", "dead_letter",
                    "retries"), ("api", "worker", "cron"))[kind]  # fmt: skip
        label = self._fresh(
            lambda: f"{rng.choice(self.nouns)}_{rng.choice(purposes)}", prefix="res:"
        )
        dashed = label.replace("_", "-")
        if kind == 0:
            resource, stem, message = "aws_s3_bucket", "storage", f"Add {dashed} bucket"
            body = f'  bucket = "${{var.environment}}-{self.name.lower()}-{dashed}"\n'
        elif kind == 1:
            resource, stem, message = "aws_sqs_queue", "queues", f"Add {dashed} queue"
            body = (
                f'  name                      = "${{var.environment}}-{dashed}"\n'
                f"  message_retention_seconds = {rng.choice((86400, 345600, 1209600))}\n"
            )
        else:
            resource, stem = "aws_cloudwatch_log_group", "logging"
            message = f"Add log group for the {dashed.replace('-', ' ')}"
            body = (
                f'  name              = "/{self.name.lower()}/{dashed}"\n'
                f"  retention_in_days = {rng.choice((7, 14, 30, 90))}\n"
            )
        self.tf_resources.append((resource, label))
        return message, self._tf_add(stem, f'resource "{resource}" "{label}" {{\n{body}}}\n')

    def _add_tf_output(self) -> tuple[str, str]:
        for resource, label in self.tf_resources:
            name = f"{label}_arn"
            if "out:" + name not in self.used:
                self.used.add("out:" + name)
                block = f'output "{name}" {{\n  value = {resource}.{label}.arn\n}}\n'
                return f"Export {name}", self._tf_add("outputs", block)
        return self._add_tf_variable()

    def _versions_tf(self) -> str:
        providers = "".join(
            f'    {name.split("/")[1]} = {{\n      source  = "{name}"\n'
            f'      version = "~> {v[0]}.{v[1]}"\n    }}\n'
            for name, v in self.dependencies.items()
        )
        return (
            f'terraform {{\n  required_version = ">= 1.5"\n\n  required_providers {{\n'
            f"{providers}  }}\n}}\n"
        )

    def _tf_variables_head(self) -> str:
        head = (
            f'variable "region" {{\n  type    = string\n  default = "{self.region}"\n}}\n\n'
            'variable "environment" {\n  type = string\n}\n\n'
            'variable "instance_type" {\n  type    = string\n  default = "t3.micro"\n}\n\n'
            'variable "bucket_name" {\n  type = string\n}\n\n'
        )
        if self.vector == "terraform-tfvars":
            head += (
                'variable "aws_access_key" {\n  type      = string\n  sensitive = true\n}\n\n'
                'variable "aws_secret_key" {\n  type      = string\n  sensitive = true\n}\n\n'
            )
        return head

    def _terraform_files(self) -> dict[str, str]:
        files = {"versions.tf": self._versions_tf(), "variables.tf": self._tf_variables_head()}
        files.update((path, self._tf_text(path)) for path in self.tf_blocks)
        if self.vector == "terraform-tfvars":
            # The provider reads the key from variables: the tfvars file is what leaks.
            files["providers.tf"] = (
                'provider "aws" {\n  region     = var.region\n  access_key = var.aws_access_key\n'
                "  secret_key = var.aws_secret_key\n}\n"
            )
        return files


# ── the fast-import stream ────────────────────────────────────────────────────────────────


def _quoted(path: str) -> bytes:
    # Paths are checked free of control characters, so only quote and backslash need escaping.
    return b'"' + path.replace("\\", "\\\\").replace('"', '\\"').encode() + b'"'


@dataclass
class _Stream:
    branch: str
    parts: list[bytes] = field(default_factory=list)
    count: int = 0

    def commit(
        self,
        author: _Author,
        moment: int,
        message: str,
        files: Mapping[str, str],
        *,
        parent: str | None = None,
        branch: str | None = None,
        committed: int | None = None,
    ) -> int:
        """Append a commit; returns its position in the history (0 for the first).

        `parent` (a commit id, or a ref of this stream) is the commit it follows when that is
        not the tip of its branch in this stream: a branch that exists outside the stream, or
        a new branch off another. `branch` defaults to the stream's; `committed` (the
        committer's moment) to the author's.
        """
        body = message.rstrip("\n").encode() + b"\n"
        signature = author.signature(moment).encode()
        committer = signature if committed is None else author.signature(committed).encode()
        self.parts += [
            b"commit refs/heads/" + (branch or self.branch).encode() + b"\n",
            b"author " + signature + b"\ncommitter " + committer + b"\n",
            b"data %d\n" % len(body), body,
        ]  # fmt: skip
        if parent is not None:
            self.parts.append(b"from " + parent.encode() + b"\n")
        for path, text in files.items():
            data = text.encode()
            mode = b"100755" if path.endswith(".sh") else b"100644"
            self.parts += [
                b"M " + mode + b" inline " + _quoted(path) + b"\n",
                b"data %d\n" % len(data), data, b"\n",
            ]  # fmt: skip
        self.parts.append(b"\n")
        self.count += 1
        return self.count - 1

    def tag(self, name: str, tagger: _Author, moment: int, message: str) -> None:
        """An annotated tag on the tip of the stream's branch."""
        body = message.rstrip("\n").encode() + b"\n"
        self.parts += [
            b"tag " + name.encode() + b"\n",
            b"from refs/heads/" + self.branch.encode() + b"\n",
            b"tagger " + tagger.signature(moment).encode() + b"\n",
            b"data %d\n" % len(body), body, b"\n",
        ]  # fmt: skip

    def copy(self) -> _Stream:
        return _Stream(self.branch, list(self.parts), self.count)

    def data(self) -> bytes:
        return b"".join(self.parts) + b"done\n"


def _conflicts(path: str, leak_path: str) -> bool:
    return path == leak_path or path.startswith(leak_path + "/") or leak_path.startswith(path + "/")


def _without(files: Mapping[str, str], leak_path: str) -> dict[str, str]:
    return {path: text for path, text in files.items() if not _conflicts(path, leak_path)}


# ── building ──────────────────────────────────────────────────────────────────────────────


_PURPOSES = (
    ("image", ("image", "docker", "container", "ecr")),
    ("package", ("publish", "release", "package", "wheel", "pypi", "npm")),
    ("test", ("test", "ci", "check", "integration")),
)


def _file_context(leak_path: str, repository: str, domain: Domain) -> dict[str, str]:
    """What the leaking file is for, read from its name, so its content fits it.

    A workflow `publish-image.yml` builds and pushes an image; `deploy.yml` ships a bundle.
    """
    stem = PurePosixPath(leak_path).name.split(".", 1)[0] or "deploy"
    words = re.split(r"[^a-z0-9]+", stem.lower())

    def says(keys: tuple[str, ...]) -> bool:
        return any(w == k or (len(k) > 2 and w.startswith(k)) for w in words for k in keys)

    purpose = next((name for name, keys in _PURPOSES if says(keys)), "deploy")
    job = {"image": "image", "package": "publish", "test": "test"}.get(purpose, "deploy")
    return {
        "path": leak_path,
        "workflow": stem,
        "purpose": purpose,
        "job": job,
        "image": re.sub(r"[^a-z0-9-]+", "-", repository.lower()).strip("-") or "app",
        "topic": domain.topic,
        "measure": domain.measure,
        "noun": domain.nouns[0],
    }


def _bucket(scenario: Scenario) -> str:
    """The bucket the leaked file ships to: a deployment-looking one of the estate's."""
    names = [bucket.name for bucket in scenario.account.estate.buckets]
    for name in names:
        if any(word in name for word in ("deploy", "artifact", "asset", "static", "web")):
            return name
    if names:
        return names[0]
    return (
        re.sub(r"[^a-z0-9-]+", "-", scenario.leak.repository.name.lower()).strip("-") + "-artifacts"
    )


@dataclass(frozen=True)
class LaterCommit:
    """A commit a developer pushes after the leak, during the run (never before T0).

    `number` counts from the leak (1 is the first commit after it); `at_s` is when it is
    pushed, in seconds of run time after T0. Its hash is only known when it arrives: it
    sits on whatever the branch holds then (a developer pulls before pushing).
    """

    number: int
    at_s: float
    author: _Author
    message: str
    files: Mapping[str, str] = field(repr=False)
    removes_key: bool = False
    branch: str | None = None  # None: the default branch


@dataclass(frozen=True)
class _Plan:
    """Everything a build writes, worked out before git is called."""

    stream: _Stream  # what is pushed at T0 (with a force-push: before the rewrite)
    leak_path: str
    leak_ref: str  # the ref the leak commit is pushed to
    author: _Author
    later: tuple[LaterCommit, ...]
    trick: Trick | None = None
    rewritten: _Stream | None = None  # force-push: what the branch holds after the rewrite
    tag: str | None = None
    fork_owner: str | None = None
    asset: str | None = None  # a release-asset vector: the file with the key the build bundles
    context: Mapping[str, str] = field(default_factory=dict)


def _plan(scenario: Scenario, *, seed: int, moment: datetime, credential: Credential) -> _Plan:
    leak = scenario.leak
    spec = VECTORS[leak.vector]
    rng = random.Random(f"gameday-repo:{seed}:{scenario.id}")
    package = _package_name(leak.repository.name)
    domain = project_domain(leak.repository.name, leak.repository.description or "")
    topic = domain.topic.lower()
    slug = topic.replace(" ", "-")
    leak_path = checked_leak_path(leak.path or spec.path.format(package=package, slug=slug))
    _checked_branch(leak.repository.default_branch)
    _checked_history(scenario)
    author, team = _team(scenario, rng)

    context = {
        "project": leak.repository.name,
        "owner": leak.repository.owner,
        "package": package,
        "branch": leak.repository.default_branch,
        "region": scenario.account.regions[0],
        "account_id": scenario.account.id,
        "user": leak.user,
        "bucket": _bucket(scenario),
        "stage": "staging",
        "access_key_id": credential.access_key_id,
        "secret_access_key": credential.secret_access_key,
        **_file_context(leak_path, leak.repository.name, domain),
        # a CI log's lines, stamped in the minutes before the push that published it
        "log_times": [
            (moment - timedelta(seconds=200 - 9 * n)).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
            for n in range(7)
        ],
    }
    leaked_text = render_leak(leak.vector, {**context, "removed": False})

    project = _Project(scenario, spec.flavour, rng)
    stream = _Stream(leak.repository.default_branch)
    end = moment.timestamp()
    before = _history_times(leak.history.before, end - leak.history.span, end, team, rng)
    initial = _without(project.initial_files(), leak_path)
    if before:
        first_moment, first_author = before[0]
        stream.commit(first_author, first_moment, "Initial commit", initial)
        for when, who in before[1:]:
            message, files = project.change()
            stream.commit(who, when, message, _without(files, leak_path))
        leak_files = {leak_path: leaked_text}
    else:
        leak_files = {**initial, leak_path: leaked_text}
    trick = leak.trick
    asset = None
    if leak.vector in RELEASE_ASSET_VECTORS:
        # The key is never committed: the commit adds the build file that bundles it.
        if trick is not None or leak.removed is not None:
            raise UserError(
                f"leak.vector {leak.vector} puts the key in a release asset, never in the "
                "repository: leak.trick and leak.removed do not apply to it"
            )
        asset = leaked_text
        leak_files = {
            **{k: v for k, v in leak_files.items() if k != leak_path},
            **_build_files(leak.vector, leak_path, initial, context),
        }
    branch = leak.repository.default_branch
    message = leak.message or spec.message.format(topic=topic)
    if trick is not None and trick.type == "commit-message":
        said = trick.message or DEFAULT_KEY_MESSAGE
        message = said.replace("{key}", credential.access_key_id)
    leak_branch, parent = branch, None
    if trick is not None and trick.type == "feature-branch":
        if not before:
            raise UserError("leak.trick feature-branch needs history before the leak")
        stem = PurePosixPath(leak_path).name.split(".", 1)[0] or "setup"
        leak_branch = _checked_branch(trick.name or f"feature/{stem.lstrip('-') or 'setup'}")
        if leak_branch == branch:
            raise UserError(f"leak.trick.name {leak_branch!r} is the default branch")
        parent = f"refs/heads/{branch}"
    rewritten = stream.copy() if trick is not None and trick.type == "force-push" else None
    stream.commit(author, int(end), message, leak_files, parent=parent, branch=leak_branch)
    tag = None
    if asset is not None or (trick is not None and trick.type in ("tag", "release")):
        name = trick.name if trick is not None else None
        tag = _checked_branch(name or "v" + ".".join(map(str, project.next_version())))
        stream.tag(tag, author, int(end), f"Release {tag}")
    if rewritten is not None:
        # Seconds later the author amends the commit without the key and force-pushes.
        clean = render_leak(leak.vector, {**context, "removed": True})
        rewritten.commit(
            author, int(end), trick.message if trick and trick.message else message,
            {**leak_files, leak_path: clean}, committed=int(end),
        )  # fmt: skip
    fork_owner = None
    if trick is not None and trick.type == "fork":
        fork_owner = trick.name or DEFAULT_FORK_OWNER

    after = leak.history.after
    removal_nth = None
    if leak.removed is not None:
        after = max(after, leak.removed.after_commits)
        removal_nth = leak.removed.after_commits
    later: list[LaterCommit] = []
    latest = int(end)
    for number in range(1, after + 1):
        if number == removal_nth and leak.removed is not None:
            # The author, still at the desk, takes the key out within minutes of the push.
            latest += rng.randint(2 * 60, 20 * 60)
            clean = render_leak(leak.vector, {**context, "removed": True})
            later.append(
                LaterCommit(number, float(latest - int(end)), author, leak.removed.message,
                            {leak_path: clean}, removes_key=True, branch=leak_branch)
            )  # fmt: skip
            continue
        who = rng.choice(team)
        latest += rng.randint(4 * 60, 95 * 60)
        latest = max(latest, int(_business_hours(latest, who, rng)))
        message, files = project.change()
        later.append(
            LaterCommit(number, float(latest - int(end)), who, message, _without(files, leak_path))
        )
    return _Plan(
        stream, leak_path, f"refs/heads/{leak_branch}", author, tuple(later),
        trick=trick, rewritten=rewritten, tag=tag, fork_owner=fork_owner, asset=asset,
        context={k: str(v) for k, v in context.items() if isinstance(v, str)},
    )  # fmt: skip


def _utc(moment: datetime | None) -> datetime:
    moment = moment or DEFAULT_T0
    # A naive moment is taken as UTC, like every time the scenario speaks of.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def later_commits(
    scenario: Scenario,
    *,
    seed: int = 0,
    t0: datetime | None = None,
    credential: Credential | None = None,
) -> tuple[LaterCommit, ...]:
    """The commits developers push during a run of `scenario`, as `build_repository` plans
    them (for a run resumed without rebuilding the repository)."""
    if credential is None:
        credential = estate_credentials(scenario, seed)[leaked_key_ref(scenario)]
    return _plan(scenario, seed=seed, moment=_utc(t0), credential=credential).later


def build_repository(
    scenario: Scenario,
    out: Path,
    *,
    seed: int = 0,
    t0: datetime | None = None,
    credential: Credential | None = None,
) -> BuiltRepository:
    """Write OUT/repo and OUT/remote.git: a project whose public history ends at the leak.

    The leak commit is dated `t0` (the push; default 2026-03-02T12:33:12Z) and is the tip
    of what is public at T0: `history.before` commits spread over `history.span` before
    it, none after. The `history.after` commits (with `leak.removed`, the n-th of them
    deletes the key lines; the history is extended to reach it) are returned as
    `BuiltRepository.later`: a run pushes each at its time (`CodeHost.arrive`).
    """
    leak = scenario.leak
    owner, name = leak.repository.owner, leak.repository.name
    moment = _utc(t0)
    if credential is None:
        credential = estate_credentials(scenario, seed)[leaked_key_ref(scenario)]
    out = out.resolve()
    repo, remote = out / CLONE_NAME, out / REMOTE_NAME
    plan = _plan(scenario, seed=seed, moment=moment, credential=credential)
    _prepare_directory(repo, "developer's clone")
    _prepare_directory(remote, "remote")
    branch = leak.repository.default_branch
    author = plan.author

    out.mkdir(parents=True, exist_ok=True)
    run_git(["init", "-q", "--bare", "-b", branch, str(remote)], out)
    add_config(
        remote / "config",
        {
            # Keep each received pack as it is, as a code host does: exploding a push into
            # loose objects costs most of a build here, and slows every push a responder makes.
            # A developer's push arrives by fast-import, and is kept as a pack as well.
            "receive.unpackLimit": "1",
            "fastimport.unpackLimit": "1",
            # As GitHub does, any commit the host stores can be fetched by its id, reachable
            # or not.
            "uploadpack.allowAnySHA1InWant": "true",
            **HOST_CONFIG,
        },
    )
    leak_commit = ""
    if plan.rewritten is not None:
        # What was public at the push, before the author rewrote it: the host keeps it.
        run_git(["fast-import", "--quiet"], remote, stdin=plan.stream.data(), at=moment)
        leak_commit = git_text(["rev-parse", plan.leak_ref], remote)
    run_git(["init", "-q", "-b", branch, str(repo)], out)
    # the clone's reflog is dated at the push (T0), as everything the run writes is
    pushed = plan.rewritten or plan.stream
    run_git(["fast-import", "--quiet"], repo, stdin=pushed.data(), at=moment)
    run_git(["reset", "-q", "--hard", branch], repo, at=moment)
    hashes = git_text(["rev-list", "--reverse", branch], repo).split()
    _confine(repo, plan.leak_path)
    add_config(
        repo / ".git" / "config",
        {
            # The developer's own identity, so a responder's commit in this clone needs no setup.
            "user.name": author.name,
            "user.email": author.email,
            # Relative, so the run directory can move and the remote can never point outside
            # it; what `git remote add origin` and `git branch --set-upstream-to` would write.
            "remote.origin.url": f"../{REMOTE_NAME}",
            "remote.origin.fetch": "+refs/heads/*:refs/remotes/origin/*",
            f"branch.{branch}.remote": "origin",
            f"branch.{branch}.merge": f"refs/heads/{branch}",
        },
    )
    # Every branch (forced, as `push --force --all`) and every tag (as `push --tags`), in
    # one push.
    run_git(
        ["push", "-q", "origin", "+refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"],
        repo,
        at=moment,
    )
    if not leak_commit:
        leak_commit = git_text(["rev-parse", plan.leak_ref], remote)
    files = HostFiles(remote)
    if plan.trick is not None and plan.trick.type == "release" and plan.tag is not None:
        files.add_release(
            plan.tag, {_source_archive_name(name, plan.tag): _source_archive(repo, name, plan.tag)}
        )
    if plan.fork_owner is not None:
        files.add_fork(_checked_owner(plan.fork_owner), name, branch=branch)
    leak_path = plan.leak_path
    public_url = f"https://github.com/{owner}/{name}/blob/{leak_commit}/{quote(plan.leak_path)}"
    if plan.asset is not None and plan.tag is not None:
        # AWS found the key in the release's download, not in any commit.
        leak_path, data = _release_asset(scenario, repo, plan, int(moment.timestamp()))
        files.add_release(plan.tag, {leak_path: data})
        public_url = asset_url(owner, name, plan.tag, leak_path)
    return BuiltRepository(
        repo=repo,
        remote=remote,
        leak_commit=leak_commit,
        leak_path=leak_path,
        public_url=public_url,
        commits=len(hashes),
        credential=credential,
        t0=moment,
        branch=branch,
        later=plan.later,
    )


def _build_files(
    vector: str, leak_path: str, initial: Mapping[str, str], context: Mapping[str, Any]
) -> dict[str, str]:
    """What the leak commit of a release-asset vector adds: the build file that bundles an
    untracked file, and the `.gitignore` line that keeps that file out of git."""
    ignore = initial.get(".gitignore", "")
    package, project = context["package"], context["project"]
    if vector == "package-artifact":
        return {
            leak_path: (
                "include README.md CHANGELOG.md requirements.txt\n"
                "# the settings template, so `make run` works from an unpacked sdist\n"
                "include .env*\n"
                f"recursive-include {package} *.py\n"
                "prune tests\n"
            ),
            ".env.example": render_leak("package-artifact", {**context, "removed": True}),
            ".gitignore": ignore + ".env\n",
        }
    return {
        leak_path: (
            "FROM python:3.12-slim\n\n"
            "WORKDIR /app\n"
            "COPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"
            "COPY . .\n"
            f"# the uploader writes {project}'s reports with the deploy profile\n"
            "COPY .aws/credentials /root/.aws/credentials\n\n"
            f'CMD ["python", "-m", "{package}"]\n'
        ),
        ".gitignore": ignore + ".aws/\n",
    }


def _release_asset(scenario: Scenario, repo: Path, plan: _Plan, moment: int) -> tuple[str, bytes]:
    """The release asset of a release-asset vector, built from the tag's tree plus the
    untracked file with the key, as the release job built it on the developer's machine."""
    assert plan.tag is not None and plan.asset is not None
    tree = tree_files(run_git(["archive", "--format=tar", plan.tag], repo).stdout)
    version = plan.tag.removeprefix("v")
    repository = scenario.leak.repository
    if scenario.leak.vector == "package-artifact":
        package = _package_name(repository.name)
        data = sdist(
            tree, package=package, project=repository.name, version=version,
            summary=repository.description or repository.name, extra={".env": plan.asset},
            moment=moment,
        )  # fmt: skip
        return sdist_name(package, version), data
    image = plan.context.get("image") or "app"
    data = docker_save(tree, image=image, version=version, credentials=plan.asset, moment=moment)
    return image_name(image, version), data


def _source_archive_name(repository: str, tag: str) -> str:
    return f"{repository}-{tag.removeprefix('v')}.tar.gz"


def _source_archive(repo: Path, repository: str, tag: str) -> bytes:
    """The release's source archive, as the release script makes it: `git archive` of the tag."""
    prefix = f"{repository}-{tag.removeprefix('v')}/"
    return run_git(["archive", "--format=tar.gz", f"--prefix={prefix}", tag], repo).stdout


_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


def _checked_owner(owner: str) -> str:
    if not _OWNER.match(owner) or "--" in owner or owner.endswith("-"):
        raise UserError(
            f"leak.trick.name {owner!r} cannot be the fork's owner — an account name of letters, "
            "digits and single dashes, like 'repo-mirror-archive'"
        )
    return owner


def _confine(repo: Path, leak_path: str) -> None:
    """The checked-out leak file lies inside the clone, with no symbolic link on the way."""
    root = repo.resolve()
    target = repo / leak_path
    parents = [target, *target.parents]
    if any(p.is_symlink() for p in parents[: len(PurePosixPath(leak_path).parts)]):
        raise UserError(f"leak.path {leak_path!r} goes through a symbolic link")
    if not target.resolve().is_relative_to(root):
        raise UserError(f"leak.path {leak_path!r} resolves outside the repository")


# ── the code host during a run ────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Push:
    """One ref that moved on the remote since the previous poll."""

    ref: str
    old: str | None
    new: str | None
    forced: bool
    commits: int


class CodeHost:
    """The code host's side of the leaky repository during a run.

    State (`public`, `private`, `deleted`) lives in `code-host.json` beside `remote.git`, so
    `gameday repo private` in another terminal and the run itself see the same thing; the
    file is read and written under an advisory lock (`.code-host.lock`). Whoever holds the
    journal records the changes: a state change made without a journal (another process)
    is journaled by the next `poll()` of the run that has one.

    Journal events (besides the common fields):
      `repo.private`  `previous` (the state before), `deferred` (journaled by a poll on
                      behalf of another process), `requested_at` (ISO time of the
                      request: on the run clock when the run made it, on the wall clock
                      when another terminal did)
      `repo.deleted`  the same fields as `repo.private`
      `repo.pushed`   `ref`, `old` and `new` (commit ids; null when the ref was created or
                      deleted), `forced` (the old tip is not an ancestor of the new one, or
                      the ref was deleted: history was rewritten), `commits` (new commits),
                      and, when the host watches a key, `key_in_history` after the push
      `repo.branch-deleted`, `repo.tag-deleted`, `repo.release-deleted`,
      `repo.commit-purged`  the owners' other buttons (`act`)

    Every `repo.*` event, when the host watches a key, also says where the key is after the
    change, read from the host itself (never from what the requester claims): `key_served`
    (a branch or tag whose history holds it, a release whose assets hold it, or a kept
    commit that holds it — the places the owners control, a private repository's included),
    `key_places` (those places in words: `tag v3.4.0`, `kept commit 1a2b3c4`) and
    `key_forks` (forks that still hold it: other people's, out of the owners' reach). It is
    worked out only when the host has changed since it was last worked out.

    `key_in_history` looks at what the refs reach. As on GitHub, a force-push leaves the old
    commits in `remote.git`, fetchable by id, until git collects them: a rewrite hides the
    key from clones and browsing, it does not make a leaked key safe.
    """

    def __init__(
        self, remote: Path, journal: Journal | None = None, *, watch_key: str | None = None
    ) -> None:
        self.remote = remote
        self.journal = journal
        self.watch_key = watch_key
        self.state_path = remote.parent / HOST_STATE_NAME
        self.lock_path = remote.parent / HOST_LOCK_NAME
        self._lock = threading.Lock()  # the state file, within this process
        self._journal_lock = threading.RLock()  # one journaling sequence at a time
        self._history_cache: dict[tuple[str, tuple[tuple[str, str], ...]], bool] = {}
        self._refs_seen: tuple[tuple[tuple[str, bytes], ...], dict[str, RefTip]] | None = None
        # the key's scan and reach, by what the host holds
        self._reach: tuple[tuple[Any, ...], KeyScan, KeyReach] | None = None
        self._held_tips: dict[str, RefTip] = {}  # the refs `_holdings` last read
        self._scan_memo = ScanMemo()  # what the scans read of the commits, which never change
        self._polled: _Stamp | None = None  # what the files looked like at the last poll

    # ── state
    @contextlib.contextmanager
    def _locked_state(self) -> Iterator[dict[str, Any]]:
        """The state file's content, locked; changes to the dict are written back.

        The lock is a sidecar file, so the state itself can be replaced atomically: a crash
        mid-write leaves the previous state, never half of one.
        """
        with self._lock:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            with self.lock_path.open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    data: dict[str, Any] = json.loads(self.state_path.read_text("utf-8"))
                except FileNotFoundError:
                    data = {"state": "public" if self.remote.exists() else "deleted",
                            "journaled": None, "refs": None}  # fmt: skip
                before = json.dumps(data, sort_keys=True)
                yield data
                if json.dumps(data, sort_keys=True) != before:
                    partial = self.state_path.with_name(self.state_path.name + ".tmp")
                    with partial.open("w", encoding="utf-8") as handle:
                        handle.write(json.dumps(data, sort_keys=True, indent=1) + "\n")
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(partial, self.state_path)

    def state(self) -> HostState:
        with self._locked_state() as data:
            state: HostState = data["state"]
            return state

    def make_private(self) -> None:
        """Take the repository out of public view (it stays, with its history, as evidence)."""
        self._set("private")

    def delete(self) -> None:
        """Delete the repository: `remote.git` is removed, and the evidence with it."""
        self._set("deleted")

    def _set(self, target: HostState) -> None:
        with self._journal_lock:
            with self._locked_state() as data:
                previous = data["state"]
                if previous == target:
                    return
                if previous == "deleted":
                    raise UserError("the repository was deleted — there is nothing left to change")
                if target == "deleted":
                    shutil.rmtree(self.remote, ignore_errors=True)
                data.update(state=target, requested_at=iso(self._now()), previous=previous)
                pending = self._unjournaled_state(data, deferred=False)
            self._emit(pending, [])

    def _now(self) -> datetime:
        """When a request is made: on the run clock when this host holds the run's journal
        (the run itself, or its runbook), on the wall clock from another terminal."""
        if self.journal is not None:
            return time_at(self.journal.clock, self.journal.clock.now())
        return datetime.now(UTC)

    def _unjournaled_state(self, data: dict[str, Any], *, deferred: bool) -> dict[str, Any] | None:
        """The state event still to be journaled, if this host has the journal."""
        if self.journal is None or data["state"] == "public":
            return None
        if data.get("journaled") == data["state"]:
            return None
        if data["state"] == "deleted" and self.remote.is_dir():
            return None  # the state file says deleted, the repository is all there
        return {
            "kind": f"repo.{data['state']}",
            "previous": data.get("previous"),
            "deferred": deferred,
            "requested_at": data.get("requested_at"),
        }

    def _emit(
        self,
        state_event: dict[str, Any] | None,
        pushes: list[Push],
        *,
        actor: str = "responder",
        **extra: Any,
    ) -> None:
        # Appending happens with the state file unlocked: journal listeners (checks) may
        # well ask this host for its state.
        if self.journal is None:
            return
        if state_event is not None:
            fields = dict(state_event) | self._reach_fields()
            # only the repository's owners, the responders, act on it at the code host
            self.journal.append(fields.pop("kind"), actor="responder", **fields)
            with self._locked_state() as data:
                data["journaled"] = state_event["kind"].removeprefix("repo.")
        for push in pushes:
            event: dict[str, Any] = {
                "ref": push.ref, "old": push.old, "new": push.new,
                "forced": push.forced, "commits": push.commits, "actor": actor, **extra,
            }  # fmt: skip
            if self.watch_key is not None:
                event["key_in_history"] = self.key_in_history(self.watch_key)
            self.journal.append("repo.pushed", **event, **self._reach_fields())

    # ── the places the host keeps the content, and the owners' actions on them
    def places(self, owner: str, name: str) -> list[Place]:
        """Branches, tags, releases, forks and kept commits, each with its public URL."""
        public = self.state() == "public"
        return places(self.remote, owner, name, key=self.watch_key, public=public)

    def resolve(self, url: str, owner: str, name: str) -> Served | None:
        """What the host serves at `url` now (None: a 404)."""
        return resolve(url, self.remote, owner, name, state=self.state())

    def act(self, action: str, target: str | None = None) -> str:
        """One of the owners' actions by its name (`REPO_ACTIONS`); what was done, in words."""
        if action not in REPO_ACTIONS:
            raise UserError(
                f"unknown repository action {action!r} — {did_you_mean(action, REPO_ACTIONS)}"
            )
        needs = REPO_ACTIONS[action]
        if needs and not target:
            raise UserError(f"`{action}` needs the {needs} it acts on")
        if action == "private":
            self.make_private()
            return "repository made private"
        if action == "delete":
            self.delete()
            return "repository deleted"
        assert target is not None
        if action == "delete-branch":
            self._delete_ref(f"refs/heads/{target}", "branch")
            return f"branch {target} deleted"
        if action == "delete-tag":
            self._delete_ref(f"refs/tags/{target}", "tag")
            return f"tag {target} deleted"
        if action == "delete-release":
            self._record("repo.release-deleted", self._delete_release, tag=target)
            return f"release {target} deleted with its assets"
        purged = self._record("repo.commit-purged", self._purge, commit=target, via="support")
        return f"support purged {purged} cached commit(s), {target} among them"

    def _delete_ref(self, ref: str, what: str) -> None:
        short = ref.split("/", 2)[2]
        self._record(f"repo.{what}-deleted", lambda: self._drop_ref(ref, what), ref=ref, name=short)
        if self.journal is not None:
            self._poll()  # the ref's disappearance, journaled as a push with the key's reach

    def _drop_ref(self, ref: str, what: str) -> int:
        short = ref.split("/", 2)[2]
        if ref not in self.refs():
            raise UserError(f"there is no {what} {short!r} on the code host")
        head = run_git(["symbolic-ref", "-q", "HEAD"], self.remote, check=False)
        if head.stdout.decode().strip() == ref:
            raise UserError(
                f"{short!r} is the default branch — the host refuses to delete it: rewrite it "
                "and force-push, make the repository private, or delete the repository"
            )
        run_git(["update-ref", "-d", ref], self.remote)
        return 1

    def _delete_release(self, *, tag: str) -> int:
        if not HostFiles(self.remote).delete_release(tag):
            raise UserError(f"there is no release {tag!r} on the code host")
        return 1

    def _purge(self, *, commit: str) -> int:
        """Support's purge: the kept commits no ref reaches are removed for good."""
        kept = kept_commits(self.remote)
        matches = (
            [sha for sha in kept if sha.startswith(commit.lower())] if len(commit) >= 7 else []
        )
        if not matches:
            found = run_git(["cat-file", "-t", commit], self.remote, check=False)
            if found.returncode == 0:
                raise UserError(
                    f"{commit} is still reachable from a branch or tag — support purges only "
                    "commits no ref reaches: rewrite the history and force-push first"
                )
            raise UserError(
                f"the code host keeps no commit {commit!r} (give at least 7 characters)"
            )
        # What `git gc --prune=now` does to the objects, without the rest of its chores (refs
        # packed, worktrees, rerere): every object a ref reaches in one pack, nothing else.
        run_git(["reflog", "expire", "--expire=now", "--all"], self.remote)
        run_git(["repack", "-a", "-d", "-l", "-q"], self.remote)
        run_git(["prune", "--expire=now"], self.remote)
        return len(kept)

    def _record(self, kind: str, do: Callable[..., int], **fields: Any) -> int:
        """Do an owner's action and journal it (now, or at the run's next poll when it came
        from another terminal)."""
        with self._journal_lock:
            if self.journal is not None:
                # the pushes before the action first: a purge takes the commits they replaced
                self._poll()
            with self._locked_state() as data:
                if data["state"] == "deleted":
                    raise UserError("the repository was deleted — there is nothing left to change")
                args = {k: v for k, v in fields.items() if k in ("tag", "commit")}
                count = do(**args)
                event = {"kind": kind, **fields, "requested_at": iso(self._now())}
                if kind == "repo.commit-purged":
                    event["purged"] = count
                if self.journal is None:
                    data.setdefault("pending", []).append(event)
                    return count
            self._emit_actions([event], deferred=False)
        return count

    def _emit_actions(self, events: list[dict[str, Any]], *, deferred: bool) -> None:
        if self.journal is None:
            return
        for event in events:
            # An action another process left in the state file (a file anyone in the run
            # directory can write) is journaled only as one of the owners' actions, with its
            # own fields, and only when the host sees it done.
            kind = str(event.get("kind"))
            if kind not in _ACTION_FIELDS or (deferred and not self._done(event)):
                continue
            fields = {k: event[k] for k in (*_ACTION_FIELDS[kind], "requested_at") if k in event}
            self.journal.append(
                kind, actor="responder", deferred=deferred, **fields, **self._reach_fields()
            )

    def _done(self, event: Mapping[str, Any]) -> bool:
        """Does the host show the action's effect: the ref, release or commit gone?"""
        kind = event["kind"]
        if kind == "repo.release-deleted":
            return str(event.get("tag")) not in HostFiles(self.remote).release_tags()
        if kind == "repo.commit-purged":
            commit = str(event.get("commit", ""))
            return len(commit) >= 7 and not self._stored(commit)
        return str(event.get("ref")) not in self.refs()

    # ── where the key is
    def key_reach(self) -> KeyReach | None:
        """Where the watched key is on the host now (None when the host watches no key).

        Worked out from the host's own refs, objects, releases and forks, and again only when
        one of them has changed: the refs (cached by their files), the packs (a purge
        repacks), the release assets and the forks.
        """
        scanned = self._scanned()
        return None if scanned is None else scanned[1]

    def _scanned(self) -> tuple[KeyScan, KeyReach] | None:
        """The watched key's scan of the host and its reach, worked out again only when what
        the host holds has changed; one scan answers both `key_reach` and `key_in_history`."""
        if self.watch_key is None:
            return None
        holds = self._holdings()
        tips = self._held_tips
        if self._reach is None or self._reach[0] != holds:
            scanned = (
                scan_key(self.remote, self.watch_key, tips, kept=True, memo=self._scan_memo)
                if self.remote.is_dir()
                else KeyScan((), frozenset(), frozenset(), in_files=False)
            )
            # the words name no URL, so the repository's public name is not needed
            found = places(
                self.remote, "", "", key=self.watch_key, public=False, tips=tips, scanned=scanned
            )
            self._reach = (holds, scanned, key_reach(found))
        return self._reach[1], self._reach[2]

    def _holdings(self) -> tuple[Any, ...]:
        """What the host holds, cheaply: ref tips, pack names, release assets, forks.

        The refs read are kept in `_held_tips`, for the scan of what they reach."""
        files = HostFiles(self.remote)
        tips = self._held_tips = self._tips()
        if not self.remote.is_dir():
            return ("deleted", tuple(files.fork_paths()))
        pack = self.remote / "objects" / "pack"
        assets = tuple(
            (tag, name, path.stat().st_size, path.stat().st_mtime_ns)
            for tag in files.release_tags()
            for name, path in files.release_assets(tag).items()
        )
        return (
            tuple(sorted(tips.items())),
            tuple(sorted(os.listdir(pack))) if pack.is_dir() else (),
            assets,
            tuple(files.fork_paths()),
        )

    def _reach_fields(self) -> dict[str, Any]:
        reach = self.key_reach()
        return {} if reach is None else reach.fields()

    # ── pushes
    def refs(self) -> dict[str, str]:
        """Every ref of the remote and the commit it points at (empty once deleted).

        Git is asked only when the ref files have changed since it was last asked.
        """
        return {ref: tip.sha for ref, tip in self._tips().items()}

    def _tips(self) -> dict[str, RefTip]:
        """`refs()` with annotated tags peeled (the commit a tag names).

        The ref files are read before git is asked, and git's answer is kept with what they
        held: while they hold the same bytes, git would answer the same. Their contents,
        unlike their times, tell a change made within the same tick of the clock as the
        last one (a run's polls follow a push by a millisecond or less).
        """
        if not self.remote.is_dir():
            return {}
        held = _contents(self._ref_files())
        seen = self._refs_seen
        if seen is not None and seen[0] == held:
            return dict(seen[1])
        tips = ref_tips(self.remote)
        self._refs_seen = (held, tips)
        return dict(tips)

    def _ref_files(self) -> list[Path]:
        """The files a ref update rewrites: loose refs, packed-refs, reftable's tables."""
        files = [self.remote / "packed-refs"]
        for folder in ("refs", "reftable"):
            for parent, _, names in os.walk(self.remote / folder):
                files += [Path(parent, name) for name in names]
        return files

    def poll(self) -> list[Push]:
        """Journal state changes made elsewhere and pushes since the previous poll.

        A run polls every 15 s of run time — 480 times in a 2-hour run that, in virtual
        time, lasts seconds. When neither the ref files nor the state file have changed
        since the previous poll there is nothing to journal, and the poll costs a few
        `stat` calls instead of a lock, a read and a git process.
        """
        with self._journal_lock:
            stamp = _stamp([self.state_path, *self._ref_files()])
            if self._polled is not None and stamp == self._polled and self._polled.settled:
                return []
            pushes = self._poll()
            self._polled = stamp
            return pushes

    def _poll(self) -> list[Push]:
        with self._journal_lock:
            with self._locked_state() as data:
                pending = self._unjournaled_state(data, deferred=True)
                actions = data.pop("pending", []) if self.journal is not None else []
                pushes: list[Push] = []
                if data["state"] != "deleted":
                    current = self.refs()
                    seen: dict[str, str] | None = data.get("refs")
                    data["refs"] = current
                    if seen is not None:  # the first poll only takes a snapshot
                        pushes = [
                            self._push(ref, seen.get(ref), current.get(ref))
                            for ref in sorted(set(seen) | set(current))
                            if seen.get(ref) != current.get(ref)
                        ]
            self._emit_actions(actions, deferred=True)
            self._emit(pending, pushes)
        return pushes

    def _push(self, ref: str, old: str | None, new: str | None) -> Push:
        if new is None:
            return Push(ref, old, None, forced=True, commits=0)
        if old is not None:
            # One walk counts both sides: the commits only the old tip reaches (some: the push
            # was forced, the old tip is no ancestor of the new) and those only the new one
            # reaches (the push's commits).
            sides = run_git(
                ["rev-list", "--left-right", "--count", f"{old}...{new}"], self.remote, check=False
            )
            if sides.returncode == 0:
                left, right = sides.stdout.split()
                return Push(ref, old, new, forced=int(left) > 0, commits=int(right))
        if old is not None and not self._stored(old):
            # the old tip was purged before this poll saw the push: rewritten, and gone
            return Push(ref, old, new, forced=True, commits=0)
        span = [new] if old is None else [new, f"^{old}"]
        commits = int(git_text(["rev-list", "--count", *span], self.remote))
        forced = old is not None and (
            run_git(["merge-base", "--is-ancestor", old, new], self.remote, check=False).returncode
            != 0
        )
        return Push(ref, old, new, forced=forced, commits=commits)

    def _stored(self, commit: str) -> bool:
        found = run_git(["cat-file", "-e", f"{commit}^{{commit}}"], self.remote, check=False)
        return found.returncode == 0

    # ── the developers
    def arrive(self, commit: LaterCommit, moment: datetime, branch: str) -> str | None:
        """A developer pushes `commit` to `branch` at `moment` (the run clock); its new id.

        The developer pulls first, so the commit sits on whatever the branch holds now —
        after the team's own pushes, rewritten history included. Nothing arrives at a
        deleted repository or a deleted branch, nor twice (a resumed run asks again); the
        author's removal commit is dropped when the file no longer holds the key. Journaled
        as `repo.pushed` with `actor: developer`, the `author` and the commit `message`.
        """
        ref = f"refs/heads/{commit.branch or branch}"
        with self._journal_lock:
            self._poll()  # the team's own pushes first, journaled as theirs
            with self._locked_state() as data:
                arrived: list[int] = data.setdefault("arrived", [])
                tip = self.refs().get(ref) if data["state"] != "deleted" else None
                if tip is None or commit.number in arrived:
                    return None
                arrived.append(commit.number)
                if commit.removes_key and not self._tip_holds_key(tip, commit.files):
                    return None
                stream = _Stream(commit.branch or branch)
                stream.commit(
                    commit.author, int(moment.timestamp()), commit.message, commit.files,
                    parent=tip,
                )  # fmt: skip
                run_git(["fast-import", "--quiet"], self.remote, stdin=stream.data(), at=moment)
                current = self.refs()
                if data.get("refs") is not None:
                    data["refs"] = current
                new = current[ref]
            push = Push(ref, tip, new, forced=False, commits=1)
            self._emit(
                None, [push], actor="developer", author=commit.author.name, message=commit.message
            )
        return new

    def _tip_holds_key(self, tip: str, files: Mapping[str, str]) -> bool:
        if self.watch_key is None:
            return True
        forms = (self.watch_key.encode(), base64.b64encode(self.watch_key.encode()))
        for path in files:
            shown = run_git(["cat-file", "blob", f"{tip}:{path}"], self.remote, check=False)
            # as written: plain, or base64 as in a Kubernetes Secret's `data:`
            if shown.returncode == 0 and any(form in shown.stdout for form in forms):
                return True
        return False

    # ── history
    def key_in_history(self, access_key_id: str) -> bool:
        """Is the key in a file of any commit reachable from a ref of the remote?

        The answer is cached per set of ref tips, so asking again between pushes is free;
        for the watched key it comes with the scan `key_reach` reads (`scan_key`).
        """
        if access_key_id == self.watch_key:
            scanned = self._scanned()  # reads the refs itself
            assert scanned is not None
            return bool(self._held_tips) and scanned[0].in_files
        refs = self.refs()
        if not refs:
            return False
        cache_key = (access_key_id, tuple(sorted(refs.items())))
        if cache_key not in self._history_cache:
            self._history_cache[cache_key] = key_in_files(self.remote, access_key_id)
        return self._history_cache[cache_key]


# Filesystem times are coarse (a kernel tick, up to 10 ms): a file changed again within the
# tick of a stamp would keep its time. Like git's "racily clean" index entries, a stamp
# vouches for what was read after it only if its newest file was older than this margin when
# it was taken (inodes differ anyway: git and the code host replace a file by renaming a new
# one over it).
_SETTLE_NS = 50_000_000


@dataclass(frozen=True)
class _Stamp:
    """What a set of files looks like: path, inode, size and change time of each."""

    files: tuple[tuple[str, int, int, int], ...]
    settled: bool = field(compare=False)


def _contents(paths: list[Path]) -> tuple[tuple[str, bytes], ...]:
    """What a set of small files holds, file by file (a file gone is left out)."""
    held = []
    for path in sorted(paths):
        try:
            held.append((str(path), path.read_bytes()))
        except (FileNotFoundError, IsADirectoryError):
            continue
    return tuple(held)


def _stamp(paths: list[Path]) -> _Stamp:
    taken = time.time_ns()
    files = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        files.append((str(path), info.st_ino, info.st_size, info.st_mtime_ns))
    newest = max((entry[3] for entry in files), default=0)
    return _Stamp(tuple(sorted(files)), settled=newest < taken - _SETTLE_NS)
