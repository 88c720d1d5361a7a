"""The team's inbox: the Maildir in the team's room, read as a mail client would show it.

Reading never changes the Maildir (no message moves from `new/` to `cur/`): the folder stays
as the run delivered it, for the team's own mail client and for the facilitator.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass(frozen=True)
class Mail:
    key: str
    sender: str
    to: str
    subject: str
    date: str
    sort_key: float
    text: str


def read_inbox(folder: Path) -> list[Mail]:
    """Every message of the Maildir at `folder`, the newest first."""
    if not (folder / "new").is_dir():
        return []
    box = mailbox.Maildir(folder, factory=None, create=False)
    found = [_mail(key, box.get_bytes(key)) for key in box.iterkeys()]
    return sorted(found, key=lambda mail: mail.sort_key, reverse=True)


def read_mail(folder: Path, key: str) -> Mail | None:
    return next((mail for mail in read_inbox(folder) if mail.key == key), None)


def _mail(key: str, data: bytes) -> Mail:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    try:
        when = parsedate_to_datetime(str(message["Date"]))
        moment, shown = when.timestamp(), when.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except (TypeError, ValueError):
        moment, shown = 0.0, str(message["Date"] or "")
    body = message.get_body(preferencelist=("plain", "html"))
    text = body.get_content() if body is not None else ""
    return Mail(
        key=key,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or "(no subject)"),
        date=shown,
        sort_key=moment,
        text=str(text),
    )
