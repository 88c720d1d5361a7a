"""Emails through a real SMTP server (aiosmtpd), parsed back with the standard library."""

from __future__ import annotations

import mailbox
import socket
import ssl
import subprocess
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import ValidationError

from gameday.errors import UserError
from gameday.exercise.injects import MARKER, InjectOptions, SmtpOptions, deliver

from .harness import Harness, LeakedUser, scenario_for

CASE_OPENED = [
    {"id": "case", "type": "support-case", "at": "2m"},
    {"id": "case-email", "type": "email", "at": "2m", "to": ["security", "primary"]},
]


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def test_case_opened_email_arrives_over_smtp_and_in_the_maildir(
    harness: Harness, leaked_user: LeakedUser, smtp_server
) -> None:
    controller, catcher = smtp_server()
    scenario = scenario_for(leaked_user.user_name, CASE_OPENED)
    options = InjectOptions(smtp=SmtpOptions("127.0.0.1", controller.port, timeout=5))
    ctx = harness.context(scenario, leaked_user.access_key_id, options=options)
    email_inject = scenario.timeline[1]

    delivered = deliver(email_inject, ctx)

    assert catcher.received.wait(5)
    envelope = catcher.envelopes[0]
    assert envelope.mail_from == "no-reply-aws@amazon.com"
    assert sorted(envelope.rcpt_tos) == ["dana@acme.example", "security@acme.example"]
    message = parse(envelope.original_content or b"")
    account, key, case_id = ctx.facts.account_id, leaked_user.access_key_id, ctx.facts.case_id
    assert message["From"] == "Amazon Web Services <no-reply-aws@amazon.com>"
    assert message["To"].addresses[0].addr_spec == "security@acme.example"
    assert message["To"].addresses[0].display_name == "Sam Secure"
    assert message["Date"].datetime == ctx.facts.at(120.0)
    assert message["Message-ID"].endswith("@gameday.invalid>")
    assert message["Subject"] == f"[{MARKER}] Your AWS account {account} is compromised"
    assert message["X-Gameday-Simulation"] == MARKER
    assert message.get_content_type() == "multipart/alternative"

    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert text_part is not None and html_part is not None
    # SMTP carries CRLF line ends; compare lines as a reader sees them.
    text = text_part.get_content().replace("\r\n", "\n")
    html = html_part.get_content().replace("\r\n", "\n")
    for body in (text, html):
        assert MARKER in body
        assert key in body
        assert leaked_user.user_name in body
        assert ctx.facts.public_url in body
    assert f"Amazon Web Services has opened case {case_id} on your behalf." in text
    assert f"Case ID: {case_id}\n" in text
    assert f"Subject: [{MARKER}] Your AWS account {account} is compromised\n" in text
    assert "Severity: Urgent\n" in text
    assert "Correspondence: " in text
    # the scenario has no quarantine inject: the notice claims no limits
    assert "temporarily limited" not in text
    assert "five (5) days" not in text

    # The Maildir copy is the same message, readable by any Maildir client.
    mail_dir = harness.run_dir / "mail"
    assert {p.name for p in mail_dir.iterdir()} >= {"new", "cur", "tmp"}
    box = mailbox.Maildir(mail_dir, factory=None, create=False)
    stored = list(box)
    assert len(stored) == 1
    assert stored[0]["Message-ID"] == message["Message-ID"]

    # What a runbook gets back, and what the journal says.
    assert delivered.kind == "email"
    assert delivered.subject == message["Subject"]
    assert {k: delivered.data[k] for k in ("account_id", "access_key_id", "user_name",
                                           "case_id", "public_url")} == {
        "account_id": account, "access_key_id": key, "user_name": leaked_user.user_name,
        "case_id": case_id, "public_url": ctx.facts.public_url,
    }  # fmt: skip
    (event,) = harness.events()
    assert event["kind"] == "inject.delivered"
    assert event["inject"] == "case-email"
    assert event["type"] == "email"
    assert event["t"] == 120.0
    assert event["subject"] == message["Subject"]
    assert event["smtp"] == {"status": "sent", "server": f"127.0.0.1:{controller.port}"}
    assert event["to"] == ["security@acme.example", "dana@acme.example"]
    assert event["message_id"] == message["Message-ID"]
    assert any(MARKER in line for line in harness.console_lines)


def test_follow_up_warns_of_suspension_and_names_the_deadline(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [*CASE_OPENED, {"id": "follow-up", "type": "email", "at": "1h", "template": "follow-up"}],
    )
    harness.clock.t = 3600.0
    ctx = harness.context(scenario, leaked_user.access_key_id)

    delivered = deliver(scenario.timeline[2], ctx)

    message = parse((next((harness.run_dir / "mail" / "new").iterdir())).read_bytes())
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert message["Subject"].startswith(f"[{MARKER}] ")
    assert ctx.facts.case_id in message["Subject"]
    assert "five (5) days" in text
    assert "suspended" in text
    assert "terminate" in text
    # Five days from the case being opened (T+2m on 14 March), not from the follow-up.
    assert "Thu, 19 Mar 2026 09:32 UTC" in text
    assert delivered.data["template"] == "emails/follow-up"
    assert harness.events()[0]["smtp"] == {"status": "off"}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_login_uses_the_credentials_from_the_environment(
    harness: Harness, leaked_user: LeakedUser, smtp_server
) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # type: ignore[no-untyped-def]
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"relay-pass")

    controller, catcher = smtp_server(
        authenticator=authenticator, auth_require_tls=False, auth_required=True
    )
    smtp = SmtpOptions.parse(
        f"127.0.0.1:{controller.port}",
        environ={"GAMEDAY_SMTP_USER": "gameday", "GAMEDAY_SMTP_PASSWORD": "relay-pass"},
    )
    scenario = scenario_for(leaked_user.user_name, CASE_OPENED)
    deliver(scenario.timeline[1], harness.context(scenario, leaked_user.access_key_id,
                                                  options=InjectOptions(smtp=smtp)))  # fmt: skip

    assert catcher.received.wait(5)
    assert logins == [(b"gameday", b"relay-pass")]
    assert harness.events()[0]["smtp"]["status"] == "sent"


def test_smtp_over_starttls_with_a_private_ca(
    harness: Harness, leaked_user: LeakedUser, smtp_server, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
    except FileNotFoundError:
        pytest.skip("openssl is not installed")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    controller, catcher = smtp_server(tls_context=tls, require_starttls=True)
    smtp = SmtpOptions("127.0.0.1", controller.port, starttls=True, cafile=str(cert), timeout=5)
    scenario = scenario_for(leaked_user.user_name, CASE_OPENED)

    deliver(scenario.timeline[1], harness.context(scenario, leaked_user.access_key_id,
                                                  options=InjectOptions(smtp=smtp)))  # fmt: skip

    assert catcher.received.wait(5)
    assert harness.events()[0]["smtp"]["status"] == "sent"


def test_an_unreachable_smtp_server_is_journaled_not_raised(
    harness: Harness, leaked_user: LeakedUser
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    scenario = scenario_for(leaked_user.user_name, CASE_OPENED)
    options = InjectOptions(smtp=SmtpOptions("127.0.0.1", port, timeout=2))

    deliver(
        scenario.timeline[1], harness.context(scenario, leaked_user.access_key_id, options=options)
    )

    (event,) = harness.events()
    assert event["smtp"]["status"] == "failed"
    assert "ConnectionRefusedError" in event["smtp"]["error"]
    assert len(list((harness.run_dir / "mail" / "new").iterdir())) == 1
    assert any("not sent by SMTP" in line for line in harness.console_lines)


def test_mail_from_option_replaces_the_sender(harness: Harness, leaked_user: LeakedUser) -> None:
    scenario = scenario_for(leaked_user.user_name, CASE_OPENED)
    options = InjectOptions(mail_from="Game Day <gameday@acme.example>")
    deliver(
        scenario.timeline[1], harness.context(scenario, leaked_user.access_key_id, options=options)
    )
    message = parse(next((harness.run_dir / "mail" / "new").iterdir()).read_bytes())
    assert message["From"].addresses[0].addr_spec == "gameday@acme.example"


def test_a_subject_with_a_line_break_is_refused(harness: Harness, leaked_user: LeakedUser) -> None:
    scenario = scenario_for(
        leaked_user.user_name,
        [{"id": "mail", "type": "email", "at": "2m",
          "subject": "Notice{{ '\\n' }}Bcc: everyone@acme.example"}],
    )  # fmt: skip
    with pytest.raises(UserError, match="line break"):
        deliver(scenario.timeline[0], harness.context(scenario, leaked_user.access_key_id))
    assert harness.events() == []


def test_a_contact_name_with_a_line_break_is_refused_before_any_run(
    leaked_user: LeakedUser,
) -> None:
    # the scenario format refuses it, so `gameday validate` reports it (not the room, mid-run)
    with pytest.raises(ValidationError, match="holds a line break"):
        scenario_for(
            leaked_user.user_name,
            [{"id": "mail", "type": "email", "at": "2m", "to": ["primary"]}],
            contacts={
                "primary": {"name": "Dana\r\nBcc: x@acme.example", "email": "dana@acme.example"}
            },
        )


def test_a_recipient_with_a_comma_is_refused_before_any_run(leaked_user: LeakedUser) -> None:
    with pytest.raises(ValidationError, match="soc,team@acme"):
        scenario_for(
            leaked_user.user_name,
            [{"id": "mail", "type": "email", "at": "2m", "to": ["soc,team@acme.example"]}],
        )
