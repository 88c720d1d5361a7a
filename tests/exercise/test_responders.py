"""Responders: the inject bus, Python runbooks, replays of YAML files and of journals."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from gameday.errors import UserError
from gameday.exercise.clock import VirtualClock
from gameday.exercise.injects.base import Delivered
from gameday.exercise.responders import (
    HumanResponder,
    InjectBus,
    MockSession,
    ReplayResponder,
    Responder,
    RunbookContext,
    RunbookResponder,
    UnknownCall,
    aws_call,
    responder_from_spec,
)
from gameday.exercise.runbook_zygote import running
from gameday.exercise.timeline import Timeline
from gameday.journal import Event, FixedClock, Journal
from gameday.world.repo import CodeHost

Events = Callable[..., list[Event]]
OpenJournal = Callable[..., Journal]

SECRET = "wJ7pQ2vX9kL4mN8rT1yZ5cB3dF6gH0jK2sA4eR7u"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def email(clock: VirtualClock, inject_id: str, user_name: str = "deployer") -> Delivered:
    return Delivered(
        kind="email",
        id=inject_id,
        t=clock.now(),
        subject="Your AWS account 123456789012 is compromised",
        body="SIMULATION — game day exercise",
        data={"account_id": "123456789012", "user_name": user_name},
    )


@dataclass
class Run:
    """One virtual-time exercise without a scenario: clock, journal, bus, timeline, code host."""

    clock: VirtualClock
    journal: Journal
    bus: InjectBus
    timeline: Timeline
    host: CodeHost
    repo: Path
    logs: list[str] = field(default_factory=list)

    def context(self, aws: Any = None) -> RunbookContext:
        return RunbookContext(
            aws=aws if aws is not None else boto3.Session(),
            clock=self.clock,
            journal=self.journal,
            inbox=self.bus.inbox(),
            repo=self.repo,
            code_host=self.host,
            log=self.logs.append,
        )

    def deliver_at(self, t: float, inject_id: str, user_name: str = "deployer") -> None:
        self.timeline.schedule(
            lambda: self.bus.publish(email(self.clock, inject_id, user_name)),
            at=t,
            id=inject_id,
            kind="inject",
        )

    def play(self, responder: Responder, aws: Any = None) -> None:
        responder.start(self.context(aws))
        self.clock.start()
        self.timeline.run()
        self.clock.close()
        assert responder.join(5)


@pytest.fixture
def run(tmp_path: Path, open_journal: OpenJournal) -> Run:
    clock = VirtualClock()
    journal = open_journal(clock)
    remote = tmp_path / "remote.git"
    remote.mkdir()
    return Run(
        clock=clock,
        journal=journal,
        bus=InjectBus(clock),
        timeline=Timeline(clock, journal, end=3600),
        host=CodeHost(remote, journal),
        repo=tmp_path / "repo",
    )


@pytest.fixture
def aws(moto_endpoint: str) -> MockSession:
    return MockSession(
        endpoint_url=moto_endpoint, access_key_id="AKIARESPONDERTEST001", secret_access_key=SECRET
    )


@pytest.fixture
def iam(aws: MockSession) -> Any:
    return aws.client("iam")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ── the bus ───────────────────────────────────────────────────────────────────────────────


def test_wait_for_returns_injects_delivered_before_the_call_once_each(run: Run) -> None:
    seen: list[tuple[float, str, float]] = []
    inbox, other = run.bus.inbox(), run.bus.inbox()

    def responder() -> None:
        run.clock.sleep(600)  # starts late: the first email came at 60 s
        for _ in range(2):
            notice = inbox.wait_for("email")
            seen.append((run.clock.now(), notice.id, notice.t))
        seen.append((run.clock.now(), other.wait_for("case-email").id, 0.0))
        try:
            inbox.wait_for(("email", "phone-call"), timeout=300)
        except TimeoutError as error:
            seen.append((run.clock.now(), str(error), 0.0))

    run.deliver_at(60, "case-email")
    run.deliver_at(1200, "follow-up")
    thread = run.clock.spawn("responder", responder)
    run.clock.start()
    run.timeline.run()
    thread.join(2)
    assert seen == [
        (600.0, "case-email", 60.0),
        (1200.0, "follow-up", 1200.0),
        (1200.0, "case-email", 0.0),  # another inbox takes its own copy
        (1500.0, "no email or phone-call inject arrived within 5m", 0.0),
    ]
    assert [n.id for n in run.bus.delivered()] == ["case-email", "follow-up"]


# ── runbooks ──────────────────────────────────────────────────────────────────────────────

RUNBOOK = '''
"""Contain a leaked key: deactivate it from another principal, then tell the journal."""


def respond(ctx):
    notice = ctx.wait_for("email")
    user = notice.data["user_name"]
    iam = ctx.aws.client("iam")
    key = iam.list_access_keys(UserName=user)["AccessKeyMetadata"][0]["AccessKeyId"]
    ctx.note(f"read '{notice.subject}' at {ctx.now():.0f}s")
    ctx.sleep("5m")
    iam.update_access_key(UserName=user, AccessKeyId=key, Status="Inactive")
    ctx.note(f"deactivated {key} at {ctx.time():%H:%M:%S}")
    ctx.make_repo_private()
    ctx.log(f"{len(ctx.inbox())} inject(s) so far")
'''


def test_a_runbook_acts_on_the_mock_in_virtual_time(
    run: Run, tmp_path: Path, aws: MockSession, iam: Any, events: Events
) -> None:
    user = unique("deployer")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    run.deliver_at(116, "case-email", user)
    responder = RunbookResponder(write(tmp_path / "contain.py", RUNBOOK))
    run.play(responder, aws)

    [metadata] = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert metadata["Status"] == "Inactive"
    clock_at = (run.clock.t0 + timedelta(seconds=416)).strftime("%H:%M:%S")
    assert [(e["t"], e["actor"], e["text"]) for e in events(run.journal, "note")] == [
        (116.0, "responder", "read 'Your AWS account 123456789012 is compromised' at 116s"),
        (416.0, "responder", f"deactivated {key} at {clock_at}"),
    ]
    [private] = events(run.journal, "repo.private")
    assert private["t"] == 416.0
    assert run.host.state() == "private"
    assert run.logs == ["1 inject(s) so far"]
    [finished] = events(run.journal, "responder.finished")
    assert (finished["t"], finished["outcome"]) == (416.0, "returned")
    assert finished["responder"] == f"runbook:{tmp_path / 'contain.py'}"


def test_a_runbook_error_is_journaled_and_shown_and_the_run_goes_on(
    run: Run, tmp_path: Path, events: Events
) -> None:
    path = write(
        tmp_path / "careless.py",
        "def respond(ctx):\n"
        "    notice = ctx.wait_for('email')\n"
        "    ctx.note('looking for the key')\n"
        "    return notice.data['access_key_id']\n",
    )
    run.deliver_at(116, "case-email")
    ticks: list[float] = []
    run.timeline.schedule_every(lambda: ticks.append(run.clock.now()), 600, start=0)
    run.play(RunbookResponder(path))

    [error] = events(run.journal, "responder.error")
    assert error["t"] == 116.0
    assert error["actor"] == "responder"
    assert error["message"] == "KeyError: 'access_key_id'"
    assert f'File "{path}", line 4, in respond' in error["traceback"]
    assert "responders.py" not in error["traceback"]
    assert run.logs[0].startswith(f"runbook:{path} failed at t=1m56s:")
    assert ticks[-1] == 3600.0  # the timeline went on to the end
    [finished] = events(run.journal, "responder.finished")
    assert finished["outcome"] == "error"


def test_a_runbook_still_waiting_at_the_end_is_stopped_even_through_except_exception(
    run: Run, tmp_path: Path, events: Events
) -> None:
    path = write(
        tmp_path / "stubborn.py",
        "def respond(ctx):\n"
        "    while True:\n"
        "        try:\n"
        "            ctx.wait_for('phone-call')\n"
        "        except Exception:\n"
        "            ctx.note('retrying')\n",
    )
    run.play(RunbookResponder(path))
    assert events(run.journal, "note") == []
    [finished] = events(run.journal, "responder.finished")
    assert (finished["t"], finished["outcome"]) == (3600.0, "run-ended")


def test_a_runbook_that_exits_is_done_and_the_run_goes_on(
    run: Run, tmp_path: Path, events: Events
) -> None:
    path = write(
        tmp_path / "quits.py",
        "import sys\n\ndef respond(ctx):\n    ctx.sleep(90)\n    sys.exit(0)\n",
    )
    run.play(RunbookResponder(path))
    [finished] = events(run.journal, "responder.finished")
    assert (finished["t"], finished["outcome"]) == (90.0, "exited")
    assert run.timeline.ended_at == 3600.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("def respond(ctx):\n    return (\n", ":2:"),
        ("def handle(ctx):\n    pass\n", "defines no respond\\(ctx\\)"),
        ("def respond(ctx, extra):\n    pass\n", "must take one argument"),
        ("import nonexistent_module_for_gameday\n", "importing the runbook failed"),
    ],
)
def test_runbook_mistakes_are_user_errors_before_the_run(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path / "broken.py", text)
    with pytest.raises(UserError, match=message) as raised:
        RunbookResponder(path)
    assert str(path) in str(raised.value)


# ── replay ────────────────────────────────────────────────────────────────────────────────


def test_replay_of_a_yaml_file(
    run: Run, tmp_path: Path, aws: MockSession, iam: Any, events: Events
) -> None:
    user = unique("backdoor")
    path = write(
        tmp_path / "response.yaml",
        f"""
- at: 2m
  aws: {{service: iam, action: CreateUser, params: {{UserName: {user}}}}}
- at: 3m
  note: Paged the incident lead
- at: 4m
  aws:
    service: iam
    action: TagUser
    params: {{UserName: {user}, Tags: [{{Key: incident, Value: IR-7}}]}}
- at: 5m
  repo: private
- at: 6m
  aws: {{service: iam, action: DeleteUser, params: {{UserName: {user}-missing}}}}
- at: 90s
  aws:
    {{service: secretsmanager, action: ListSecrets, region: eu-west-1, params: {{MaxResults: 5}}}}
""",
    )
    responder = ReplayResponder(path)
    assert [step.at for step in responder.steps] == [90, 120, 180, 240, 300, 360]
    run.play(responder, aws)

    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "incident", "Value": "IR-7"}]
    assert [(e["t"], e["text"]) for e in events(run.journal, "note")] == [
        (180.0, "Paged the incident lead")
    ]
    assert [e["t"] for e in events(run.journal, "repo.private")] == [300.0]
    assert run.logs == [f"{path}:13: iam:DeleteUser refused (NoSuchEntity)"]
    [finished] = events(run.journal, "responder.finished")
    assert (finished["t"], finished["outcome"]) == (360.0, "returned")


def test_replay_yaml_mistakes_are_located(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.yaml",
        "- at: 2m\n"
        "  aws: {service: iam, action: UpdateAccesKey}\n"
        "- at: 3m\n"
        "  note: two actions\n"
        "  repo: private\n"
        "- at: soon\n"
        "  note: when?\n"
        "- at: 4m\n"
        "  aws: {service: iamm, action: ListUsers}\n",
    )
    with pytest.raises(UserError) as raised:
        ReplayResponder(path)
    assert str(raised.value).splitlines() == [
        f"{path}:2:31: unknown action 'UpdateAccesKey' of iam — did you mean 'UpdateAccessKey'?",
        f"{path}:3:3: action: give exactly one action: aws, note or repo",
        f"{path}:6:7: at: 'soon' is not a duration — write it like 90s, 15m, 1h30m or 400d",
        f"{path}:9:18: unknown AWS service 'iamm' — did you mean 'iam'?",
    ]
    with pytest.raises(UserError, match="a list of timed actions"):
        ReplayResponder(write(tmp_path / "map.yaml", "at: 5m\n"))


def test_replay_of_a_previous_runs_journal(
    run: Run, tmp_path: Path, aws: MockSession, iam: Any, events: Events
) -> None:
    user = unique("deployer")
    intruder = unique("intruder")
    before = Journal(tmp_path / "before" / "journal.jsonl", FixedClock(), durable=False)

    def call(t: float, actor: str, action: str, **params: Any) -> None:
        before.append(
            "api.call",
            t=t,
            actor=actor,
            access_key_id="AKIAPREVIOUSRUN00001",
            service="iam",
            action=action,
            region="us-east-1",
            params=params,  # as the gateway journals query-protocol calls: flat strings
            status=200,
            error_code=None,
        )

    call(100.5, "responder", "CreateUser", UserName=user)
    call(120.0, "attacker", "CreateUser", UserName=intruder)
    before.append("note", t=130.0, actor="responder", text="contained")
    before.append("note", t=140.0, actor="facilitator", text="not the responder's")
    call(
        150.0,
        "responder",
        "TagUser",
        UserName=user,
        **{"Tags.member.1.Key": "incident", "Tags.member.1.Value": "IR-9"},
    )
    call(155.0, "responder", "ListUsers", MaxItems="100")
    before.append("api.call", t=160.0, actor="responder", service="nosuch", action="Fly")
    before.append("repo.private", t=200.0, previous="public", deferred=True)
    before.close()

    responder = ReplayResponder(before.path)
    assert len(responder.skipped) == 1 and "unknown AWS service 'nosuch'" in responder.skipped[0]
    run.play(responder, aws)

    assert iam.get_user(UserName=user)["User"]["UserName"] == user
    assert iam.list_user_tags(UserName=user)["Tags"] == [{"Key": "incident", "Value": "IR-9"}]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=intruder)
    assert [(e["t"], e["text"]) for e in events(run.journal, "note")] == [(130.0, "contained")]
    assert [e["t"] for e in events(run.journal, "repo.private")] == [200.0]
    assert run.logs[0].startswith("replay:") and "not replayed" in run.logs[0]
    [finished] = events(run.journal, "responder.finished")
    assert finished["t"] == 200.0


@pytest.mark.parametrize(
    ("service", "action", "params", "expected"),
    [
        # query protocol, as the gateway journals it: flat keys, every value a string
        (
            "iam",
            "TagUser",
            {"UserName": "u", "Tags.member.1.Key": "k", "Tags.member.1.Value": "v"},
            {"UserName": "u", "Tags": [{"Key": "k", "Value": "v"}]},
        ),
        ("iam", "ListUsers", {"MaxItems": "10"}, {"MaxItems": 10}),
        # EC2's own flavour: lists without `member`, location names for members
        (
            "ec2",
            "DescribeInstances",
            {"InstanceId.1": "i-1", "InstanceId.2": "i-2", "DryRun": "false",
             "Filter.1.Name": "instance-type", "Filter.1.Value.1": "p3.16xlarge"},
            {"InstanceIds": ["i-1", "i-2"], "DryRun": False,
             "Filters": [{"Name": "instance-type", "Values": ["p3.16xlarge"]}]},
        ),
        # boto3-shaped parameters (a replay YAML) pass through
        (
            "ec2",
            "TerminateInstances",
            {"InstanceIds": ["i-1"]},
            {"InstanceIds": ["i-1"]},
        ),
        # REST: location names and strings from the URI and query string
        ("s3", "GetObject", {"Bucket": "b", "Key": "a/b", "x-id": "GetObject"},
         {"Bucket": "b", "Key": "a/b"}),
        ("lambda", "ListFunctions", {"MaxItems": "3"}, {"MaxItems": 3}),
        # JSON protocol: the body as sent
        ("secretsmanager", "PutSecretValue", {"SecretId": "s", "SecretString": "HIDDEN"},
         {"SecretId": "s", "SecretString": "HIDDEN"}),
    ],
)  # fmt: skip
def test_recorded_parameters_become_boto3_arguments(
    service: str, action: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert aws_call(service, action, "us-east-1", params).params == expected


def test_iam_prefixes_resolve_to_boto3_clients() -> None:
    assert aws_call("states", "ListStateMachines").service == "stepfunctions"
    assert aws_call("elasticloadbalancing", "DescribeTargetGroups").service == "elbv2"
    assert aws_call("ses", "CreateEmailIdentity").service == "sesv2"
    with pytest.raises(UnknownCall, match="did you mean 'stepfunctions'") as raised:
        aws_call("stepfunction", "ListStateMachines")
    assert raised.value.part == "service"


# ── choosing and isolating ────────────────────────────────────────────────────────────────


def test_responder_from_spec(tmp_path: Path) -> None:
    human = responder_from_spec("human")
    assert isinstance(human, HumanResponder) and not human.automated
    runbook = write(tmp_path / "noop.py", "def respond(ctx):\n    ctx.note('hello')\n")
    assert isinstance(responder_from_spec(str(runbook)), RunbookResponder)
    replay = write(tmp_path / "steps.yaml", "- {at: 1m, note: hello}\n")
    chosen = responder_from_spec(f"replay:{replay}")
    assert isinstance(chosen, ReplayResponder) and chosen.automated
    assert chosen.name == f"replay:{replay}"
    with pytest.raises(UserError, match="unknown responder 'robot'"):
        responder_from_spec("robot")
    with pytest.raises(UserError, match="no such file"):
        responder_from_spec(f"replay:{tmp_path / 'missing.yaml'}")


@pytest.fixture
def hostile_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine with real-looking AWS settings that must not reach the mock's sessions."""
    monkeypatch.setenv("AWS_PROFILE", "production-admin")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENTKEY01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(write(tmp_path / "config", "[default]\n")))
    yield


@pytest.mark.usefixtures("hostile_environment")
def test_mock_session_ignores_the_machines_aws_settings(moto_endpoint: str) -> None:
    session = MockSession(
        endpoint_url=moto_endpoint, access_key_id="AKIARESPONDERTEST002", secret_access_key=SECRET
    )
    sts = session.client("sts")
    assert sts.meta.endpoint_url == moto_endpoint
    assert sts.meta.region_name == "us-east-1"
    assert sts.get_caller_identity()["Account"]
    assert session.get_credentials().access_key == "AKIARESPONDERTEST002"
    assert session.resource("s3").meta.client.meta.endpoint_url == moto_endpoint


# ── a runbook is kept apart from the run's process ──────────────────────────────────────

REACHING_RUNBOOK = """
import gc
import os
import subprocess
from pathlib import Path


def respond(ctx):
    held = (hasattr(ctx, "journal"), hasattr(ctx, "clock"))
    ctx.note(f"journal attribute: {held[0]}, clock attribute: {held[1]}")
    import gameday.journal
    journals = [o for o in gc.get_objects() if isinstance(o, gameday.journal.Journal)]
    ctx.note(f"journals within reach: {len(journals)}")
    sleeper = subprocess.Popen(["sleep", "300"])
    (ctx.repo.parent / "sleeper.pid").write_text(str(sleeper.pid))
    forged = '{"seq":99,"t":1,"kind":"mark","step":"root-password","by":"facilitator"}\\n'
    for path in ctx.repo.parent.glob("*.jsonl"):
        with path.open("a") as journal:
            journal.write(forged)
    ctx.sleep("1m")
    ctx.note("still here")
"""


def test_a_runbook_cannot_reach_the_run_s_journal_or_outlive_the_run(
    run: Run, tmp_path: Path, events: Events
) -> None:
    run.deliver_at(60, "case-email")
    run.play(RunbookResponder(write(tmp_path / "reaching.py", REACHING_RUNBOOK)))

    notes = [e["text"] for e in events(run.journal, "note")]
    assert notes == [
        "journal attribute: False, clock attribute: False",
        "journals within reach: 0",
        "still here",
    ]
    assert events(run.journal, "mark") == []
    [foreign] = events(run.journal, "journal.foreign")
    assert "root-password" in foreign["excerpt"]
    pid = int((tmp_path / "sleeper.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and running(pid):
        time.sleep(0.05)
    assert not running(pid), "a process the runbook started outlived the run"
