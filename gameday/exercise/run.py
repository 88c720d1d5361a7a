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
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from moto.moto_api._internal import mock_random
from rich.console import Console

from gameday import heap
from gameday.errors import UserError, did_you_mean
from gameday.exercise.attacker import Attacker, AttackerContext
from gameday.exercise.attacker.base import attacker_clients
from gameday.exercise.clock import Clock, VirtualClock, WallClock
from gameday.exercise.conditions import KeyStatus, SupportPlan
from gameday.exercise.control import CommandRefused, ControlWatcher, Handler, attribution
from gameday.exercise.dashboard import Dashboard
from gameday.exercise.facilitator import Authority, token_notice
from gameday.exercise.injects import (
    Delivered,
    IncidentFacts,
    InjectContext,
    InjectOptions,
    Renderer,
    SmtpOptions,
    deliver,
)
from gameday.exercise.injects.rendering import SCENARIO_TEMPLATES, template_folders
from gameday.exercise.preflight import checks_key, scenario_checks
from gameday.exercise.responders import (
    InjectBus,
    Responder,
    RunbookContext,
    responder_from_spec,
)
from gameday.exercise.runbook_host import repeatable_tokens
from gameday.exercise.timeline import Timeline, schedule_injects
from gameday.exercise.view import FacilitatorView, clock_text
from gameday.exercise.workload import WorkloadProbe
from gameday.journal import Event, Journal, RunClock, iso, read_journal
from gameday.report import write_reports
from gameday.report.rendering import escape_markdown
from gameday.rundir import (
    DEFAULT_ROOT,
    RunDir,
    claim_run_dir,
    new_run_dir,
    open_team_room,
    private_files,
)
from gameday.scenario import load_scenario
from gameday.scenario.model import Inject, Scenario
from gameday.scoring.model import Score
from gameday.scoring.score import Evaluator, score_journal
from gameday.scoring.state import State, is_quarantine
from gameday.world.account import MockAccount, acquire_mock, release_mock
from gameday.world.decoys import Credential, estate_credentials, leaked_key_ref
from gameday.world.estate import seed_estate, seeded_event
from gameday.world.gateway import VAULT_FILE, Vault
from gameday.world.repo import (
    DEFAULT_T0,
    BuiltRepository,
    CodeHost,
    LaterCommit,
    build_repository,
    later_commits,
)

if TYPE_CHECKING:
    from gameday.console import ConsoleServer

CODE_HOST_POLL_S = 15.0
# A test hook: a run (or a recovery) whose environment sets it to N kills its own process
# with SIGKILL as soon as journal event N is journaled — a crash at a chosen point of a
# deterministic virtual-time run (tests/exercise/test_recovery.py).
KILL_AFTER_SEQ_VARIABLE = "GAMEDAY_TEST_KILL_AFTER_SEQ"


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
    dashboard: bool = False  # serve the facilitator's web dashboard on 127.0.0.1
    console: bool = False  # serve the team's web console of the mock account on 127.0.0.1
    # recover: the run's facilitator token, kept (none: a new one is issued and shown)
    facilitator_token: str | None = None
    extra_environment: dict[str, str] = field(default_factory=dict)
    # A started mock to reuse, emptied for this run and left running after it (moto's
    # backends are process-wide and a fresh mock costs seconds): see `run_exercises`.
    account: MockAccount | None = None


@dataclass(frozen=True)
class RunResult:
    run_dir: RunDir
    score: Score
    reason: str


class LeakSite(Protocol):
    """Where the key leaked, as the injects tell it (a `BuiltRepository` is one)."""

    @property
    def public_url(self) -> str: ...

    @property
    def leak_commit(self) -> str: ...

    @property
    def leak_path(self) -> str: ...


class Resumption(Protocol):
    """A crashed run taken over where it stopped (`gameday.exercise.recovery.Recovery`).

    It goes on as a new run goes, in its own run directory and on its clock continued from
    the recovery time, except that the world is rebuilt from the journal and the timeline,
    the attacker and the responder are restored rather than started afresh. A resumption
    that `replays` (a virtual-time run) instead plays the run again from T0 as a new run,
    against its journal: the repository is built again, `run.started` is journaled again
    (the journal checks, does not write, what it already holds), and injects already
    delivered do not reach anyone outside the mock twice.
    """

    @property
    def replays(self) -> bool:
        """True: the run is played again from T0 rather than rebuilt at the crash point."""
        ...

    def journal(self, clock: Clock) -> Journal:
        """The run's journal, opened again on `clock`."""
        ...

    def vault(self) -> Vault:
        """The run's vault, opened again."""
        ...

    def deliver(self, inject: Inject, context: InjectContext) -> Delivered:
        """Fire an inject (`gameday.exercise.injects.deliver`, or the replay's own)."""
        ...

    def finish(self) -> None:
        """The run is over (scored next): raise UserError if it could not be taken over."""
        ...

    @property
    def run(self) -> RunDir: ...

    @property
    def clock(self) -> Clock:
        """The run clock: T0 as before, `now()` at the recovery time until it starts."""
        ...

    @property
    def world_clock(self) -> RunClock:
        """The clock the mock is seeded and rebuilt on, before it moves to the run clock."""
        ...

    @property
    def leak(self) -> LeakSite: ...

    @property
    def stream(self) -> str:
        """Added to the seed of random streams that must not repeat the crashed run's."""
        ...

    def rebuild(
        self, account: MockAccount, journal: Journal, evaluator: Evaluator, responder: Responder
    ) -> None:
        """Replay the journal into the freshly seeded mock, put it on the run clock, catch the
        live score and the responder up, and journal `run.recovered`."""
        ...

    def restore(
        self,
        timeline: Timeline,
        bus: InjectBus,
        attacker: Attacker,
        account: MockAccount,
    ) -> None:
        """What already happened stays done: fired entries, delivered injects, the attacker's
        wallet."""
        ...


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

    def score(self, now: float | None = None) -> Score:
        """The running score as things stand at run time `now` (the dashboard's score)."""
        with self._lock:
            return self.evaluator.score(now=now)


def run_exercise(
    scenario_path: Path,
    options: RunOptions,
    console: Console,
    *,
    resume: Resumption | None = None,
) -> RunResult:
    # refused now, before the room starts, rather than in the middle of the run
    scenario = load_scenario(
        scenario_path,
        checks=scenario_checks(options.templates, scenario_path),
        checks_key=checks_key(options.templates, scenario_path),
    )
    responder = responder_from_spec(options.responder)
    if options.clock == "virtual" and not responder.automated:
        raise UserError(
            "a human responder needs the wall clock — drop --clock virtual, or give a runbook "
            "(--responder PATH.py) or a replay (--responder replay:FILE)"
        )
    if options.speed <= 0:
        raise UserError(f"--speed {options.speed} — give a positive factor, like 10")
    clock: Clock
    if resume is None:
        run = _make_run_dir(scenario, options)
        if not responder.automated:
            open_team_room(run)  # the team's share of the run, in a room of its own
        shutil.copyfile(scenario_path, run.scenario)
        for own in template_folders(None, scenario_path):  # with it, for a recovery
            shutil.copytree(own, run.path / SCENARIO_TEMPLATES, symlinks=True)
        t0 = DEFAULT_T0 if options.clock == "virtual" else datetime.now(UTC).replace(microsecond=0)
        clock = VirtualClock(t0) if options.clock == "virtual" else WallClock(options.speed, t0=t0)
    else:
        run, clock = resume.run, resume.clock
        t0 = clock.t0
    journal = Journal(run.journal, clock) if resume is None else resume.journal(clock)
    _kill_switch(journal)
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
    authority = (
        Authority.issue(run) if resume is None else Authority.resume(run, options.facilitator_token)
    )
    if authority.issued:
        console.print(token_notice(run, authority.token), markup=False, soft_wrap=True)
    run.write_status(pid=os.getpid(), state="starting", scenario=scenario.id, team=options.team)
    dashboard: Dashboard | None = None
    if options.dashboard:
        dashboard = Dashboard(
            run,
            scenario,
            options.team,
            now=clock.now,
            paused=lambda: clock.paused,
            pending=lambda: [],
            score=live_score.score,
            rate=options.speed if options.clock == "wall" else None,
            token_hash=authority.digest,
        )
        journal.subscribe(dashboard)
        dashboard.start()
        run.write_status(dashboard=f"{dashboard.origin}/")  # the address without the token
        address = dashboard.address(authority.token)
        console.print(f"dashboard: {address}", markup=False, soft_wrap=True)

    account: MockAccount | None = None
    watcher: ControlWatcher | None = None
    # A process whose heap was frozen before the run (a warm-start worker, the server's heap:
    # `gameday.warm_start`) ends with the run: it all stays frozen to the end.
    thaw = not heap.frozen()
    web_console: ConsoleServer | None = None
    probe: WorkloadProbe | None = None
    reason = "error"
    started = False  # past this run's `run.started`
    try:
        credentials = estate_credentials(scenario, options.seed)
        leaked = credentials[leaked_key_ref(scenario)]
        built: LeakSite
        if resume is None or resume.replays:
            console.print("building the leaky repository and the mock account …")
            built = build_repository(
                scenario, run.team, seed=options.seed, t0=t0, credential=leaked
            )
        else:
            console.print("rebuilding the mock account from the journal …")
            built = resume.leak
        world_clock = clock if resume is None else resume.world_clock
        if options.account is None:
            account = acquire_mock(
                scenario.account.id,
                world_clock,
                regions=_regions(scenario),
                support_plan=scenario.account.support_plan,
                seed=options.seed,
            )
        else:
            account = options.account
            account.reset(
                clock=world_clock,
                account_id=scenario.account.id,
                regions=_regions(scenario),
                support_plan=scenario.account.support_plan,
                seed=options.seed,
            )
        account.warm(_regions(scenario))
        # moto draws ids (instances, requests) from one generator: seeded after the parallel
        # warm-up, the same seed gives the same ids, and the same journal
        mock_random.seed(options.seed)
        estate = seed_estate(account, scenario, seed=options.seed)
        # Everything built so far (moto, botocore's models, the seeded account) lives as long
        # as the run: kept out of the cycle collector's full passes, which would otherwise
        # walk it again and again while the run plays (a tenth of a run's processor time).
        heap.freeze()
        if resume is not None:
            resume.rebuild(account, journal, live_score.evaluator, responder)
        account.attach_journal(journal)
        account.gateway.vault = Vault(run.path / VAULT_FILE) if resume is None else resume.vault()
        environment = account.write_profiles(run.team.absolute())
        mailbox.Maildir(run.mail, create=True)
        run.calls.mkdir(exist_ok=True)

        if resume is None or resume.replays:
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
        started = True

        code_host = CodeHost(run.remote, journal, watch_key=leaked.access_key_id)
        code_host.poll()  # the first poll takes the snapshot later pushes are compared with
        timeline = Timeline(clock, journal, end=scenario.duration)
        view.pending = timeline.pending
        if dashboard is not None:
            dashboard.pending = timeline.pending
        bus = InjectBus(clock)
        facts = IncidentFacts.from_scenario(
            scenario,
            access_key_id=leaked.access_key_id,
            leak_commit=built.leak_commit,
            leak_path=built.leak_path,
            public_url=built.public_url,
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
            renderer=Renderer(template_folders(options.templates, scenario_path)),
            options=InjectOptions(
                smtp=options.smtp,
                webhook_url=options.webhook_url,
                record_calls=options.clock != "virtual",
            ),
            case_desk=account.support,
        )
        live_state = LiveState(scenario, live_score.evaluator.state)
        window = scenario.attacker.consistency_window

        def fire(inject: Inject) -> None:
            if inject.type == "quarantine" and window > 0 and account is not None:
                account.gateway.delay_denies(scenario.leak.user, window)
            bus.publish((deliver if resume is None else resume.deliver)(inject, inject_context))

        schedule_injects(timeline, scenario.timeline, fire, live_state)
        attacker = _schedule_attacker(timeline, scenario, account, leaked, journal, options.seed)
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
        _schedule_developers(timeline, clock, code_host, scenario, built, options.seed, t0, leaked)
        if resume is not None:
            resume.restore(timeline, bus, attacker, account)

        responder_session = account.session(account.responder.credential, framework_client=False)
        stream: str | None = None
        if options.clock == "virtual":
            stream = f"gameday-tokens:{options.seed}{resume.stream if resume else ''}"
            repeatable_tokens(responder_session, random.Random(stream))
        context = RunbookContext(
            aws=responder_session,
            clock=clock,
            journal=journal,
            inbox=bus.inbox(),
            repo=run.repo,
            code_host=code_host,
            scenario=scenario,
            log=lambda text: view.say(text),
            token_stream=stream,
        )
        run.handout.write_text(
            handout(
                scenario, run, options, environment, facts.case_id, account.responder.user_name
            ),
            encoding="utf-8",
        )
        watcher = ControlWatcher(
            run,
            _control_handlers(clock, timeline, journal, code_host, scenario),
            authority,
            on_error=lambda command, error: journal.append(
                "error",
                source=f"control {command.get('command')}",
                message=f"{type(error).__name__}: {error}",
            ),
            on_refused=lambda refusal: journal.append("control.refused", **refusal),
        ).start()
        if options.console:
            from gameday.console import serve_console

            web_console = serve_console(run)
            console.print(
                f"web console for the team: {web_console.origin}/ (its token is in the team's "
                "handout and CONSOLE.txt)",
                markup=False,
            )
        if not responder.automated:
            console.print(handout_summary(run, environment))
        responder.start(context)
        run.write_status(state="running", endpoint=account.endpoint_url, clock=options.clock)
        view.start()
        if not clock.virtual:
            journal.subscribe(_clock_publisher(run, options.speed))
        clock.start()
        if not clock.virtual:
            run.write_clock(clock.now(), speed=options.speed, paused=clock.paused)
        timeline.run()
        reason = "end" if timeline.stopped else "duration"
    except KeyboardInterrupt:
        # Ctrl-C once the run has started (its journal says so) ends it as an interrupted
        # run, scored and reported, wherever it lands: in the set-up still going on after
        # `run.started` as well as in the timeline. Before that there is no run to score.
        if not started:
            raise
        reason = "interrupt"
    finally:
        if watcher is not None:
            watcher.stop()
        ended_at = clock.now()
        clock.close()
        if "responder" in locals():
            responder.join(10.0)
        if probe is not None:
            probe.close()
        journal.append("run.ended", t=ended_at, reason=reason)
        view.stop()
        if dashboard is not None:
            dashboard.stop()
        if web_console is not None:
            web_console.stop()
        if account is not None and options.account is None:
            release_mock(account)
        elif account is not None:
            account.attach_journal(None)  # the shared mock outlives this run's journal
        journal.close()
        run.write_status(state="ended", reason=reason)
        if thaw:
            heap.unfreeze()  # what the run no longer needs can be collected again

    if resume is not None:
        resume.finish()
    events = read_journal(run.journal)
    score = score_journal(scenario, events, options.team)
    if scenario.drill is not None:  # after the run: off the run clock, out of the team's way
        from gameday.drill.phase import drill_run

        console.print("drilling the leak with the scenario's scanners …")
        drill_run(run.path, scenario, seed=options.seed, t0=t0)
    write_reports(run.path, scenario, events, score)
    return RunResult(run, score, reason)


def run_exercises(runs: Iterable[tuple[Path, RunOptions]], console: Console) -> Iterator[RunResult]:
    """Runs one after another on one warm mock account (`WarmMock`), each result as it comes.

    The mock (moto's backends are process-wide) starts once and is emptied for each run, so
    a batch of virtual-time runs — a scenario library in CI — does not pay the mock's
    start-up and warm-up every time. A run's own `account` option is replaced.
    """
    warm = WarmMock()
    try:
        for path, options in runs:
            yield warm.play(path, options, console)
    finally:
        warm.stop()


class WarmMock:
    """One mock account, started by the first run that needs it and reused by every next one.

    The runs go one after another (the mock is process-wide); each empties it for itself
    (`RunOptions.account`). The pool's workers and the pytest plugin's fixture each hold one.
    """

    def __init__(self) -> None:
        from gameday.exercise import runbook_zygote

        self._account: MockAccount | None = None
        runbook_zygote.expect_many_runs()

    def play(self, scenario_path: Path, options: RunOptions, console: Console) -> RunResult:
        """`run_exercise` on this mock, under the owner-only mask a run is played with."""
        with private_files():
            return run_exercise(
                scenario_path, replace(options, account=self._started(scenario_path)), console
            )

    def stop(self) -> None:
        if self._account is not None:
            release_mock(self._account)
            self._account = None

    def _started(self, scenario_path: Path) -> MockAccount:
        if self._account is None:
            # the first scenario's account and regions; each run resets them to its own
            first = load_scenario(scenario_path)
            self._account = acquire_mock(
                first.account.id,
                VirtualClock(DEFAULT_T0),
                regions=_regions(first),
                support_plan=first.account.support_plan,
            )
        return self._account


def _kill_switch(journal: Journal) -> None:
    """The `KILL_AFTER_SEQ_VARIABLE` test hook: SIGKILL this process after event N."""
    value = os.environ.get(KILL_AFTER_SEQ_VARIABLE, "")
    if not value.isdigit():
        return
    after = int(value)

    def kill(event: Event) -> None:
        if int(event["seq"]) >= after:
            os.kill(os.getpid(), signal.SIGKILL)

    journal.subscribe(kill)


def _make_run_dir(scenario: Scenario, options: RunOptions) -> RunDir:
    if options.out is None:
        return new_run_dir(scenario.id, options.team, options.runs_root)
    return claim_run_dir(options.out)


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
) -> Attacker:
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
    return attacker


def _schedule_developers(
    timeline: Timeline,
    clock: Clock,
    code_host: CodeHost,
    scenario: Scenario,
    built: LeakSite,
    seed: int,
    t0: datetime,
    leaked: Credential,
) -> None:
    """The developers' commits after the leak, each pushed at its time on the run clock."""
    later = (
        built.later
        if isinstance(built, BuiltRepository)
        else later_commits(scenario, seed=seed, t0=t0, credential=leaked)
    )
    branch = scenario.leak.repository.default_branch
    for commit in later:
        if commit.at_s < clock.now() or commit.at_s > scenario.duration:
            continue

        def arrive(commit: LaterCommit = commit) -> None:
            code_host.arrive(commit, clock.t0 + timedelta(seconds=clock.now()), branch)

        timeline.schedule(arrive, at=commit.at_s, id=f"commit-{commit.number}", kind="commit")


def _clock_publisher(run: RunDir, speed: float) -> Callable[[Event], None]:
    """Keeps run.json's clock in step with pauses, so `gameday status` tells the run time."""

    def publish(event: Event) -> None:
        if event["kind"] in ("run.paused", "run.resumed"):
            run.write_clock(float(event["t"]), speed=speed, paused=event["kind"] == "run.paused")

    return publish


def _control_handlers(
    clock: Clock, timeline: Timeline, journal: Journal, code_host: CodeHost, scenario: Scenario
) -> dict[str, Handler]:
    steps = {step.id for step in scenario.steps}

    def pause(command: dict[str, Any]) -> str:
        if clock.paused:
            return "already paused"
        clock.pause()
        # journaled at the very moment the clock stopped, which is when it stands from now on
        journal.append("run.paused", **attribution(command))
        return f"paused at {clock_text(clock.now())}"

    def resume(command: dict[str, Any]) -> str:
        if not clock.paused:
            return "not paused — the clock is running"
        clock.resume()
        journal.append("run.resumed", **attribution(command))
        return f"resumed at {clock_text(clock.now())}"

    def end(command: dict[str, Any]) -> str:
        timeline.stop()
        return "ending — the run scores and reports now"

    def note(command: dict[str, Any]) -> None:
        # the facilitator's note only with the token (the watcher checked); else the team's
        by_facilitator = command.get("by") == "facilitator"
        journal.append(
            "note",
            actor="facilitator" if by_facilitator else "responder",
            text=command.get("text"),
            **attribution(command),
        )

    def mark(command: dict[str, Any]) -> str:
        step = str(command.get("step"))
        if step not in steps:
            raise CommandRefused(f"unknown step '{step}' — {did_you_mean(step, steps)}")
        journal.append("mark", step=step, **attribution(command))
        return f"marked {step}"

    def repo(command: dict[str, Any]) -> str:
        action, target = str(command.get("action")), command.get("target")
        try:
            if action == "private":
                code_host.make_private()
                return "repository made private"
            if action == "delete":
                code_host.delete()
                return "repository deleted"
            return code_host.act(action, str(target) if target else None)
        except UserError as error:
            raise CommandRefused(str(error)) from error

    def fire_next(command: dict[str, Any]) -> str:
        fired = timeline.fire_next_now()
        if fired is None:
            raise CommandRefused("no inject is left to fire now (the rest wait on another)")
        return f"{fired} fires now" + (" — on resume: the clock is paused" if clock.paused else "")

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
    """What the facilitator's console says of the two rooms once the run is set up."""
    exports = "\n".join(f"  export {k}={v}" for k, v in environment.items())
    return (
        f"The team's room — give the team this folder, and only this one:\n"
        f"  {run.team.absolute()}\n"
        f"  (HANDOUT.md to read first; the AWS CLI with:\n{exports}\n"
        f"  mail arrives in {run.mail.absolute()}/new)\n"
        f"The facilitator's room — yours alone (scenario, journal, token, scores, reports):\n"
        f"  {run.path.absolute()}\n"
        f"`gameday steps` and `gameday status` tell where the run stands (with the facilitator "
        f"token); `gameday watch` is the team's view for the screen they see; "
        f"`gameday end` stops the exercise."
    )


def handout(
    scenario: Scenario,
    run: RunDir,
    options: RunOptions,
    environment: dict[str, str],
    case_id: str,
    user_name: str,
) -> str:
    exports = "\n".join(f"export {k}={v}" for k, v in environment.items())
    # scenario text and the team's name are shown literally, never as Markdown or HTML
    title, team = escape_markdown(scenario.title), escape_markdown(options.team)
    return f"""# Responder handout — {title}

**SIMULATION — game day exercise.** Nothing here touches a real AWS account: the AWS
endpoint below is a mock running on this machine, and every key in it is a decoy.

Team: **{team}** · Account: **{scenario.account.id}** ({scenario.account.alias}) ·
Support plan: {scenario.account.support_plan}

## Your AWS access

You sign in as `{user_name}`, your team's own IAM user in the account (an administrator),
with its access key. In a shell:

```sh
{exports}
aws sts get-caller-identity
```

boto3 picks up the same profile from those variables.

## Where things arrive

- **Email** for the account's contacts lands in `{run.mail.absolute()}/new/` (a Maildir: open
  the files with any mail client that reads Maildir, or as text).
- **Phone calls** come from the facilitator, who plays AWS's caller.
- **The AWS Support case** is in the mock's Support API:
  `aws support describe-cases --include-resolved-cases`. The email quotes the case's display
  number; `add-communication-to-case` wants the `caseId` (`case-…`) that describe-cases shows.

## The repository

- Your clone: `{run.repo.absolute()}` — its `origin` is the "public" repository,
  `{run.remote.absolute()}`.
- The code host's buttons, in a terminal in the project's folder: `gameday repo private`
  and `gameday repo delete` (they act on the exercise under way).

## Telling the exercise what you did outside AWS

- `gameday note "rotated the root password"` (in the project's folder) journals an
  out-of-band action; tell the facilitator what a machine cannot see.

## If the exercise stops

If the facilitator's machine crashes or sleeps, the facilitator recovers the exercise and
it goes on where it stopped, with the same credentials; your next command finds it.

Good luck. Treat it as real.
"""
