"""`gameday run`: a scenario becomes a game day.

The phases follow one another and none reaches back: build the world (the leaky repository,
the mock account seeded with the estate, the responders' profile and mailbox), put AWS's
injects, the attacker's techniques, the workload's probes and the code host's polling on the
timeline, start the responder, run the clock to the scenario's end (or `gameday end`, or
Ctrl-C), and close with the score and the reports. The journal is filled from the first
moment to `run.ended` in a `try/finally`, so whatever happens the record is complete.
"""

from __future__ import annotations

import mailbox
import os
import random
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

from moto.moto_api._internal import mock_random
from rich.console import Console

from gameday.errors import UserError
from gameday.exercise.attacker import Attacker, AttackerContext
from gameday.exercise.attacker.base import attacker_clients
from gameday.exercise.clock import Clock, VirtualClock, WallClock
from gameday.exercise.conditions import KeyStatus, SupportPlan
from gameday.exercise.control import ControlWatcher
from gameday.exercise.injects import (
    IncidentFacts,
    InjectContext,
    InjectOptions,
    Renderer,
    SmtpOptions,
    deliver,
)
from gameday.exercise.responders import InjectBus, RunbookContext, responder_from_spec
from gameday.exercise.timeline import Timeline, schedule_injects
from gameday.exercise.view import FacilitatorView
from gameday.exercise.workload import WorkloadProbe
from gameday.journal import Event, Journal, iso, read_journal
from gameday.report import write_reports
from gameday.rundir import DEFAULT_ROOT, RunDir, new_run_dir
from gameday.scenario import load_scenario
from gameday.scenario.model import Inject, Scenario
from gameday.scoring.model import Score
from gameday.scoring.score import Evaluator, score_journal
from gameday.scoring.state import State, is_quarantine
from gameday.world.account import MockAccount
from gameday.world.decoys import estate_credentials, leaked_key_ref
from gameday.world.estate import seed_estate, seeded_event
from gameday.world.repo import DEFAULT_T0, CodeHost, build_repository

CODE_HOST_POLL_S = 15.0


@dataclass(frozen=True)
class RunOptions:
    team: str = "blue"
    out: Path | None = None
    runs_root: Path = DEFAULT_ROOT
    clock: Literal["virtual", "wall"] = "wall"
    speed: float = 1.0
    responder: str = "human"
    seed: int = 0
    smtp: SmtpOptions | None = None
    webhook_url: str | None = None
    templates: Path | None = None
    live: bool | None = None  # None: a live panel on a terminal, plain lines elsewhere
    extra_environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    run_dir: RunDir
    score: Score
    reason: str


class LiveState:
    """The questions `when:`/`unless:` conditions ask, answered from the journal's projection."""

    def __init__(self, scenario: Scenario, state: State) -> None:
        self._scenario = scenario
        self._state = state

    @property
    def support_plan(self) -> SupportPlan:
        return self._scenario.account.support_plan

    def case_replied(self) -> bool:
        return self._state.case_replied is not None

    def case_resolved(self) -> bool:
        return self._state.case_resolved is not None

    def leaked_key_status(self) -> KeyStatus:
        key = self._state.leaked_key()
        if key is None or not key.exists:
            return "Deleted"
        return "Active" if key.active else "Inactive"

    def repository_private(self) -> bool:
        return self._state.repository.private

    def repository_deleted(self) -> bool:
        return self._state.repository.deleted

    def quarantine_attached(self) -> bool:
        user = self._state.users.get(self._state.leaked_user)
        return user is not None and any(is_quarantine(a) for a in user.policies.values())


class LiveScore:
    """Evaluates checks as events arrive and journals `check.changed` for the live view."""

    def __init__(self, scenario: Scenario, journal: Journal) -> None:
        self.evaluator = Evaluator(scenario)
        self.journal = journal
        self._lock = threading.RLock()

    def __call__(self, event: Event) -> None:
        if event["kind"] == "check.changed":
            return
        with self._lock:
            transitions = self.evaluator.observe(event)
        for change in transitions:
            if change.subject.startswith(("step:", "penalty:")):
                self.journal.append(
                    "check.changed", check=change.subject, value=change.holds, reason=change.reason
                )


def run_exercise(scenario_path: Path, options: RunOptions, console: Console) -> RunResult:
    scenario = load_scenario(scenario_path)
    responder = responder_from_spec(options.responder)
    if options.clock == "virtual" and not responder.automated:
        raise UserError(
            "a human responder needs the wall clock — drop --clock virtual, or give a runbook "
            "(--responder PATH.py) or a replay (--responder replay:FILE)"
        )
    if options.speed <= 0:
        raise UserError(f"--speed {options.speed} — give a positive factor, like 10")
    run = _make_run_dir(scenario, options)
    shutil.copyfile(scenario_path, run.scenario)

    t0 = DEFAULT_T0 if options.clock == "virtual" else datetime.now(UTC).replace(microsecond=0)
    clock: Clock = (
        VirtualClock(t0) if options.clock == "virtual" else WallClock(options.speed, t0=t0)
    )
    journal = Journal(run.journal, clock)
    view = FacilitatorView(
        scenario,
        options.team,
        console,
        now=clock.now,
        pending=lambda: [],
        paused=lambda: clock.paused,
        live=options.live,
    )
    journal.subscribe(view)
    live_score = LiveScore(scenario, journal)
    journal.subscribe(live_score)
    console.print(f"run directory: {run.path}")
    run.write_status(pid=os.getpid(), state="starting", scenario=scenario.id, team=options.team)

    account: MockAccount | None = None
    watcher: ControlWatcher | None = None
    reason = "error"
    try:
        credentials = estate_credentials(scenario, options.seed)
        leaked = credentials[leaked_key_ref(scenario)]
        console.print("building the leaky repository and the mock account …")
        built = build_repository(scenario, run.path, seed=options.seed, t0=t0, credential=leaked)
        account = MockAccount(
            scenario.account.id,
            clock,
            regions=_regions(scenario),
            support_plan=scenario.account.support_plan,
            seed=options.seed,
        ).start()
        account.warm(_regions(scenario))
        # moto draws ids (instances, requests) from one generator: seeded after the parallel
        # warm-up, the same seed gives the same ids, and the same journal
        mock_random.seed(options.seed)
        estate = seed_estate(account, scenario, seed=options.seed)
        account.attach_journal(journal)
        environment = account.write_profiles(run.path)
        mailbox.Maildir(run.mail, create=True)
        run.calls.mkdir(exist_ok=True)

        journal.append(
            "run.started",
            t=0.0,
            scenario=scenario.id,
            team=options.team,
            seed=options.seed,
            clock=options.clock,
            speed=options.speed,
            responder=responder.name,
            t0=iso(t0),
            account_id=scenario.account.id,
            leaked_access_key_id=leaked.access_key_id,
            leaked_user=scenario.leak.user,
            public_url=built.public_url,
            repository=f"{scenario.leak.repository.owner}/{scenario.leak.repository.name}",
        )
        journal.append("world.seeded", t=0.0, **seeded_event(scenario, estate, account))

        code_host = CodeHost(run.remote, journal, watch_key=leaked.access_key_id)
        code_host.poll()  # the first poll takes the snapshot later pushes are compared with
        timeline = Timeline(clock, journal, end=scenario.duration)
        view.pending = timeline.pending
        bus = InjectBus(clock)
        facts = IncidentFacts.from_scenario(
            scenario,
            access_key_id=leaked.access_key_id,
            leak_commit=built.leak_commit,
            leak_path=built.leak_path,
            t0=t0,
            seed=options.seed,
        )
        inject_context = InjectContext(
            facts,
            scenario,
            run.path,
            journal,
            clock,
            aws=account,
            console=view.say,
            renderer=Renderer(options.templates),
            options=InjectOptions(smtp=options.smtp, webhook_url=options.webhook_url),
            case_desk=account.support,
        )
        live_state = LiveState(scenario, live_score.evaluator.state)
        window = scenario.attacker.consistency_window

        def fire(inject: Inject) -> None:
            if inject.type == "quarantine" and window > 0 and account is not None:
                account.gateway.delay_denies(scenario.leak.user, window)
            bus.publish(deliver(inject, inject_context))

        schedule_injects(timeline, scenario.timeline, fire, live_state)
        _schedule_attacker(timeline, scenario, account, leaked, journal, options.seed)
        if scenario.workload is not None:
            probe = WorkloadProbe(scenario.workload, account, journal, _secret_region(scenario))
            timeline.schedule_every(
                probe.probe,
                scenario.workload.probe_every,
                start=0.0,
                id="workload",
                kind="workload",
            )
        timeline.schedule_every(
            code_host.poll,
            CODE_HOST_POLL_S,
            start=CODE_HOST_POLL_S,
            id="code-host",
            kind="code-host",
        )

        responder_session = account.session(account.responder.credential, framework_client=False)
        if options.clock == "virtual":
            _repeatable_tokens(responder_session, random.Random(f"gameday-tokens:{options.seed}"))
        context = RunbookContext(
            aws=responder_session,
            clock=clock,
            journal=journal,
            inbox=bus.inbox(),
            repo=run.repo,
            code_host=code_host,
            scenario=scenario,
            log=lambda text: view.say(text),
        )
        run.handout.write_text(
            handout(scenario, run, options, environment, facts.case_id), encoding="utf-8"
        )
        watcher = ControlWatcher(
            run, _control_handlers(clock, timeline, journal, code_host, scenario)
        ).start()
        if not responder.automated:
            console.print(handout_summary(run, environment))
        responder.start(context)
        run.write_status(state="running", endpoint=account.endpoint_url, clock=options.clock)
        view.start()
        clock.start()
        try:
            timeline.run()
            reason = "end" if timeline.stopped else "duration"
        except KeyboardInterrupt:
            reason = "interrupt"
    finally:
        if watcher is not None:
            watcher.stop()
        ended_at = clock.now()
        clock.close()
        if "responder" in locals():
            responder.join(10.0)
        journal.append("run.ended", t=ended_at, reason=reason)
        view.stop()
        if account is not None:
            account.stop()
        journal.close()
        run.write_status(state="ended", reason=reason)

    events = read_journal(run.journal)
    score = score_journal(scenario, events, options.team)
    write_reports(run.path, scenario, events, score)
    return RunResult(run, score, reason)


def _repeatable_tokens(session: Any, rng: random.Random) -> None:
    """Idempotency tokens botocore fills in are random; in virtual time they come from `rng`.

    A runbook's calls then carry the same tokens in every run with the same seed, so two
    runs write the same journal.
    """

    def fill(params: dict[str, Any], model: Any, **_: Any) -> None:
        for name in model.idempotent_members:
            if name not in params:
                params[name] = str(uuid.UUID(int=rng.getrandbits(128), version=4))

    session.events.register_first("before-parameter-build", fill)


def _make_run_dir(scenario: Scenario, options: RunOptions) -> RunDir:
    if options.out is None:
        return new_run_dir(scenario.id, options.team, options.runs_root)
    if options.out.exists() and any(options.out.iterdir()):
        raise UserError(f"{options.out}: not empty — give a new folder for the run")
    options.out.mkdir(parents=True, exist_ok=True)
    return RunDir(options.out)


def _regions(scenario: Scenario) -> list[str]:
    """Every region the run touches: the company's, and those the attacker goes to."""
    regions = list(scenario.account.regions)
    for technique in scenario.attacker.techniques:
        regions += list(getattr(technique, "regions", []) or [])
    return list(dict.fromkeys(regions))


def _secret_region(scenario: Scenario) -> str:
    assert scenario.workload is not None
    for secret in scenario.account.estate.secrets:
        if secret.name == scenario.workload.secret:
            return str(secret.region)
    return str(scenario.account.regions[0])


def _schedule_attacker(
    timeline: Timeline,
    scenario: Scenario,
    account: MockAccount,
    leaked: Any,
    journal: Journal,
    seed: int,
) -> None:
    rng = random.Random(f"gameday-attacker:{seed}")
    context = AttackerContext(
        account_id=scenario.account.id,
        leaked=leaked,
        client_factory=attacker_clients(
            account,
            rng,
            source_ips=scenario.attacker.source_ips,
            user_agents=scenario.attacker.user_agents,
        ),
        regions_in_use=list(scenario.account.regions),
        rng=rng,
    )
    attacker = Attacker(scenario, context, journal)
    for index, planned in enumerate(attacker.plan()):
        name = f"attack-{index + 1}-{planned.spec.technique.rsplit('.', 1)[-1]}"
        timeline.schedule(
            partial(attacker.detonate, planned.spec), at=planned.at, id=name, kind="attacker"
        )
        if planned.every is not None:
            timeline.schedule_every(
                partial(attacker.detonate, planned.spec, repeat=True),
                planned.every,
                start=planned.at + planned.every,
                id=f"{name}-again",
                kind="attacker",
            )


def _control_handlers(
    clock: Clock, timeline: Timeline, journal: Journal, code_host: CodeHost, scenario: Scenario
) -> dict[str, Callable[[dict[str, Any]], None]]:
    steps = {step.id for step in scenario.steps}

    def pause(command: dict[str, Any]) -> None:
        if not clock.paused:
            journal.append("run.paused", by=command.get("by"))
            clock.pause()

    def resume(command: dict[str, Any]) -> None:
        if clock.paused:
            clock.resume()
            journal.append("run.resumed", by=command.get("by"))

    def end(command: dict[str, Any]) -> None:
        timeline.stop()

    def note(command: dict[str, Any]) -> None:
        journal.append(
            "note",
            actor=command.get("actor") or "responder",
            text=command.get("text"),
            by=command.get("by"),
        )

    def mark(command: dict[str, Any]) -> None:
        if command.get("step") in steps:
            journal.append("mark", step=command.get("step"), by=command.get("by"))

    def repo(command: dict[str, Any]) -> None:
        if command.get("action") == "private":
            code_host.make_private()
        elif command.get("action") == "delete":
            code_host.delete()

    def fire_next(command: dict[str, Any]) -> None:
        timeline.fire_next_now()

    return {
        "pause": pause,
        "resume": resume,
        "end": end,
        "note": note,
        "mark": mark,
        "repo": repo,
        "fire-next": fire_next,
    }


def handout_summary(run: RunDir, environment: dict[str, str]) -> str:
    exports = "\n".join(f"  export {k}={v}" for k, v in environment.items())
    return (
        f"Responders: read {run.handout}\n"
        f"Use the AWS CLI with:\n{exports}\n"
        f"Mail arrives in {run.mail}/new — `gameday end {run.path}` stops the exercise."
    )


def handout(
    scenario: Scenario, run: RunDir, options: RunOptions, environment: dict[str, str], case_id: str
) -> str:
    exports = "\n".join(f"export {k}={v}" for k, v in environment.items())
    return f"""# Responder handout — {scenario.title}

**SIMULATION — game day exercise.** Nothing here touches a real AWS account: the AWS
endpoint below is a mock running on this machine, and every key in it is a decoy.

Team: **{options.team}** · Account: **{scenario.account.id}** ({scenario.account.alias}) ·
Support plan: {scenario.account.support_plan}

## Your AWS access

You are the `incident-responder` IAM user (AdministratorAccess). In a shell:

```sh
{exports}
aws sts get-caller-identity
```

boto3 picks up the same profile from those variables.

## Where things arrive

- **Email** for the account's contacts lands in `{run.mail}/new/` (a Maildir: open the files
  with any mail client that reads Maildir, or as text).
- **Phone calls** are read aloud by the facilitator; their scripts land in `{run.calls}/`.
- **The AWS Support case** is in the mock's Support API:
  `aws support describe-cases --include-resolved-cases`.

## The repository

- Your clone: `{run.repo}` — its `origin` is the "public" repository, `{run.remote}`.
- The code host's buttons: `gameday repo private {run.path}` and `gameday repo delete {run.path}`.

## Telling the exercise what you did outside AWS

- `gameday note {run.path} "rotated the root password"` journals an out-of-band action.
- The facilitator validates manual steps with `gameday mark {run.path} STEP_ID`.

Good luck. Treat it as real.
"""
