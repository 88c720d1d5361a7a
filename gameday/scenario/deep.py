"""`gameday validate --deep`: a scenario played before the room plays it.

The static checks read the file; these play it, in virtual time, twice — once with a
responder that does nothing, once with the reference runbook (`runbooks/reference.py`, the
runbook every team copies) — and read the two journals and scores for what would spoil the
game day:

- an attacker technique that can only fail: every call it makes is refused, though the
  leaked key worked at the push (a key already dead at the push is a false alarm's story);
- a step met before anyone acts: its check holds at detection, or at the end, when nobody
  did anything (a `keep` step is meant to; a manual step waits for the facilitator);
- a step no play meets: not even the reference runbook (manual steps aside; a step held back
  only by its `after` order is reported at `after`);
- a `before_step` that can never hold: the step it names is met before anyone acts;
- an inject that reaches nobody: it never fires in either play, or fires and is dropped
  (a webhook with nowhere to post, an email that cannot be sent);
- a reference run that misses its pass mark, even with every manual step marked (no runbook
  marks those: the facilitator does).

Each finding is a warning located at the scenario's field that causes it, through the same
`ScenarioCheck` shape `validate_scenario(…, warnings=…)` takes. The plays run in-process on
one warm mock account shared by every scenario a `DeepValidator` sees (as `run-many` shares
it), in a temporary folder removed afterwards. Validating sends nothing anywhere: emails
stay in the plays' mailboxes, and a webhook with a URL of its own is posted to a listener on
loopback instead (the scenario is played from a copy that says so).

This module plays exercises, so it reaches up into `gameday.exercise`; it does so inside
functions, and nothing in the scenario package imports it.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from gameday.journal import Event, read_journal
from gameday.paths import PROJECT_ROOT
from gameday.scenario.durations import format_duration
from gameday.scenario.loader import Loc, ScenarioCheck
from gameday.scenario.model import ApiCalled, Manual, Scenario
from gameday.scenario.timing import inject_times
from gameday.scoring.model import Score
from gameday.scoring.score import HELD_BY_ORDER
from gameday.world.decoys import leaked_key_active

if TYPE_CHECKING:
    from gameday.exercise.run import WarmMock

REFERENCE_RUNBOOK = PROJECT_ROOT / "runbooks" / "reference.py"
# The responder that does nothing: a replay of no action at all.
_NOTHING = "[]\n"
# How a delivery that reached nobody ends (a webhook with nowhere to post, a failed send).
_DROPPED = ("skipped", "failed")


@dataclass(frozen=True)
class Play:
    """One play of a scenario: its journal and its score."""

    events: list[Event]
    score: Score

    def held_since(self, step_id: str) -> float | None:
        """When the step's check last became true, if it holds at the end; else None."""
        since: float | None = None
        for event in self.events:
            if event["kind"] == "check.changed" and event.get("check") == f"step:{step_id}":
                since = float(event["t"]) if event.get("value") else None
        return since

    def deliveries(self) -> dict[str, list[Event]]:
        """The `inject.delivered` events of each inject id."""
        found: dict[str, list[Event]] = {}
        for event in self.events:
            if event["kind"] == "inject.delivered":
                found.setdefault(str(event.get("inject")), []).append(event)
        return found

    def techniques(self) -> list[Event]:
        """The first detonation of each planned technique, in the order they came."""
        return [e for e in self.events if e["kind"] == "attacker.technique" and not e.get("repeat")]


@dataclass(frozen=True)
class Plays:
    """The scenario played by nobody, and by the reference runbook."""

    idle: Play
    reference: Play
    runbook: str = field(default="runbooks/reference.py")


def findings(scenario: Scenario, plays: Plays) -> Iterator[tuple[Loc, str]]:
    """What the two plays show would spoil the game day, each at the field that causes it."""
    yield from _techniques_that_only_fail(scenario, plays.idle)
    unreachable_ok: set[str] = set()
    for loc, message, step_id in _before_steps_that_never_hold(scenario, plays):
        unreachable_ok.add(step_id)
        yield loc, message
    met_early: set[str] = set()
    for loc, message, step_id in _steps_met_before_anyone_acts(scenario, plays.idle):
        met_early.add(step_id)
        yield loc, message
    yield from _steps_nobody_reaches(scenario, plays, skip=unreachable_ok | met_early)
    yield from _injects_that_reach_nobody(scenario, plays)
    yield from _webhooks_nothing_listens_to(scenario)
    yield from _reference_fails(scenario, plays)


def _webhooks_nothing_listens_to(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """A webhook to a receiver on this machine that is not up: the plays post to a listener
    of their own, so only asking the address itself tells. Addresses elsewhere are not
    contacted (validating never reaches off the machine)."""
    for index, inject in enumerate(scenario.timeline):
        url = getattr(inject, "url", None)
        if inject.type != "webhook" or not isinstance(url, str):
            continue
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "localhost" and not _is_loopback(host):
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((host, port), timeout=1.0):
                continue
        except OSError as error:
            why = error.strerror or type(error).__name__
        yield (
            ("timeline", index, "url"),
            f"nothing answers at {url} now ({why.lower()}): unless its receiver is up when the "
            f"run starts, the post fails, inject '{inject.id}' tells nobody and detection waits "
            "for the next notice — start the receiver first, or fix the url",
        )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _techniques_that_only_fail(scenario: Scenario, idle: Play) -> Iterator[tuple[Loc, str]]:
    if not leaked_key_active(scenario):
        return  # a key dead at the push: every refused call is the story (a false alarm)
    detonated = idle.techniques()
    first_use = scenario.attacker.first_use
    planned = sorted(
        range(len(scenario.attacker.techniques)),
        key=lambda i: max(scenario.attacker.techniques[i].at, first_use),
    )
    taken: set[int] = set()
    for index in planned:
        spec = scenario.attacker.techniques[index]
        at = max(spec.at, first_use)
        event = next(
            (
                (n, e)
                for n, e in enumerate(detonated)
                if n not in taken
                and e.get("technique") == spec.technique
                and abs(float(e["t"]) - at) < 1e-6
            ),
            None,
        )
        if event is None:
            continue
        taken.add(event[0])
        outcome = event[1]
        succeeded, failed = int(outcome.get("succeeded") or 0), int(outcome.get("failed") or 0)
        if spec.refused:
            if not failed:
                yield (
                    ("attacker", "techniques", index, "refused"),
                    f"{spec.technique} at {format_duration(at)} is marked `refused: true` but "
                    "none of its calls is refused with nobody responding — "
                    + _why_not_refused(idle, outcome),
                )
            continue
        if succeeded or not failed:
            continue
        codes = [str(c) for c in outcome.get("error_codes") or []]
        shown = ", ".join(codes) or "refused"
        if codes and not set(codes) <= _DENIED:
            # refused by what the account holds, not by the quarantine: timing cannot help
            yield (
                ("attacker", "techniques", index, "technique"),
                f"{spec.technique} at {format_duration(at)} can only fail: even with nobody "
                f"responding, every call it makes is refused ({shown}), not by the quarantine "
                "but by what the account already holds (EntityAlreadyExists: what it creates "
                "exists, like a console password on a user with `console: true`) — aim it at "
                "something it can create, or mark it `refused: true` if its refusal is the story",
            )
            continue
        yield (
            ("attacker", "techniques", index, "at"),
            f"{spec.technique} at {format_duration(at)} can only fail: even with nobody "
            f"responding, every call it makes is refused ({shown}) — the quarantine (and "
            "attacker.consistency_window after it) already holds then; move it earlier or "
            "widen the window if the team is meant to find what it does, or mark it "
            "`refused: true` if its refusal is the story",
        )


# How AWS says no to a call a policy denies (the quarantine's, in these plays).
_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def _why_not_refused(play: Play, technique: Event) -> str:
    """What to do about a technique marked refused that was not: which key it signed with
    tells whether moving it can help."""
    started = next((e for e in play.events if e["kind"] == "run.started"), {})
    leaked = started.get("leaked_access_key_id")
    earlier = [
        e["seq"]
        for e in play.events
        if e["kind"] == "attacker.technique" and e["seq"] < technique["seq"]
    ]
    since = max(earlier, default=0)
    keys = {
        str(e.get("access_key_id"))
        for e in play.events
        if e["kind"] == "api.call"
        and e.get("actor") == "attacker"
        and since < e["seq"] < technique["seq"]
    }
    if leaked and keys and leaked not in keys:
        made = ", ".join(sorted(keys))
        return (
            f"it signs with a key the attacker made for itself ({made}), which the quarantine "
            "on the leaked key's user does not cover: drop the mark"
        )
    return "drop the mark, or move it after the quarantine and attacker.consistency_window"


def _steps_met_before_anyone_acts(scenario: Scenario, idle: Play) -> Iterator[tuple[Loc, str, str]]:
    for index, step in enumerate(scenario.steps):
        if step.keep or isinstance(step.check, Manual):
            continue
        since = idle.held_since(step.id)
        if since is None:
            continue
        detected = idle.score.detected_at_s
        when = (
            "from the first notice on"
            if detected is None or since <= detected
            else f"from {format_duration(since)} on"
        )
        yield (
            ("steps", index, "check"),
            f"step '{step.id}' is met before anyone acts: with nobody responding its check "
            f"holds {when}, so it tests nothing and no team can earn it — give the attacker "
            "something for it to find, change the check, or mark it `keep: true` if it is "
            "something the team must not break",
            step.id,
        )


def _before_steps_that_never_hold(
    scenario: Scenario, plays: Plays
) -> Iterator[tuple[Loc, str, str]]:
    steps = {step.id: step for step in scenario.steps}
    results = {result.id: result for result in plays.reference.score.steps}
    detected = plays.idle.score.detected_at_s or 0.0
    for index, step in enumerate(scenario.steps):
        check = step.check
        if not isinstance(check, ApiCalled) or check.before_step is None:
            continue
        other = steps.get(check.before_step)
        if other is None:
            continue
        loc: Loc = ("steps", index, "check", "before_step")
        since = plays.idle.held_since(other.id)
        if since is not None and since <= detected and not other.keep:
            yield (
                loc,
                f"before_step '{other.id}' can never hold: step '{other.id}' is met before "
                f"anyone acts, so no {check.action} can come before it — name a step the "
                "team has to do",
                step.id,
            )
        elif results.get(step.id) is not None and results[step.id].status == "failed":
            yield (
                loc,
                f"before_step '{other.id}' never held, even for {plays.runbook}: "
                f"{results[step.id].reason or 'the step failed'} — check that "
                f"{check.action} can come before step '{other.id}' is met",
                step.id,
            )


def _steps_nobody_reaches(
    scenario: Scenario, plays: Plays, *, skip: set[str]
) -> Iterator[tuple[Loc, str]]:
    results = {result.id: result for result in plays.reference.score.steps}
    for index, step in enumerate(scenario.steps):
        result = results.get(step.id)
        if step.id in skip or isinstance(step.check, Manual) or result is None:
            continue
        if result.status in ("success", "partial"):
            continue
        reason = f": {result.reason}" if result.reason else ""
        if step.after and any(marker in result.reason for marker in HELD_BY_ORDER):
            # the check held, but the order the step asks for did not: say so at 'after'
            yield (
                ("steps", index, "after"),
                f"step '{step.id}' is not met even by {plays.runbook}{reason} — its 'after' "
                "counts it only once the steps it names are done, and by then there was "
                "nothing left to do; drop 'after', or ask for something that can still "
                "happen once they are done",
            )
            continue
        yield (
            ("steps", index, "check"),
            f"step '{step.id}' is not met even by {plays.runbook}{reason} — so no play "
            "shows a team can meet it: check what it asks against what the attacker and the "
            "timeline leave to do; if it asks for more than the reference runbook does (see "
            "docs/runbooks.md), make it a manual step the facilitator marks, or drop it",
        )


def _injects_that_reach_nobody(scenario: Scenario, plays: Plays) -> Iterator[tuple[Loc, str]]:
    idle, reference = plays.idle.deliveries(), plays.reference.deliveries()
    # An inject the support plan rules out (`when: [enterprise-support]` on Business, and what
    # comes after it) is written to be skipped: the documented way to give only Enterprise
    # customers a call. It spoils nothing.
    possible = inject_times(scenario.model_dump(mode="python", exclude_none=True))
    for index, inject in enumerate(scenario.timeline):
        delivered = [*idle.get(inject.id, []), *reference.get(inject.id, [])]
        if not delivered and inject.id not in possible:
            continue
        if not delivered:
            yield (
                ("timeline", index),
                f"inject '{inject.id}' never fires, whether the team acts or not — "
                "check its when/unless conditions, the support plan, and the inject it comes "
                "after",
            )
            continue
        if all(str(event.get("status")) in _DROPPED for event in delivered):
            why = str(delivered[0].get("error") or delivered[0].get("status"))
            yield (
                ("timeline", index),
                f"inject '{inject.id}' fires but reaches nobody ({why})",
            )


def _reference_fails(scenario: Scenario, plays: Plays) -> Iterator[tuple[Loc, str]]:
    score = plays.reference.score
    if score.passed:
        return
    manual = {s.id for s in scenario.steps if isinstance(s.check, Manual)}
    missed = [r for r in score.steps if r.status not in ("success", "partial")]
    # No runbook can mark a manual step: the facilitator does. Judge the reference run as
    # if the facilitator had marked every one of them.
    total = sum(s.points for s in scenario.steps)
    unmarked = [r for r in missed if r.id in manual]
    marked_share = sum(r.points for r in unmarked) / total * 100.0 if total else 0.0
    with_marks = min(100.0, score.score + marked_share)
    critical = [r.id for r in missed if r.critical and r.id not in manual]
    if unmarked and not critical and with_marks >= score.pass_mark:
        return
    why = f"{score.score:.1f}/100 against a pass mark of {score.pass_mark}"
    if unmarked:
        names = ", ".join(r.id for r in unmarked)
        why += f"; {with_marks:.1f} even with the manual step(s) {names} marked"
    if critical:
        why += f", critical step(s) missed: {', '.join(critical)}"
    else:
        automatic = [r.id for r in missed if r.id not in manual]
        if automatic:
            why += f"; missed: {', '.join(automatic)}"
    yield (
        ("pass_mark",) if "pass_mark" in scenario.model_fields_set else ("steps",),
        f"{plays.runbook} fails this scenario ({why}) — a game day no prepared team can pass; "
        "make the steps it misses reachable, or lower the pass mark",
    )


class DeepValidator:
    """Plays scenarios for `findings`, on one warm mock, in a temporary folder.

    A context manager: the mock starts with the first scenario and stops, and the folder
    is removed, on exit. `check(path)` is a `ScenarioCheck` for `validate_scenario`'s
    `warnings`.
    """

    def __init__(
        self,
        *,
        templates: Path | None = None,
        runbook: Path = REFERENCE_RUNBOOK,
        seed: int = 0,
    ) -> None:
        self.templates = templates
        self.runbook = runbook
        self.seed = seed
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._warm: WarmMock | None = None  # made at the first play: it imports the mock
        self._listener: HTTPServer | None = None
        self._count = 0

    def __enter__(self) -> DeepValidator:
        self._folder = tempfile.TemporaryDirectory(prefix="gameday-deep-")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._warm is not None:
            self._warm.stop()
            self._warm = None
        if self._listener is not None:
            self._listener.shutdown()
            self._listener.server_close()
            self._listener = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def check(self, path: Path) -> ScenarioCheck:
        """The deep findings of the scenario at `path`, once it has loaded."""

        def deep(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
            yield from findings(scenario, self.play(path, scenario))

        return deep

    def play(self, path: Path, scenario: Scenario) -> Plays:
        """The scenario played by nobody, then by the reference runbook."""
        if self._folder is None:
            raise RuntimeError("DeepValidator is used as a context manager")
        root = Path(self._folder.name)
        self._count += 1
        nothing = root / "nothing.yaml"
        nothing.write_text(_NOTHING, encoding="utf-8")
        played = self._offline(path, scenario, root / f"{self._count}-scenario")
        idle = self._play(played, f"replay:{nothing}", root / f"{self._count}-idle")
        reference = self._play(played, str(self.runbook), root / f"{self._count}-ref")
        return Plays(idle, reference, runbook=_shown(self.runbook))

    def _offline(self, path: Path, scenario: Scenario, folder: Path) -> Path:
        """The scenario file to play: `path`, or — when a webhook has a URL of its own — a
        copy (with its templates folder) whose webhooks post to the loopback listener."""
        if not any(inject.type == "webhook" and getattr(inject, "url", None)
                   for inject in scenario.timeline):  # fmt: skip
            return path
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        for inject in data["timeline"]:
            if isinstance(inject, dict) and inject.get("type") == "webhook" and "url" in inject:
                inject["url"] = self._listen()
        folder.mkdir()
        copy = folder / path.name
        copy.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
        beside = path.parent / "templates"
        if beside.is_dir():
            shutil.copytree(beside, folder / "templates", symlinks=True)
        return copy

    def _listen(self) -> str:
        """The URL of a listener on loopback that takes any post (started once)."""
        if self._listener is None:
            self._listener = HTTPServer(("127.0.0.1", 0), _Accepting)
            threading.Thread(target=self._listener.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._listener.server_address[1]}/deep-validation"

    def _play(self, path: Path, responder: str, out: Path) -> Play:
        from rich.console import Console

        from gameday.exercise.run import RunOptions, WarmMock

        if self._warm is None:
            self._warm = WarmMock()
        options = RunOptions(
            team="deep-validation",
            out=out,
            clock="virtual",
            responder=responder,
            seed=self.seed,
            templates=self.templates,
            live=False,
        )
        result = self._warm.play(path, options, Console(quiet=True))
        return Play(read_journal(result.run_dir.journal), result.score)


class _Accepting(BaseHTTPRequestHandler):
    """Takes a webhook's post, as a chat tool does, and forgets it."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)
