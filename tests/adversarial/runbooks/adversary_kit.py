"""What the adversarial runbooks share: the facts of a notice, other hands, and the run's files.

The runbooks in this directory each try to earn points without doing the remediation the
points stand for. Like `runbooks/reference.py`, they learn what happened from AWS's notices
and the account; the ones whose point is to cheat also read the run directory (the journal,
`run.json`, the vault) and borrow identities from it.

Every call that may be refused goes through `attempt`, as a real team's script would catch
`ClientError`: a refusal is the expected answer to most of what these runbooks try, and a
runbook that stops with a traceback at the first refusal would test nothing after it. A
fault of the mock (an HTTP 500 botocore cannot parse) is passed over the same way, so one
broken operation does not hide what the rest of a runbook would earn.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from gameday.paths import PROJECT_ROOT

if TYPE_CHECKING:
    from gameday.exercise.responders import Notice, RunbookContext

# The notices a customer receives (a team has no other way to learn of the leak).
CUSTOMER_NOTICES = ("email", "support-case", "phone-call", "health-event", "webhook")
OTHER_PARTITIONS = ("cn-", "us-gov-")
LIBRARY_RUNBOOKS = PROJECT_ROOT / "runbooks"

Result = TypeVar("Result")
_COPIES = itertools.count(1)  # numbers the fresh copies of a module


# ── the library's runbooks, as modules ────────────────────────────────────────────────────


def load_module(path: Path, name: str, *, fresh: bool = False) -> ModuleType:
    """A Python file as a module (registered: dataclasses in it need that).

    `fresh` loads a new copy under a new name, which its caller may patch without touching
    anyone else's copy; otherwise a module loaded before under `name` is reused.
    """
    if fresh:
        name = f"{name}_{next(_COPIES)}"
    elif name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def library_runbook(stem: str, *, fresh: bool = False) -> ModuleType:
    """The library's `runbooks/STEM.py` as a module; `fresh`: a copy of one's own."""
    return load_module(LIBRARY_RUNBOOKS / f"{stem}.py", f"gameday_adversary_{stem}", fresh=fresh)


# ── the notice ────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Facts:
    """What AWS's first notice says: the key, its user (when told) and where it leaked."""

    key_id: str
    user: str | None
    public_url: str
    notice: Notice


def first_notice(ctx: RunbookContext) -> Facts:
    """Waits for the first notice a customer receives; its facts."""
    notice = ctx.wait_for(list(CUSTOMER_NOTICES))
    data = notice.data
    user = data.get("user_name")
    return Facts(
        key_id=str(data.get("access_key_id") or ""),
        user=str(user) if user else None,
        public_url=str(data.get("public_url") or ""),
        notice=notice,
    )


def user_of(ctx: RunbookContext, facts: Facts) -> str | None:
    """The key's user: from the notice, else IAM (a Health event names only the key)."""
    if facts.user:
        return facts.user
    found = attempt(ctx.aws.client("iam").get_access_key_last_used, AccessKeyId=facts.key_id)
    return str(found["UserName"]) if found and found.get("UserName") else None


def leaked_secret(ctx: RunbookContext, facts: Facts) -> str | None:
    """The secret beside the key in the public repository, at the commit the notice names."""
    careless = library_runbook("careless")
    found: str | None = careless.secret_from_repository(
        Path(ctx.repo), facts.public_url, facts.key_id
    )
    return found


# ── calls that may be refused ─────────────────────────────────────────────────────────────


# A refusal, or an answer botocore could not read (a 500 page is no XML).
REFUSED = (ClientError, BotoCoreError, ResponseParserError)


def attempt(call: Callable[..., Result], *args: Any, **params: Any) -> Result | None:
    """The call's answer, or None when AWS refuses it (or the mock fails to answer)."""
    try:
        return call(*args, **params)
    except REFUSED:
        return None


def every_region(ctx: RunbookContext) -> list[str]:
    """Every region of this partition: DescribeRegions, or botocore's list when refused."""
    answer = attempt(ctx.aws.client("ec2").describe_regions)
    if answer:
        names = [str(region["RegionName"]) for region in answer["Regions"]]
    else:
        names = list(ctx.aws.get_available_regions("ec2"))
    return sorted(name for name in names if not name.startswith(OTHER_PARTITIONS))


def company_regions(ctx: RunbookContext) -> list[str]:
    """The regions the company works in: its own inventory (the scenario's account)."""
    if ctx.scenario is not None:
        return [str(region) for region in ctx.scenario.account.regions]
    return [str(ctx.aws.region_name)]


def users(iam: Any) -> Iterator[dict[str, Any]]:
    pages = attempt(lambda: list(iam.get_paginator("list_users").paginate()))
    for page in pages or []:
        yield from page["Users"]


def myself(ctx: RunbookContext) -> str:
    """The responders' own user name."""
    found = attempt(ctx.aws.client("sts").get_caller_identity)
    return str(found["Arn"]).rsplit("/", 1)[-1] if found else ""


def reply_to_every_case(ctx: RunbookContext, text: str) -> bool:
    """Adds `text` to every open case; False when the plan has no Support API."""
    support = ctx.aws.client("support", region_name="us-east-1")
    cases = attempt(support.describe_cases, includeResolvedCases=False)
    if cases is None:
        return False
    for case in cases["cases"]:
        attempt(support.add_communication_to_case, caseId=case["caseId"], communicationBody=text)
    return True


# ── other hands ───────────────────────────────────────────────────────────────────────────


class SignedAs:
    """A boto3 session as the runbook API's `ctx.aws`, signing with someone else's key."""

    def __init__(self, aws: Any, key_id: str, secret: str) -> None:
        self._aws = aws
        self.key_id = key_id
        self._secret = secret
        self.region_name = aws.region_name

    def client(self, service: str, **options: Any) -> Any:
        return self._aws.client(
            service, aws_access_key_id=self.key_id, aws_secret_access_key=self._secret, **options
        )

    def get_available_regions(self, service: str) -> list[str]:
        return list(self._aws.get_available_regions(service))


class Borrowed:
    """The runbook's context with other AWS hands (`aws`) and, once, a notice handed back.

    The library's runbooks start with `ctx.wait_for("email")`: a runbook that has taken the
    email itself hands it back, so the runbook it calls does not wait for the next one. (An
    email not taken yet is in the inbox still, and `wait_for` returns it at once.)
    """

    def __init__(
        self, ctx: RunbookContext, *, aws: Any = None, notice: Notice | None = None
    ) -> None:
        self._ctx = ctx
        self.aws = ctx.aws if aws is None else aws
        self._handed = notice

    def wait_for(self, kind: str | Iterable[str], timeout: float | str | None = None) -> Notice:
        wanted = {kind} if isinstance(kind, str) else set(kind)
        handed = self._handed
        if handed is not None and wanted & {handed.kind, handed.id}:
            self._handed = None
            return handed
        return self._ctx.wait_for(kind, timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


# ── the run's files ───────────────────────────────────────────────────────────────────────


def run_directory(ctx: RunbookContext) -> Path | None:
    """The run directory: the clone lives in it (`RUN_DIR/repo`)."""
    candidate = Path(ctx.repo).resolve().parent
    return candidate if (candidate / "journal.jsonl").exists() else None


def journal_events(run: Path) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with (run / "journal.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events


def key_ids_of(events: list[dict[str, Any]], actor: str) -> list[str]:
    """Access key ids the journal shows `actor` signing with, or names as its principal."""
    found: list[str] = []
    for event in events:
        if event.get("kind") == "world.seeded":
            principal = (event.get("principals") or {}).get(actor)
            named = principal if isinstance(principal, list) else [principal]
            found += [key for key in named if isinstance(key, str) and key]
        signers = (event.get("actor"), event.get("key_actor"))
        if event.get("kind") == "api.call" and actor in signers:
            key = event.get("access_key_id")
            if isinstance(key, str) and key:
                found.append(key)
    return list(dict.fromkeys(found))


def vault_secrets(run: Path) -> dict[str, str]:
    """Every access key id → secret that a response kept in the run's private vault shows."""
    vault = run / ".vault.jsonl"
    found: dict[str, str] = {}
    if not vault.exists():
        return found
    pair = re.compile(
        r"<AccessKeyId>(?P<id>[A-Z0-9]+)</AccessKeyId>.*?"
        r"<SecretAccessKey>(?P<secret>[^<]+)</SecretAccessKey>",
        re.S,
    )
    with vault.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                body = base64.b64decode(json.loads(line)["response"]["body"]).decode()
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                continue
            for match in pair.finditer(body):
                found[match.group("id")] = match.group("secret")
    return found
