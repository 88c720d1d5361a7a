"""Crash safety: `gameday recover RUN_DIR` takes a crashed run over where it stopped.

A run's process may die at any moment — `kill -9`, a laptop that sleeps and loses its
terminal, a power cut. Nothing the run did is lost: the journal is flushed per event, and
the run's private vault (`RUN_DIR/.vault.jsonl`, see `gameday.world.gateway.Vault`) holds,
for each call that changed the mock, the request as sent and the answer. What is lost is
the process: the mock AWS account in memory, the clock, the timeline, the attacker's
wallet, the responder's progress. A recovery brings each back from those two files and the
run goes on to `run.ended`, the score and the reports as if nothing had happened.

**A virtual-time run is played again from T0** (`Replay`). Such a run is a pure function of
its scenario, its seed and its responder — two runs with one seed write the same journal —
so the surest way back to the crash point is the way the run got there: the repository
built again (the crashed one set aside until the replay catches up, and put back if it does
not), a fresh mock seeded as before, the timeline, the attacker, the workload and the
responder started afresh at T0 — a runbook from its first line, in a process of its own,
with its API calls served by the mock the replay rebuilds call by call. Every event the
replay journals is checked against the one the journal holds (`ReplayJournal`: the same but
for wall-clock fields, it is not written again; different, the recovery stops with an error
naming both, the run directory as the crash left it). Injects that reached people (email,
calls, webhooks, the console) are rendered again but not sent again; those that act on the
mock (the quarantine, the support case, the Health event) act again (`MOCK_CHANNELS`). The
vault's entries are numbered again, not written again (`ReplayVault`). When the last
journaled event has been played again, `run.recovered` (`mode: replay`) is journaled and the
run goes on, live: the mock, the clock, the runbook's variables, the attacker's wallet and
every id moto drew are what they were, so the score — step times included — is the
uninterrupted run's. A run whose journal holds something no participant of the run journals
(a command typed during it, a refused one, a foreign line, an earlier recovery that rebuilt
rather than replayed: `events_from_outside`) cannot be placed again and is rebuilt instead.

**A wall-clock run is rebuilt at the crash point** (`Recovery`): people acted in it, and
what they did cannot be played again.

1. **Checks.** The run must have started (`run.started`), must not have ended (`run.ended`),
   and its process must be gone. A line torn by the crash at the end of the journal or the
   vault is cut off. Every successful state-changing `api.call` must name a vault entry the
   vault holds; a run recorded without one cannot be rebuilt and is refused.
2. **The world.** A fresh mock for the scenario's account, with the run's seed, seeded as
   before (the same principals, estate keys, decoys and resource ids), on a replay clock
   that stands at T0. Then, in journal order, with the journal off (`Gateway.recording`)
   and the key and deny checks off (`Gateway.replaying`: these calls succeeded once):
   - every `api.call` with a status below 400 that is not read-only (`is_read_only`, as
     CloudTrail's `ReadOnly`) is sent again as recorded in its vault entry, by whoever
     signed it, the replay clock standing at the call's `t` so that moto dates what it
     creates as it did (`gateway.MotoTime`). The quarantine the framework attached, the
     Health event it put on EventBridge are calls like any other, except that the
     framework's credential lives in no IAM backend and in no file — each process draws its
     own — so its recorded requests are signed anew with this process's framework
     credential before they are sent (`_as_framework`). EC2 instance and Spot
     request ids moto would draw anew are pinned to those the journal recorded; an access
     key or a role's temporary credentials minted by a call get back the id, secret key and
     session token of the vault's answer, so the attacker's wallet and the responders'
     scripts go on working; the key registry learns whose they are, as it did;
   - the support cases the framework opened in-process (`support.case-opened`) are opened
     again with the same ids and first correspondence (the `support-case` inject's body),
     and what AWS wrote on them since (`support.communication-added`) is written again.
   Then the mock moves to the run clock, and moto's id generator is seeded anew for the
   rest of the run (a stream of its own, so new ids do not repeat old ones).
3. **The clock** continues from the last journaled event's `t`, virtual or wall at the same
   speed; T0 stays the original, so run time and the times responders see stay on one
   timeline (on the wall clock, the time the process was down does not count).
4. **What happened stays done.** The live score and CloudTrail's event history read the
   whole journal; every delivered inject is published again to the responders' inbox.
   Timeline entries that fired (`inject.delivered`, `attacker.technique`), were skipped
   (`inject.skipped`) or failed (`error`) are restored as such, their `after` dependents
   due from when they fired; the workload's probe goes on from its last `workload.probe`
   and the other periodic entries (the attacker's relaunches, the code host's polls) at
   their first period after the recovery time. An entry that was firing when the process
   died is fired again (at least once, never lost). The attacker's wallet holds the keys
   it minted (from the vault), forgets the keys it found dead, and remembers what it left
   behind. IAM's propagation delay of a quarantine attached just before the crash still
   runs out when it would have.
5. **The responder.** One that had finished (`responder.finished`) does not start again.
   A replay (YAML, or a journal) goes on from the first action after the last one the
   journal shows done — matched in order by action, note text or repository action, never
   earlier than its time — and gets back the responses its done actions kept with `save:`
   (a state-changing action's from the vault; a read-only one's by making the call again
   at its time during the rebuild). A Python runbook still at work starts again from the
   beginning with every delivered inject in its inbox: its progress is in its own
   variables, which died with the process, so runbooks must be idempotent (a second
   deactivation of a key is harmless; a second `create_access_key` is not — look before
   acting). People just keep going: their profile names the same credentials; the
   profile's endpoint is rewritten for the new mock, which every new command picks up.
6. `run.recovered` is journaled (`from_t`, `mode: rebuild`, `replayed`, `reopened`,
   `failed`, `resumed_at`, `by`), and the run goes on.

Known limits of a rebuild: ids moto draws that the journal does not record (security groups,
volumes, network interfaces, unique ids of IAM users created during the run) come out
different after a recovery; two things due at the very same instant may take place in
another order than they would have without the crash.

A test hook crashes a run at a chosen point: with `GAMEDAY_TEST_KILL_AFTER_SEQ=N` in its
environment, a run's (or a recovery's) process sends itself SIGKILL once journal event N is
journaled (`gameday.exercise.run.KILL_AFTER_SEQ_VARIABLE`).
"""

from __future__ import annotations

import functools
import importlib
import io
import json
import os
import re
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import botocore.parsers
from botocore.awsrequest import HeadersDict
from botocore.exceptions import BotoCoreError, ClientError
from moto.moto_api._internal import mock_random
from rich.console import Console

from gameday.errors import UserError
from gameday.exercise.attacker import Attacker
from gameday.exercise.attacker.base import DEAD_CREDENTIAL_CODES, Resource
from gameday.exercise.clock import Clock, VirtualClock, WallClock
from gameday.exercise.injects import REGISTRY, InjectContext, SmtpOptions, deliver
from gameday.exercise.injects.base import Delivered
from gameday.exercise.responders import (
    REPO_EVENT_ACTIONS,
    InjectBus,
    ReplayResponder,
    ReplayStep,
    Responder,
    RunbookResponder,
    TemplateError,
    UnknownCall,
    aws_call,
    fill_templates,
    notice_facts,
)
from gameday.exercise.run import Resumption, RunOptions, RunResult, run_exercise
from gameday.exercise.timeline import Timeline
from gameday.journal import (
    Event,
    FixedClock,
    Journal,
    iso,
    mend_tail,
    read_journal,
    time_at,
    without_wall_clock,
)
from gameday.rundir import RunDir
from gameday.scenario import load_scenario
from gameday.scenario.model import Inject, Scenario
from gameday.scoring.score import Evaluator
from gameday.world.account import MockAccount, iam_backend
from gameday.world.clients import bare_botocore_session
from gameday.world.cloudtrail import is_read_only
from gameday.world.codehost import HOST_FILES_NAME
from gameday.world.decoys import Credential
from gameday.world.gateway import (
    ACTORS,
    VAULT_FILE,
    Vault,
    find_access_key,
    read_vault,
    vault_body,
)
from gameday.world.git import run_git
from gameday.world.repo import CLONE_NAME, HOST_LOCK_NAME, HOST_STATE_NAME, REMOTE_NAME

WORKLOAD_ENTRY = "workload"  # the timeline id of the workload's probe (gameday.exercise.run)
_TIME_EPSILON = 0.001  # the journal keeps run times to the millisecond

_MINTED_KEY_ID = re.compile(rb"<AccessKeyId>([A-Z0-9]+)</AccessKeyId>")
_MINTED_SECRET = re.compile(rb"<SecretAccessKey>([^<]+)</SecretAccessKey>")
_MINTED_TOKEN = re.compile(rb"<SessionToken>([^<]+)</SessionToken>")

# Ids moto draws for what a call creates that the journal records: the module-level
# function moto draws them with, and the `result` field of the api.call that holds them.
_PINNED_IDS = {
    ("ec2", "RunInstances"): ("moto.ec2.models.instances", "random_instance_id", "InstanceIds"),
    ("ec2", "RequestSpotInstances"): (
        "moto.ec2.models.spot_requests",
        "random_spot_request_id",
        "SpotInstanceRequestIds",
    ),
}


# ── the clocks of a recovered run ─────────────────────────────────────────────────────────


class ResumedVirtualClock(VirtualClock):
    """Virtual time whose run time starts at `start` (seconds since T0), not at T0."""

    def __init__(self, t0: datetime, start: float) -> None:
        super().__init__(t0)
        self._now = start


class ResumedWallClock(WallClock):
    """Wall time at `speed` whose run time starts at `start` (seconds since T0), not at T0."""

    def __init__(self, speed: float, t0: datetime, start: float) -> None:
        super().__init__(speed, t0=t0)
        self._base = start


# ── what a crash left ──────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class LeakFacts:
    """Where the key leaked, read back from the public URL `run.started` recorded."""

    public_url: str
    leak_commit: str
    leak_path: str

    @classmethod
    def from_url(cls, public_url: str, remote: Path | None = None) -> LeakFacts:
        """The leak of a blob URL (commit and path), or of a release asset's download URL
        (`…/releases/download/TAG/ASSET`: the asset's name, and the commit the tag names in
        `remote` while the tag is still there — the key was never committed)."""
        _, asset, download = public_url.partition("/releases/download/")
        tag, _, name = download.partition("/")
        if asset and tag and name:
            commit = ""
            if remote is not None and remote.is_dir():
                shown = run_git(
                    ["rev-parse", "--verify", "-q", f"refs/tags/{unquote(tag)}^{{commit}}"],
                    remote, check=False,
                )  # fmt: skip
                commit = shown.stdout.decode().strip() if shown.returncode == 0 else ""
            return cls(public_url, commit, unquote(name))
        _, found, rest = public_url.partition("/blob/")
        commit, _, path = rest.partition("/")
        if not found or not commit or not path:
            raise UserError(f"run.started names no leak commit in its public URL {public_url!r}")
        return cls(public_url, commit, unquote(path))


@dataclass(frozen=True)
class Crash:
    """A crashed run, read and checked: its journal, its vault, where its clock stopped."""

    run: RunDir
    events: list[Event]
    started: Event
    vault: dict[int, dict[str, Any]]
    from_t: float

    @property
    def t0(self) -> datetime:
        return datetime.fromisoformat(str(self.started["t0"]).replace("Z", "+00:00"))

    @property
    def responder_spec(self) -> str:
        """`--responder` as the run was given it."""
        name = str(self.started.get("responder") or "human")
        return name.removeprefix("runbook:")


_GONE_GRACE_S = 2.0


def inspect_crash(run: RunDir) -> Crash:
    """Read a run that stopped without `run.ended`; UserError when it cannot be recovered."""
    if not run.journal.exists():
        raise UserError(f"{run.path}: no journal — the run never started; start it again")
    status = run.status()
    # A run's process goes at once with the command that started it, but not in the same
    # instant when a warm-start worker played it (`gameday.warm_start`): a moment's grace.
    deadline = time.monotonic() + _GONE_GRACE_S
    while status.get("alive") and time.monotonic() < deadline:
        time.sleep(0.02)
        status = run.status()
    if status.get("alive"):
        raise UserError(
            f"{run.path}: the run is still running (pid {status.get('pid')}) — "
            f"`gameday end {run.path}` ends it; recover only a run whose process is gone"
        )
    vault_path = run.path / VAULT_FILE
    mend_tail(run.journal)
    if vault_path.exists():
        mend_tail(vault_path)
    events = read_journal(run.journal)
    started = next((e for e in events if e["kind"] == "run.started"), None)
    if started is None:
        raise UserError(f"{run.path}: the run stopped before T0 — start it again")
    ended = next((e for e in events if e["kind"] == "run.ended"), None)
    if ended is not None:
        raise UserError(
            f"{run.path}: the run ended ({ended.get('reason')}) — nothing to recover; "
            f"`gameday score {run.path}` re-scores it"
        )
    vault = read_vault(vault_path) if vault_path.exists() else {}
    for event in events:
        if _replayable(event) and vault.get(int(event.get("vault") or 0)) is None:
            raise UserError(
                f"{run.journal}: event {event['seq']} ({event.get('service')}:"
                f"{event.get('action')}) has no entry in {vault_path} — the vault is missing "
                "or damaged, and the mock cannot be rebuilt without it"
            )
    return Crash(run, events, started, vault, max(float(e["t"]) for e in events))


def _replayable(event: Event) -> bool:
    """An api.call that changed the mock: it succeeded and is not read-only."""
    return (
        event["kind"] == "api.call"
        and int(event.get("status") or 500) < 400
        and not is_read_only(str(event.get("service")), str(event.get("action")))
    )


# ── the recovery ───────────────────────────────────────────────────────────────────────────


@dataclass
class Progress:
    """What the rebuild did, for `run.recovered`."""

    replayed: int = 0
    reopened: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    resumed_at: str | None = None  # where a replay responder goes on


def recover_run(
    run: RunDir,
    console: Console,
    *,
    by: str,
    smtp: SmtpOptions | None = None,
    webhook_url: str | None = None,
    templates: Path | None = None,
    live: bool | None = None,
    dashboard: bool = False,
    token: str | None = None,
) -> RunResult:
    """Take a crashed run over where it stopped and play it to its end, score and reports.

    `token` is the run's facilitator token, which the recovered run keeps; without it the
    run issues a new one (and shows it on the console), the old one no longer works.
    """
    crash = inspect_crash(run)
    spec = crash.responder_spec
    path = spec.removeprefix("replay:")
    if spec != "human" and not Path(path).exists():
        raise UserError(
            f"{path}: the run's responder is not there — recover from the folder the run "
            "was started in"
        )
    started = crash.started
    options = RunOptions(
        team=str(started["team"]),
        out=run.path,
        clock="virtual" if started["clock"] == "virtual" else "wall",
        speed=float(started["speed"]),
        responder=spec,
        seed=int(started["seed"]),
        smtp=smtp,
        webhook_url=webhook_url,
        templates=templates,
        live=live,
        dashboard=dashboard,
        facilitator_token=token,
    )
    scenario = load_scenario(run.scenario)
    resumption: Resumption
    if options.clock == "virtual":
        outside = events_from_outside(crash.events)
        if outside is None:
            replay = Replay(crash, options, by=by, console=console)
            replay.prepare()
            try:
                return run_exercise(run.scenario, options, console, resume=replay)
            except BaseException:
                replay.abandon()
                raise
        console.print(
            f"event {outside['seq']} ({outside['kind']}) came from outside the run (a command "
            "from a terminal or the dashboard, a line written by another process), which a "
            "replay from T0 cannot place: the mock is rebuilt at the crash point instead",
            markup=False,
        )
    resumption = Recovery(crash, scenario, options, by=by, console=console)
    return run_exercise(run.scenario, options, console, resume=resumption)


# ── a virtual run, played again from T0 ───────────────────────────────────────────────────

# Channels whose injects act on the mock (a policy attached, a case opened, an event put on
# EventBridge): a replay sends them again, for the mock needs them. The others reach people
# (the Maildir, SMTP, a webhook, the call scripts, the facilitator's console) and did once:
# a replay renders them again and takes what sending them did from the journal.
MOCK_CHANNELS = frozenset({"quarantine", "support-case", "health-event"})
PEOPLE_CHANNELS = frozenset({"email", "phone-call", "webhook", "console"})

# What a replay builds again, set aside meanwhile in ASIDE: the clone, the "public" remote
# and the code host's state, as the crash left them.
ASIDE = ".before-replay"
REBUILT = (CLONE_NAME, REMOTE_NAME, HOST_STATE_NAME, HOST_LOCK_NAME, HOST_FILES_NAME)

# Events no participant of a run journals: commands from a terminal or the dashboard (they
# carry `via`) or refused, the clock paused, an inject fired early, a foreign line.
_OUTSIDE_KINDS = frozenset(
    {"mark", "control.refused", "run.paused", "run.resumed", "inject.forced", "journal.foreign"}
)
_COMMON_FIELDS = frozenset({"seq", "t", "time", "kind", "wall"})


def events_from_outside(events: Iterable[Event]) -> Event | None:
    """The first event of a run that came from outside its participants, if any.

    A replay plays the run's own participants again — the timeline, the attacker, the
    workload, the responder — and they journal what they journaled; where a command typed
    during the run fell among their events is known from the journal but could not be
    found again, so a run with one is rebuilt at the crash point instead. So is a run an
    earlier recovery rebuilt rather than replayed.
    """
    for event in events:
        kind = event["kind"]
        if event.get("deferred") or kind in _OUTSIDE_KINDS:
            return event
        # a command's `via` (cli, dashboard); a purge's `via: support` names who did it, and
        # one the responder asked for during the run is its own act, done again in a replay
        if "via" in event and not kind.startswith("repo."):
            return event
        if kind == "error" and str(event.get("source") or "").startswith("control "):
            return event
        if kind == "run.recovered" and event.get("mode") != "replay":
            return event
    return None


@dataclass(frozen=True)
class Divergence:
    """Where a replay went another way than the journal: the event it expected, and its own."""

    expected: Event
    replayed: Event

    def message(self, run: RunDir) -> str:
        expected, replayed = _comparable(self.expected), _comparable(self.replayed)
        fields = [
            name
            for name in sorted(set(expected) | set(replayed))
            if name != "seq" and expected.get(name) != replayed.get(name)
        ]
        where = f"event {self.expected['seq']} (run time {self.expected['t']}s)"
        if self.replayed["kind"] == "run.ended":
            return (
                f"{run.journal}: the replay ended ({self.replayed.get('reason')}) at run time "
                f"{self.replayed['t']}s, before it reached {where}; the run directory is as the "
                "crash left it — run `gameday recover` again"
            )
        return (
            f"{run.journal}: played again from T0, the run went another way at {where}: "
            f"the journal has {_summary(self.expected)}, the replay {_summary(self.replayed)} "
            f"(differing: {', '.join(fields)}). Has the runbook, the scenario or gameday changed "
            "since the run started, or does the runbook read the real time or draw random "
            "numbers? The run directory is as the crash left it."
        )


def _comparable(event: Event) -> Event:
    """An event as the journal holds it (JSON), without the real time it was written."""
    loaded: Event = json.loads(json.dumps(without_wall_clock(event), default=str))
    return loaded


def _summary(event: Event) -> str:
    kind = str(event["kind"])
    if kind == "api.call":
        return (
            f"api.call {event.get('actor')} {event.get('service')}:{event.get('action')} "
            f"{event.get('status')} at {event['t']}s"
        )
    detail = event.get("inject") or event.get("check") or event.get("text") or ""
    return f"{kind} {str(detail)[:60]} at {event['t']}s".replace("  ", " ")


class ReplayJournal(Journal):
    """The journal of a run played again from T0: up to the crash point it checks, not writes.

    Each event the replay journals is compared with the next one the journal holds
    (wall-clock fields aside): the same, it is numbered as then and handed to the listeners
    (the live score, CloudTrail's history, the facilitator's view) but not written again;
    different, the replay has diverged (`divergence`, `on_divergence`) and writes nothing more.
    Once the last event the journal held has been played again the journal is `live`:
    `run.recovered` (the fields `caught_up` returns) is written, and every event after it.
    """

    def __init__(
        self,
        path: Path,
        clock: Clock,
        expected: Iterable[Event],
        *,
        caught_up: Callable[[int], dict[str, Any]],
        on_divergence: Callable[[Divergence], None],
    ) -> None:
        super().__init__(path, clock)
        self._pending = deque(expected)
        self._caught_up = caught_up
        self._on_divergence = on_divergence
        self._replay_lock = threading.RLock()
        self.replayed = 0
        self.live = False
        self.divergence: Divergence | None = None

    @property
    def replaying(self) -> bool:
        """Still playing the part the journal holds (and not gone astray)."""
        return not self.live and self.divergence is None

    def expected(self, kind: str, **match: Any) -> Event | None:
        """The first event still to be played again of `kind` with the fields `match`."""
        with self._replay_lock:
            for event in self._pending:
                if event["kind"] == kind and all(event.get(k) == v for k, v in match.items()):
                    return event
        return None

    def append(self, kind: str, *, t: float | None = None, **fields: Any) -> Event:
        replayed: tuple[Event, bool] | None = None
        with self._replay_lock:
            if not self.live and (self._pending or self.divergence is not None):
                replayed = self._replay(kind, t, fields)
            else:
                self._go_live()
        if replayed is None:
            return super().append(kind, t=t, **fields)
        event, matched = replayed
        if matched:
            for listener in list(self._listeners):
                listener(event)
            with self._replay_lock:
                if not self._pending:
                    self._go_live()
        elif self.divergence is not None and self.divergence.replayed is event:
            self._on_divergence(self.divergence)
        return event

    def _go_live(self) -> None:
        """Caught up (with the replay lock held): journal `run.recovered` once, then live."""
        if not self.live:
            self.live = True
            Journal.append(self, "run.recovered", **self._caught_up(self.replayed))

    def _replay(self, kind: str, t: float | None, fields: Mapping[str, Any]) -> tuple[Event, bool]:
        """Check one event of the replay against the journal (with the replay lock held)."""
        when = self.clock.now() if t is None else t
        expected = self._pending[0] if self.divergence is None else None
        event: Event = {
            "seq": expected["seq"] if expected is not None else None,
            "t": round(when, 3),
            "time": iso(time_at(self.clock, when)),
            "kind": kind,
            **fields,
            "wall": iso(datetime.now(UTC)),
        }
        if expected is None:
            return event, False  # gone astray: nothing more is checked or written
        if _comparable(event) != _comparable(expected):
            self.divergence = Divergence(expected, event)
            return event, False
        self._pending.popleft()
        self.replayed += 1
        # An earlier recovery's mark is no event of the run: nothing plays it again.
        while self._pending and self._pending[0]["kind"] == "run.recovered":
            self._pending.popleft()
        return event, True


class ReplayVault(Vault):
    """The vault of a run played again: the entries it holds are numbered again, not written.

    Entries past those, while the journal is still replaying, belong to a replay that has
    gone astray and are not written either; once it is live, they are the run's new ones.
    """

    def __init__(self, path: Path, live: Callable[[], bool]) -> None:
        super().__init__(path)
        self._kept, self._entries = self._entries, 0
        self._live = live

    def append(self, record: Mapping[str, Any]) -> int:
        with self._lock:
            if self._entries < self._kept or not self._live():
                self._entries += 1
                return self._entries
        return super().append(record)


class _FromCrash:
    """What both ways of going on from a crash share: the crash, its run, the clock."""

    crash: Crash
    _clock: Clock

    @property
    def run(self) -> RunDir:
        return self.crash.run

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def leak(self) -> LeakFacts:
        return LeakFacts.from_url(str(self.crash.started["public_url"]), self.run.remote)


class Replay(_FromCrash):
    """The `Resumption` of a crashed virtual-time run: it is played again from T0.

    A virtual run is a pure function of its scenario, seed and responder, so playing it
    again — the repository built again, a fresh mock seeded as before, the timeline, the
    attacker, the workload and the responder (a runbook from its first line) started
    afresh on a virtual clock at T0 — brings everything back as it was at the crash: the
    mock with every id it drew, the runbook's variables, what the attacker holds, the
    order of things at one instant. The journal is the check (`ReplayJournal`): every
    event is compared with the one it holds, and a difference stops the recovery with a
    clear error. Injects that reached people are not sent again (`deliver`); the vault's
    entries are not written again (`ReplayVault`). At the crash point the journal goes
    live, `run.recovered` is journaled, and the run goes on.
    """

    replays = True

    def __init__(self, crash: Crash, options: RunOptions, *, by: str, console: Console) -> None:
        self.crash = crash
        self.options = options
        self.by = by
        self.console = console
        self._clock = VirtualClock(crash.t0)
        self._journal: ReplayJournal | None = None
        self._timeline: Timeline | None = None
        self._stop = threading.Event()

    @property
    def world_clock(self) -> Clock:
        return self._clock

    @property
    def stream(self) -> str:
        return ""  # the same run: the same tokens and ids

    @property
    def live(self) -> bool:
        return self._journal is not None and self._journal.live

    # ── the run directory ─────────────────────────────────────────────────────────────────

    def prepare(self) -> None:
        """Set aside what the replay builds again, and cut the vault to what the journal names.

        The clone, the remote and the code host's state wait in ASIDE until the replay has
        caught up with the journal, and come back if it does not. An ASIDE already there is
        from a replay that never caught up: it holds what the crash left, and stays.
        """
        run, room = self.run.path, self.run.team  # the clone and the remote are the team's
        aside = run / ASIDE
        if aside.is_dir():
            for name in REBUILT:
                _remove(room / name)
        else:
            aside.mkdir(mode=0o700)
            for name in REBUILT:
                if (room / name).exists() or (room / name).is_symlink():
                    (room / name).rename(aside / name)
        vault = run / VAULT_FILE
        if vault.exists():
            named = max((int(e["vault"]) for e in self.crash.events if e.get("vault")), default=0)
            _keep_entries(vault, named)

    def abandon(self) -> None:
        """Put the run directory back as the crash left it, unless the replay went live."""
        if self.live:
            return
        room = self.run.team
        aside = self.run.path / ASIDE
        if not aside.is_dir():
            return
        for name in REBUILT:
            _remove(room / name)
            if (aside / name).exists() or (aside / name).is_symlink():
                (aside / name).rename(room / name)
        shutil.rmtree(aside, ignore_errors=True)
        self.run.write_status(state="crashed")

    # ── the Resumption ────────────────────────────────────────────────────────────────────

    def journal(self, clock: Clock) -> Journal:
        self._journal = ReplayJournal(
            self.run.journal,
            clock,
            self.crash.events,
            caught_up=self._caught_up,
            on_divergence=self._diverged,
        )
        return self._journal

    def vault(self) -> Vault:
        return ReplayVault(self.run.path / VAULT_FILE, live=lambda: self.live)

    def rebuild(
        self, account: MockAccount, journal: Journal, evaluator: Evaluator, responder: Responder
    ) -> None:
        self.console.print(
            f"playing the run again from T0 to run time {self.crash.from_t:g}s, checked "
            f"against its {len(self.crash.events)} journaled events …"
        )

    def restore(
        self, timeline: Timeline, bus: InjectBus, attacker: Attacker, account: MockAccount
    ) -> None:
        self._timeline = timeline
        if self._stop.is_set():
            timeline.stop()

    def deliver(self, inject: Inject, context: InjectContext) -> Delivered:
        """Fire an inject; one that reached people before the crash is not sent again."""
        journal = self._journal
        if inject.type in MOCK_CHANNELS or journal is None or journal.live:
            return deliver(inject, context)
        channel = REGISTRY.get(inject.type)
        t = context.clock.now()
        rendered = channel.render(inject, context.scene(t)).delivered
        journaled = journal.expected("inject.delivered", inject=inject.id) or {}
        delivered = replace(rendered, data={**rendered.data, **(journaled.get("data") or {})})
        fields = delivered.to_event_fields()
        sent = {k: v for k, v in journaled.items() if k not in _COMMON_FIELDS and k not in fields}
        context.journal.append("inject.delivered", t=t, **fields, **sent)
        return delivered

    def finish(self) -> None:
        journal = self._journal
        if journal is not None and journal.divergence is not None:
            raise UserError(journal.divergence.message(self.run))
        if not self.live:
            raise UserError(
                f"{self.run.journal}: the replay stopped before it reached the crash point; the "
                "run directory is as the crash left it — run `gameday recover` again"
            )

    # ── from the journal ──────────────────────────────────────────────────────────────────

    def _caught_up(self, replayed: int) -> dict[str, Any]:
        shutil.rmtree(self.run.path / ASIDE, ignore_errors=True)
        reopened = sum(1 for e in self.crash.events if e["kind"] == "support.case-opened")
        self.console.print(
            f"caught up at run time {self.crash.from_t:g}s: {replayed} event(s) played again "
            "as journaled; the run goes on"
        )
        return {
            "t": self.crash.from_t,
            "from_t": self.crash.from_t,
            "mode": "replay",
            "replayed": replayed,
            "reopened": reopened,
            "failed": [],
            "resumed_at": None,
            "by": self.by,
        }

    def _diverged(self, divergence: Divergence) -> None:
        self._stop.set()
        if self._timeline is not None:
            self._timeline.stop()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _keep_entries(vault: Path, last: int) -> None:
    """Cut the vault after entry `last`: later ones belong to calls the crash kept unjournaled."""
    with vault.open("rb") as lines:
        kept = [line for line in lines if int(json.loads(line)["entry"]) <= last]
    temporary = vault.with_name(vault.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as rewritten:
        rewritten.writelines(kept)
        rewritten.flush()
        os.fsync(rewritten.fileno())
    os.replace(temporary, vault)


class Recovery(_FromCrash):
    """The `Resumption` of one crashed run (gameday.exercise.run) that rebuilds the mock at
    the crash point: wall-clock runs, and virtual ones a replay cannot play again."""

    replays = False

    def __init__(
        self, crash: Crash, scenario: Scenario, options: RunOptions, *, by: str, console: Console
    ) -> None:
        self.crash = crash
        self.scenario = scenario
        self.options = options
        self.by = by
        self.console = console
        self.progress = Progress()
        self._world_clock = FixedClock(crash.t0)
        self._clock: Clock = (
            ResumedVirtualClock(crash.t0, crash.from_t)
            if options.clock == "virtual"
            else ResumedWallClock(options.speed, crash.t0, crash.from_t)
        )
        self._minted: dict[str, Credential] = {}

    @property
    def world_clock(self) -> FixedClock:
        return self._world_clock

    @property
    def stream(self) -> str:
        # Idempotency tokens and moto's ids drawn again from the start would repeat those of
        # the crashed run (a repeated ClientRequestToken is the same secret version).
        return f":recovered-at:{self.crash.from_t}"

    def journal(self, clock: Clock) -> Journal:
        return Journal(self.run.journal, clock)

    def vault(self) -> Vault:
        return Vault(self.run.path / VAULT_FILE)

    def deliver(self, inject: Inject, context: InjectContext) -> Delivered:
        return deliver(inject, context)

    def finish(self) -> None:
        return None

    # ── the world ─────────────────────────────────────────────────────────────────────────

    def rebuild(
        self, account: MockAccount, journal: Journal, evaluator: Evaluator, responder: Responder
    ) -> None:
        events = self.crash.events
        replay = responder if isinstance(responder, ReplayResponder) else None
        done, saving = _replay_progress(replay.steps, events) if replay else (0, {})
        saved: dict[str, Any] = {}
        gateway = account.gateway
        gateway.recording, gateway.replaying = False, True
        try:
            notices: list[Delivered] = []
            for event in events:
                self._world_clock.t = float(event["t"])
                self._redo(account, event, notices)
                step = saving.get(int(event["seq"]))
                if step is not None and step.save is not None:
                    response = self._saved_response(account, event, step, saved, notices)
                    if response is not None:
                        saved[step.save] = response
        finally:
            gateway.recording, gateway.replaying = True, False
        account.clock = self._clock
        gateway.clock = self._clock
        mock_random.seed(f"gameday-ids:{self.options.seed}{self.stream}")
        for event in events:
            account.trail.record(event)
            if event["kind"] != "check.changed":
                evaluator.observe(event)
        if isinstance(responder, RunbookResponder | ReplayResponder):
            responder.finished = any(e["kind"] == "responder.finished" for e in events)
        if replay is not None:
            replay.saved.update(saved)
            remaining = replay.steps[done:]
            replay.steps = remaining
            self.progress.resumed_at = remaining[0].origin if remaining else None
        journal.append(
            "run.recovered",
            t=self.crash.from_t,
            from_t=self.crash.from_t,
            mode="rebuild",
            replayed=self.progress.replayed,
            reopened=self.progress.reopened,
            failed=self.progress.failed,
            resumed_at=self.progress.resumed_at,
            by=self.by,
        )
        self.console.print(
            f"recovered at run time {self.crash.from_t:.0f}s: {self.progress.replayed} "
            f"call(s) replayed, {self.progress.reopened} support case(s) reopened"
            + (
                f", {len(self.progress.failed)} thing(s) not redone (see run.recovered)"
                if self.progress.failed
                else ""
            )
        )

    def _redo(self, account: MockAccount, event: Event, notices: list[Delivered]) -> None:
        kind = event["kind"]
        if kind == "api.call" and _replayable(event):
            self._replay_call(account, event)
        elif kind == "inject.delivered":
            notices.append(Delivered.from_event(event))
        elif kind == "support.case-opened":
            self._reopen_case(account, event)
        elif kind == "support.communication-added":
            if event.get("body") is None:
                self.progress.failed.append(
                    {"seq": event["seq"], "kind": kind, "reason": "the journal lacks the text"}
                )
            else:
                account.support.add_communication(
                    str(event["case_id"]), str(event["body"]), str(event.get("submitted_by"))
                )
        elif kind == "workload.probe" and event.get("access_key_id"):
            account.register_key(str(event["access_key_id"]), "workload")

    def _replay_call(self, account: MockAccount, event: Event) -> None:
        service, action = str(event["service"]), str(event["action"])
        entry = self.crash.vault[int(event["vault"])]
        request = entry["request"]
        if event.get("actor") == "framework":
            request = _as_framework(account, request)
        with _pinned_ids(service, action, event.get("result") or {}):
            status, body = _send(account, request)
        if status >= 400:
            self.progress.failed.append(
                {"seq": event["seq"], "service": service, "action": action, "status": status}
            )
            return
        self.progress.replayed += 1
        minted = _minted(vault_body(entry["response"]))
        drawn = _MINTED_KEY_ID.search(body)
        if minted is not None and drawn is not None:
            _adopt(drawn.group(1).decode(), minted)
            self._minted[minted.access_key_id] = Credential(
                minted.access_key_id, minted.secret_access_key
            )
            actor = event.get("actor")
            if actor in ACTORS:
                account.gateway.registry.inherit(minted.access_key_id, actor)

    def _reopen_case(self, account: MockAccount, event: Event) -> None:
        case_id = str(event["case_id"])
        # The first correspondence is the support-case inject's body; a case opened some
        # other way still comes back under its ids, its subject standing for its text.
        body = _case_body(self.crash.events, case_id)
        account.support.open_case(
            str(event["subject"]),
            body if body is not None else str(event["subject"]),
            str(event.get("severity") or "urgent"),
            submitted_by=str(event.get("submitted_by")),
            case_id=case_id,
            display_id=str(event["display_id"]),
        )
        self.progress.reopened += 1

    def _saved_response(
        self,
        account: MockAccount,
        event: Event,
        step: ReplayStep,
        saved: Mapping[str, Any],
        notices: list[Delivered],
    ) -> Any:
        """What the replay's `save:` kept for a done action, as it was at the action's time."""
        if step.aws is None or int(event.get("status") or 500) >= 400:
            return None  # refused then: the replay kept nothing
        if event.get("vault") is not None:
            return _parsed(step.aws.service, step.aws.action, self.crash.vault[event["vault"]])
        call = step.aws
        try:
            if step.template is not None:
                filled = fill_templates(step.template, notice_facts(saved, notices))
                call = aws_call(call.service, call.action, call.region, filled)
            session = account.session(account.responder.credential, framework_client=False)
            client = session.client(call.service, region_name=call.region)
            methods = {api: name for name, api in client.meta.method_to_api_mapping.items()}
            return getattr(client, methods[call.action])(**call.params)
        except (TemplateError, UnknownCall, ClientError, BotoCoreError):
            return None

    # ── what already happened ─────────────────────────────────────────────────────────────

    def restore(
        self,
        timeline: Timeline,
        bus: InjectBus,
        attacker: Attacker,
        account: MockAccount,
    ) -> None:
        events = self.crash.events
        from_t = self.crash.from_t
        pending = timeline.pending()
        known = {p.id for p in pending}
        periodic = [p.id for p in pending if p.every is not None]
        attacks = [p.id for p in pending if p.kind == "attacker" and p.every is None]
        last_fired: dict[str, float] = {}
        settled: set[str] = set()

        def settle(entry: str, t: float, outcome: Any = "fired") -> None:
            if entry in known and entry not in settled:
                timeline.restore(entry, t, outcome)
                settled.add(entry)
                if entry in attacks:
                    attacks.remove(entry)

        context = attacker.context
        window = self.scenario.attacker.consistency_window
        for event in events:
            kind, t = event["kind"], float(event["t"])
            if kind == "inject.delivered":
                settle(str(event["inject"]), t)
                bus.publish(Delivered.from_event(event))
                if event.get("type") == "quarantine" and from_t < t + window:
                    account.gateway.delay_denies(self.scenario.leak.user, t + window - from_t)
            elif kind == "inject.skipped":
                settle(str(event["inject"]), t, "skipped")
            elif kind == "error":
                entry = str(event.get("source") or "").partition(" ")[2]
                if entry in periodic:
                    last_fired[entry] = t
                else:
                    settle(entry, t, "failed")
            elif kind == "workload.probe":
                last_fired[WORKLOAD_ENTRY] = t
            elif kind == "attacker.technique":
                if not event.get("repeat") and attacks:
                    settle(attacks[0], t)
                for created in event.get("created") or []:
                    resource = Resource(**created)
                    context.resources.append(resource)
                    minted = self._minted.get(resource.id)
                    if resource.kind == "access-key" and minted is not None:
                        context.add_credential(minted)
            elif (
                kind == "api.call"
                and event.get("actor") == "attacker"
                and event.get("error_code") in DEAD_CREDENTIAL_CODES
            ):
                context.dead.add(str(event.get("access_key_id")))
        for entry in periodic:
            # The workload journals every probe; the others fire unseen, so they resume on
            # their first period after the recovery time.
            t = last_fired.get(entry, from_t) if entry == WORKLOAD_ENTRY else from_t
            timeline.restore(entry, t)


# ── replaying one call ─────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Minted:
    access_key_id: str
    secret_access_key: str
    session_token: str | None


def _minted(body: bytes) -> Minted | None:
    """The credentials an answer hands out (CreateAccessKey, AssumeRole …), if any."""
    key, secret = _MINTED_KEY_ID.search(body), _MINTED_SECRET.search(body)
    if key is None or secret is None:
        return None
    token = _MINTED_TOKEN.search(body)
    return Minted(
        key.group(1).decode(), secret.group(1).decode(), token.group(1).decode() if token else None
    )


def _adopt(drawn_id: str, minted: Minted) -> None:
    """The key moto has just drawn takes the id and secret it had in the run."""
    found = find_access_key(drawn_id)
    if found is None:
        return
    account_id, key = found
    keys = iam_backend(account_id).access_keys
    keys.pop(drawn_id, None)
    key.access_key_id = minted.access_key_id
    key.secret_access_key = minted.secret_access_key
    keys[minted.access_key_id] = key
    from moto.sts.models import sts_backends

    sts = dict.get(sts_backends[account_id], "aws")
    for role in getattr(sts, "assumed_roles", []):
        if role.access_key_id == drawn_id:
            role.access_key_id = minted.access_key_id
            role.secret_access_key = minted.secret_access_key
            role.session_token = minted.session_token or role.session_token


@contextmanager
def _pinned_ids(service: str, action: str, result: Mapping[str, Any]) -> Iterator[None]:
    """While replaying a call, moto draws the ids the journal recorded for what it created."""
    target = _PINNED_IDS.get((service, action))
    recorded = list(result.get(target[2]) or []) if target is not None else []
    if target is None or not recorded:
        yield
        return
    module = importlib.import_module(target[0])
    draw: Callable[[], str] = getattr(module, target[1])
    queue = iter(recorded)
    setattr(module, target[1], lambda: next(queue, None) or draw())
    try:
        yield
    finally:
        setattr(module, target[1], draw)


_SIGV4 = re.compile(
    r"Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),"
)


def _environ_name(header: str) -> str:
    name = header.upper().replace("-", "_")
    return name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"


def _as_framework(account: MockAccount, request: Mapping[str, Any]) -> dict[str, Any]:
    """A framework request of the crashed run, signed as this process's framework signs.

    The same headers are signed at the same request time (`X-Amz-Date`), with this
    process's framework credential, and the framework client's token goes with it.
    """
    headers = {str(k): str(v) for k, v in (request.get("headers") or {}).items()}
    scope = _SIGV4.search(headers.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return dict(request)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    host = f"{account.address[0]}:{account.address[1]}"
    headers["HTTP_HOST"] = host
    headers["HTTP_X_GAMEDAY_CLIENT"] = account.token
    body = vault_body(request)
    if "CONTENT_LENGTH" in headers:
        headers["CONTENT_LENGTH"] = str(len(body))
    # The gateway keeps none of the framework client's own headers but its token: sign what
    # the request carries now.
    signed = [name for name in scope.group("signed").split(";") if _environ_name(name) in headers]
    query = str(request.get("query") or "")
    unsigned = AWSRequest(
        method=str(request["method"]),
        url=f"http://{host}{request['path']}" + (f"?{query}" if query else ""),
        headers={name: headers[_environ_name(name)] for name in signed},
        data=body,
    )
    unsigned.context["timestamp"] = headers.get("HTTP_X_AMZ_DATE", "")
    credential = account.framework_credential
    signer = SigV4Auth(
        Credentials(credential.access_key_id, credential.secret_access_key),
        scope.group("service"),
        scope.group("region"),
    )
    signer._modify_request_before_signing(unsigned)
    canonical = signer.canonical_request(unsigned)
    signer._inject_signature_to_request(
        unsigned, signer.signature(signer.string_to_sign(unsigned, canonical), unsigned)
    )
    headers["HTTP_AUTHORIZATION"] = str(unsigned.headers["Authorization"])
    return {**request, "headers": headers}


def _send(account: MockAccount, request: Mapping[str, Any]) -> tuple[int, bytes]:
    """Serve a recorded request through the gateway, in this thread; status and body."""
    host, port = account.address
    body = vault_body(request)
    headers = dict(request.get("headers") or {})
    headers.pop("HTTP_TRANSFER_ENCODING", None)  # the vault keeps the body as it arrived
    environ: dict[str, Any] = {
        "REQUEST_METHOD": str(request["method"]),
        "SCRIPT_NAME": "",
        "PATH_INFO": str(request["path"]),
        "QUERY_STRING": str(request["query"]),
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        **headers,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    status: list[int] = []

    def start_response(line: str, _headers: list[tuple[str, str]], _exc: Any = None) -> Any:
        status.append(int(line.split(" ", 1)[0]))
        return lambda _chunk: None

    answer = account.gateway(environ, start_response)
    return (status[0] if status else 500), b"".join(answer)


@functools.cache
def _service_model(service: str) -> Any:
    return bare_botocore_session().get_service_model(service)


def _parsed(service: str, action: str, entry: Mapping[str, Any]) -> Any:
    """A vault entry's answer as boto3 returns it."""
    model = _service_model(service)
    response = entry["response"]
    parser = botocore.parsers.create_parser(model.metadata["protocol"])
    return parser.parse(
        {
            "status_code": int(response["status"]),
            "headers": HeadersDict([(str(k), str(v)) for k, v in response["headers"]]),
            "body": vault_body(response),
        },
        model.operation_model(action).output_shape,
    )


def _case_body(events: list[Event], case_id: str) -> str | None:
    """The first correspondence of a case the framework opened: its inject's body."""
    for event in events:
        data = event.get("data") or {}
        if (
            event["kind"] == "inject.delivered"
            and event.get("type") == "support-case"
            and case_id in (data.get("case_reference"), data.get("case_id"))
        ):
            return str(event.get("body") or "")
    return None


# ── the replay responder's progress ───────────────────────────────────────────────────────


def _replay_progress(
    steps: list[ReplayStep], events: list[Event]
) -> tuple[int, dict[int, ReplayStep]]:
    """How many of a replay's steps are done, and the done steps that saved a response by
    the journal event their call made.

    The replay acts in order, so the last step the journal shows done ends the done part
    (actions before it that left no event — a repository already private — are done too).
    Events are matched to steps in order, each to the first step not yet matched that does
    the same thing and was due by then; events of no step (a retried request, a note from
    another terminal) are passed over.
    """
    done = 0
    saving: dict[int, ReplayStep] = {}
    for event in events:
        if event["kind"] not in _RESPONDER_ACTS:
            continue
        t = float(event["t"])
        for index in range(done, len(steps)):
            step = steps[index]
            if step.at > t + _TIME_EPSILON:
                break
            if _does(step, event):
                done = index + 1
                if step.save is not None and event["kind"] == "api.call":
                    saving[int(event["seq"])] = step
                break
    return done, saving


_RESPONDER_ACTS = frozenset({"api.call", "note", "responder.error", *REPO_EVENT_ACTIONS})


def _does(step: ReplayStep, event: Event) -> bool:
    """Whether `event` is what `step` journals when it is done."""
    kind = event["kind"]
    if kind == "responder.error":
        return str(event.get("message") or "").startswith(f"{step.origin}:")
    if kind == "note":
        return (
            step.note is not None
            and event.get("actor") == "responder"
            and (event.get("text") == step.note)
        )
    if kind in REPO_EVENT_ACTIONS:
        return step.repo == REPO_EVENT_ACTIONS[kind]
    if kind == "api.call" and step.aws is not None and event.get("actor") == "responder":
        return event.get("action") == step.aws.action and (
            step.aws.region is None or event.get("region") == step.aws.region
        )
    return False
