"""AWS's side as a responder who lived through a real leak reads it (FACTS.md §1.3–§1.6).

Two virtual-time runs of the seed scenario on the process's shared mock, each played once
for the module: the reference runbook (which replies to the case) and a team that does
nothing at all. Their mailboxes, call scripts, journals and consoles are read as the room
reads them — the Maildir files as bytes, the console as a log file — and `gameday render`
is held to what the silent run delivered.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from gameday.exercise.injects import Delivered, preview, run_facts
from gameday.exercise.injects.email import LINE_LIMIT, seven_bit, transfer_encoding
from gameday.exercise.injects.rendering import MARKER
from gameday.exercise.run import RunOptions, RunResult, run_exercise
from gameday.journal import Event, read_journal
from gameday.paths import PROJECT_ROOT, SCENARIOS
from gameday.scenario import Scenario, load_scenario
from gameday.world.account import MockAccount

SEED = 7
SEED_SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
RUNBOOKS = PROJECT_ROOT / "runbooks"


@dataclass(frozen=True)
class Played:
    result: RunResult
    console: str  # what the facilitator's console showed, written to a file (not a terminal)
    events: list[Event]

    @property
    def path(self) -> Path:
        return self.result.run_dir.path

    def delivered(self, inject: str) -> Event | None:
        return next(
            (e for e in self.events if e["kind"] == "inject.delivered" and e["inject"] == inject),
            None,
        )

    def skipped(self, inject: str) -> Event | None:
        return next(
            (e for e in self.events if e["kind"] == "inject.skipped" and e["inject"] == inject),
            None,
        )

    def mail(self) -> list[tuple[Path, bytes, EmailMessage]]:
        found = []
        for path in sorted((self.path / "mail" / "new").iterdir()):
            raw = path.read_bytes()
            message = email.message_from_bytes(raw, policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append((path, raw, message))
        return found

    def message(self, inject: str) -> tuple[Path, bytes, EmailMessage]:
        return next(m for m in self.mail() if m[2]["X-Gameday-Inject"] == inject)

    def at(self, t: float) -> datetime:
        started = next(e for e in self.events if e["kind"] == "run.started")
        return datetime.fromisoformat(started["t0"]) + timedelta(seconds=t)


def play(runbook: Path, out: Path, mock: MockAccount) -> Played:
    log = io.StringIO()
    options = RunOptions(
        team=runbook.stem,
        out=out,
        clock="virtual",
        responder=str(runbook),
        seed=SEED,
        live=False,
        account=mock,
    )
    # a console writing to a file, as a run's output piped to a log is
    result = run_exercise(
        SEED_SCENARIO, options, Console(file=log, highlight=False, soft_wrap=True)
    )
    return Played(result, log.getvalue(), read_journal(result.run_dir.journal))


@pytest.fixture(scope="module")
def replied(tmp_path_factory: pytest.TempPathFactory, mock_server: MockAccount) -> Played:
    """The reference runbook: it contains, cleans up and replies to AWS's case."""
    return play(RUNBOOKS / "reference.py", tmp_path_factory.mktemp("replied") / "run", mock_server)


@pytest.fixture(scope="module")
def silent(tmp_path_factory: pytest.TempPathFactory, mock_server: MockAccount) -> Played:
    """A team that never answers: every inject the run decides on fires on time."""
    folder = tmp_path_factory.mktemp("silent")
    runbook = folder / "silent.py"
    runbook.write_text("def respond(ctx):\n    return None\n", encoding="utf-8")
    return play(runbook, folder / "run", mock_server)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return load_scenario(SEED_SCENARIO)


# ── 1. the notice asks for every step of the real one, in its wording ────────────────────

# FACTS.md §1.5, step by step (and the root user's access keys, which the real notice names)
REAL_STEPS = {
    "root password": r"root user'?s? password|password of your AWS account root user"
    r"|root (user )?password",
    "root MFA": r"(multi-factor authentication|MFA)",
    "root access keys": r"access keys of the root user|access keys? of\s+the root user"
    r"|root user has no access keys|any access keys? of the root user",
    "every key made before": r"(every|all)( other)? (IAM )?access keys?[\s\S]{0,60}created before",
    "keys not exposed too": r"not only the exposed one|whether or not it was exposed"
    r"|also the others",
    "CloudTrail": r"CloudTrail",
    "IAM users": r"IAM users",
    "login profiles": r"login profiles",
    "access keys": r"access keys",
    "policies": r"policies",
    "roles": r"roles",
    "temporary credentials": r"temporary (security )?credentials",
    "every region": r"every AWS Region",
    "unused regions": r"(never used|do not use)",
    "EC2 instances": r"EC2 instances",
    "Spot": r"Spot requests",
    "Lambda": r"Lambda functions",
    "reply": r"Reply (to|on) (this )?case",
}
NOTICES = ["cases/account-compromised", "cases/access-key-exposed", "emails/follow-up"]


def rendered_notice(scenario: Scenario, template: str) -> Delivered:
    kind = "support-case" if template.startswith("cases/") else "email"
    data = scenario.model_dump(exclude_none=True)
    data["timeline"] = [
        i for i in data["timeline"] if i["type"] == "support-case" or i["id"] == "follow-up"
    ]
    for inject in data["timeline"]:
        if inject["type"] == kind:
            inject["template"] = template
    changed = Scenario.model_validate(data)
    facts = run_facts(changed, seed=SEED)
    return next(d for d in preview(changed, facts) if d.kind == kind)


@pytest.mark.parametrize("template", NOTICES)
def test_the_notice_asks_for_every_step_of_the_real_notice(
    scenario: Scenario, template: str
) -> None:
    notice = rendered_notice(scenario, template)
    text = " ".join(notice.body.split())  # the steps, whatever the line breaks
    missing = [step for step, pattern in REAL_STEPS.items() if not re.search(pattern, text)]
    assert missing == [], f"{template} lacks {missing}"
    assert MARKER in notice.body and MARKER in notice.subject


def test_the_notice_says_the_account_is_compromised(scenario: Scenario) -> None:
    notice = rendered_notice(scenario, "cases/account-compromised")
    account = scenario.account.id
    assert notice.subject == f"[{MARKER}] Your AWS account {account} is compromised"
    assert f"Your AWS account {account} is compromised." in notice.body
    assert "may be compromised" not in notice.body


# ── 2. AWS checks in after the reply; the five-day warning stays for the silent ──────────


def test_after_the_reply_aws_checks_in_by_email_and_by_phone(replied: Played) -> None:
    reply = next(
        e
        for e in replied.events
        if e["kind"] == "api.call"
        and e["action"] == "AddCommunicationToCase"
        and e["actor"] == "responder"
    )
    check_in = replied.delivered("check-in")
    call = replied.delivered("check-in-call")
    assert check_in is not None and call is not None
    assert reply["t"] < check_in["t"] <= call["t"]
    assert check_in["template"] == "emails/check-in"
    case_id = check_in["data"]["case_id"]
    assert check_in["subject"].startswith(f"[{MARKER}] Case {case_id}: please confirm")
    assert f"Thank you for your reply on case {case_id}" in check_in["body"]
    # the existing follow-up call script, written where calls go and shown to the facilitator
    assert call["template"] == "calls/follow-up"
    script = (replied.path / call["script"]).read_text(encoding="utf-8")
    assert script.startswith("# Follow-up call") and MARKER in script
    assert "Has the key" in script and case_id in script
    # a team that replied is not warned of suspension
    skipped = replied.skipped("follow-up")
    assert skipped is not None and skipped["reason"] == "unless: case-replied is true"
    assert "five (5) days" not in replied.message("check-in")[2].get_body(("plain",)).get_content()


def test_a_team_that_never_replies_still_gets_the_five_day_warning(silent: Played) -> None:
    warning = silent.delivered("follow-up")
    assert warning is not None and warning["template"] == "emails/follow-up"
    assert "within five (5) days" in warning["body"]
    for inject in ("check-in", "check-in-call"):
        skipped = silent.skipped(inject)
        assert skipped is not None, inject
        assert skipped["reason"] == "when: case-replied is false"
    assert [m[2]["X-Gameday-Inject"] for m in silent.mail()] == ["case-email", "follow-up"]


# ── 3. the email carries the field report's prevention advice ────────────────────────────

PREVENTION = {
    "git-secrets": r"git secrets --register-aws",
    "Trusted Advisor": r"Exposed Access Keys check of AWS Trusted Advisor",
    "EventBridge": r"EventBridge rule on the AWS Health event",
    "the Health event": r"AWS_RISK_CREDENTIALS_EXPOSED",
}


@pytest.mark.parametrize("inject", ["case-email", "check-in"])
def test_the_email_carries_the_prevention_advice(replied: Played, inject: str) -> None:
    _, _, message = replied.message(inject)
    for subtype in ("plain", "html"):
        part = message.get_body((subtype,))
        assert part is not None, subtype
        text = " ".join(re.sub(r"<[^>]+>", "", part.get_content()).split())
        missing = [name for name, pattern in PREVENTION.items() if not re.search(pattern, text)]
        assert missing == [], f"{inject} ({subtype}) lacks {missing}"


# ── 4. mail is readable as text ─────────────────────────────────────────────────────────


def test_every_maildir_file_reads_as_text_with_the_html_beside_it(replied: Played) -> None:
    messages = replied.mail()
    assert len(messages) == 2  # the case-opened email and the check-in
    for path, raw, message in messages:
        assert b"=E2=80" not in raw, path.name  # no quoted-printable soup
        body = raw.split(b"\n\n", 1)[1]
        text = body.decode("utf-8")  # the bytes on disk are UTF-8 text
        assert f"[{MARKER}] gameday wrote this email" in text
        plain, html = message.iter_parts()
        assert plain.get_content_type() == "text/plain"
        assert plain["Content-Transfer-Encoding"] == "8bit"
        assert plain.get_content_charset() == "utf-8"
        assert html.get_content_type() == "text/html"
        assert html["Content-Transfer-Encoding"] == "8bit"
        # what `cat` shows is the very text the responders were sent
        delivered = replied.delivered(message["X-Gameday-Inject"])
        assert delivered is not None
        assert delivered["body"] in text
        assert MARKER in html.get_content()


def test_only_a_line_too_long_for_8bit_goes_quoted_printable() -> None:
    assert transfer_encoding("short — line\n" * 40) == "8bit"
    assert transfer_encoding("é" * (LINE_LIMIT // 2) + "\n") == "8bit"
    assert transfer_encoding("é" * (LINE_LIMIT // 2 + 1) + "\n") == "quoted-printable"
    message = EmailMessage()
    message["Subject"] = "s"
    message.set_content(f"{MARKER}\n", cte="8bit")
    message.add_alternative(f"<p>{MARKER}</p>\n", subtype="html", cte="8bit")
    seven = seven_bit(message)  # for a server without 8BITMIME
    assert seven["Subject"] == "s"
    assert [p["Content-Transfer-Encoding"] for p in seven.iter_parts()] == ["quoted-printable"] * 2
    assert [p.get_content() for p in seven.iter_parts()] == [
        p.get_content() for p in message.iter_parts()
    ]


# ── 5. the call script reaches the facilitator whole ─────────────────────────────────────


def test_the_call_scripts_reach_a_logged_console_whole(replied: Played) -> None:
    scripts = sorted((replied.path / "calls").glob("*.md"))
    assert [p.name.split("-", 1)[1] for p in scripts] == ["enterprise-call.md", "check-in-call.md"]
    shown = replied.console.splitlines()
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert "[your name]" in text
        assert "You are " not in text
        assert "you play the caller (AWS Technical Account Manager)" in " ".join(text.split())
        for line in text.splitlines():
            if line.strip():
                assert line in shown, f"{script.name}: {line!r} not shown whole"


def render(scenario: Path, **environment: str) -> str:
    """`gameday render SCENARIO --seed SEED` with its output on a pipe, as a user runs it."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "render", str(scenario), "--seed", str(SEED)],
        cwd=PROJECT_ROOT,
        env={**inherited, "NO_COLOR": "1", **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def rendered() -> str:
    """The seed's preview on a pipe of the default width (80 columns)."""
    return render(SEED_SCENARIO)


def test_gameday_render_shows_every_line_whole_on_a_pipe(rendered: str) -> None:
    shown = rendered.splitlines()
    scenario = load_scenario(SEED_SCENARIO)
    for delivered in preview(scenario, run_facts(scenario, seed=SEED)):
        for line in delivered.body.splitlines():
            if line.strip():
                assert line in shown, f"{delivered.id}: {line!r} not shown whole"
    assert any("[your name]" in line for line in shown)
    headings = [line for line in shown if line.startswith("── T+")]
    assert len(headings) == len(scenario.timeline)
    assert all(MARKER in line for line in headings)
    assert any(
        "check-in-call" in h and h.endswith("when case-replied; unless case-resolved ──")
        for h in headings
    )


# ── 6. gameday render previews what a run with the same seed delivers ───────────────────


@pytest.mark.parametrize(
    ("which", "not_delivered"),
    [("silent", {"check-in", "check-in-call"}), ("replied", {"follow-up", "facilitator-hint"})],
)
def test_the_preview_is_what_the_run_delivered_field_by_field(
    which: str, not_delivered: set[str], scenario: Scenario, request: pytest.FixtureRequest
) -> None:
    played: Played = request.getfixturevalue(which)
    previews = {d.id: d for d in preview(scenario, run_facts(scenario, seed=SEED))}
    events = played.events
    delivered = [Delivered.from_event(e) for e in events if e["kind"] == "inject.delivered"]
    assert len(delivered) >= 6
    for got in delivered:
        wanted = previews[got.id]
        for field in ("kind", "id", "t", "subject", "body"):
            assert getattr(wanted, field) == getattr(got, field), (got.id, field)
        for key, value in wanted.data.items():
            if key == "event":  # EventBridge numbers the event it was put: only the run knows
                assert got.data[key]["id"] == next(
                    e["event_id"] for e in events if e.get("inject") == got.id
                )
                value = {**value, "id": got.data[key]["id"]}
            assert got.data[key] == value, (got.id, key)
    # what the preview shows and the run did not deliver is what the team's doing decides
    skipped = {e["inject"] for e in events if e["kind"] == "inject.skipped"}
    assert set(previews) == {d.id for d in delivered} | skipped
    assert skipped == not_delivered
    started = next(e for e in events if e["kind"] == "run.started")
    case = next(d for d in delivered if d.kind == "support-case")
    assert previews["case-email"].data["public_url"] == started["public_url"]
    assert case.data["case_id"] in previews["case-email"].body


def test_render_on_the_command_line_shows_the_runs_commit_and_case(
    silent: Played, rendered: str
) -> None:
    started = next(e for e in silent.events if e["kind"] == "run.started")
    case = silent.delivered("support-case")
    call = silent.delivered("enterprise-call")
    assert case is not None and call is not None
    assert started["public_url"] in rendered
    assert f"has opened case {case['data']['case_id']} on your behalf" in rendered
    when = silent.at(call["t"]).strftime("%a, %d %b %Y %H:%M UTC")
    assert f"- **When:** T+18m ({when})" in rendered


def test_render_leaves_out_the_enterprise_call_of_a_business_account(tmp_path: Path) -> None:
    data = yaml.safe_load(SEED_SCENARIO.read_text(encoding="utf-8"))
    data["account"]["support_plan"] = "business"
    business = tmp_path / "business.yaml"
    business.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    shown = render(business)
    headings = [line for line in shown.splitlines() if line.startswith("── T+")]
    shown = [line.split()[3] for line in headings]  # ── T+… kind id · …
    assert shown == [
        "quarantine",
        "support-case",
        "case-email",
        "health-event",
        "facilitator-hint",
        "follow-up",
        "check-in",
    ]
    assert "Phone call" not in shown


# ── 7. every date the run writes is on the run clock ────────────────────────────────────


@pytest.mark.parametrize("which", ["replied", "silent"])
def test_every_date_the_run_writes_is_the_run_clock(
    which: str, request: pytest.FixtureRequest
) -> None:
    played: Played = request.getfixturevalue(which)
    t0 = played.at(0.0)
    assert t0.year == 2026 and t0 < datetime.fromisoformat("2026-06-01T00:00:00+00:00")
    for path, _, message in played.mail():
        delivered = played.delivered(message["X-Gameday-Inject"])
        assert delivered is not None
        moment = played.at(delivered["t"])
        assert parsedate_to_datetime(message["Date"]) == moment
        assert path.name.split(".", 1)[0] == str(int(moment.timestamp()))
        assert path.stat().st_mtime == pytest.approx(moment.timestamp(), abs=1)
    for event in played.events:
        if event["kind"] == "inject.delivered" and event["type"] == "phone-call":
            script = (played.path / event["script"]).read_text(encoding="utf-8")
            when = played.at(event["t"]).strftime("%a, %d %b %Y %H:%M UTC")
            assert f"({when})" in script
            for written in (event["script"], event.get("audio")):
                if written is not None:  # the recording, where espeak-ng is installed
                    mtime = (played.path / written).stat().st_mtime
                    assert mtime == pytest.approx(played.at(event["t"]).timestamp(), abs=1)
    for event in played.events:
        assert event["time"] == _iso(played.at(event["t"])), event["kind"]
    if which == "silent":  # nobody touched the developer's clone: its reflog is the build's
        logs = [
            path for path in (played.path / "repo" / ".git" / "logs").rglob("*") if path.is_file()
        ]
        stamps = {
            int(line.split("\t")[0].split()[-2])
            for path in logs
            for line in path.read_text(encoding="utf-8").splitlines()
        }
        assert logs and stamps == {int(t0.timestamp())}
    # the code host's record of the team's request (the reference runbook makes it private)
    private = next((e for e in played.events if e["kind"] == "repo.private"), None)
    if which == "replied":
        assert private is not None
        host = json.loads((played.path / "code-host.json").read_text(encoding="utf-8"))
        assert host["requested_at"] == private["requested_at"] == private["time"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
