"""The console's door and its inbox, through Flask's test client: no mock account needed.

Nothing here reaches AWS: the door turns a request away before any call, and the inbox is
the team's Maildir, read from disk.
"""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from gameday.console.app import create_app
from gameday.console.aws import TeamAccount, TeamProfile

TOKEN = "the-console-token"
SUBJECT = "[SIMULATION — game day exercise] Your AWS account 491826357014 is compromised"


@pytest.fixture()
def client(tmp_path: Path) -> FlaskClient:
    mail = tmp_path / "mail"
    message = EmailMessage()
    message["From"] = "Amazon Web Services <no-reply-aws@amazon.example>"
    message["To"] = "security@northwind.example"
    message["Subject"] = SUBJECT
    message["Date"] = "Thu, 03 Dec 2026 13:16:46 +0000"
    message.set_content("SIMULATION — game day exercise.\nWe have found the access key <b>…")
    mailbox.Maildir(mail, create=True).add(message)
    profile = TeamProfile("AKIAXFAZCUMLMQ7ZXGLH", "s" * 40, "us-east-1", "http://127.0.0.1:9")
    app = create_app(TeamAccount(profile), mail, TOKEN, "491826357014")
    return app.test_client()


def sign_in(client: FlaskClient) -> None:
    signed = client.post("/login", data={"token": TOKEN, "next": "/inbox"})
    assert (signed.status_code, signed.headers["Location"]) == (302, "/inbox")


def test_nothing_opens_without_the_token(client: FlaskClient) -> None:
    for path in ("/", "/iam/users", "/inbox", "/ec2/instances?region=all"):
        turned = client.get(path)
        assert turned.status_code == 302 and turned.headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "SIMULATION — game day exercise" in text and "<script" not in text
    wrong = client.post("/login", data={"token": "guess"})
    assert "not this exercise&#39;s console token" in wrong.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302
    # somewhere else to go after signing in is only ever a path of the console's own
    sent = client.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert sent.headers["Location"] == "/"


def test_a_button_needs_the_form_token_of_the_session(client: FlaskClient) -> None:
    sign_in(client)
    forged = client.post("/iam/users/ohgodpleasenotme/keys/AKIAXFAZCUMLA5Z6R435",
                         data={"action": "deactivate"})  # fmt: skip
    assert forged.status_code == 403
    forged = client.post("/support/case-1/reply", data={"body": "x", "form_token": "guess"})
    assert forged.status_code == 403


def test_the_inbox_shows_the_team_mail_as_text_and_leaves_the_maildir_alone(
    client: FlaskClient, tmp_path: Path
) -> None:
    sign_in(client)
    listed = client.get("/inbox").get_data(as_text=True)
    assert "SIMULATION — game day exercise" in listed and "security@northwind.example" in listed
    [key] = [p.name for p in (tmp_path / "mail" / "new").iterdir()]
    assert f'href="/inbox/{key}"' in listed
    shown = client.get(f"/inbox/{key}").get_data(as_text=True)
    assert "We have found the access key &lt;b&gt;…" in shown  # text, never markup
    assert "2026-12-03 13:16:46 UTC" in shown
    assert [p.name for p in (tmp_path / "mail" / "new").iterdir()] == [key]
    assert client.get("/inbox/no-such-message").status_code == 404
