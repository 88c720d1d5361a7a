"""sessions-revoked: the attacker's temporary credentials are dead, by the team's hand or time.

Only what the mock's gateway would refuse counts: a deny of every action to sessions issued
before a time later than the attacker's session, a deny-all, the role deleted, the session
expired. A deny of a few actions, or one dated before the session, leaves it working.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from gameday.journal import iso

from .journals import T0, JournalBuilder, northwind
from .test_checks import verdict

ROLE = "release-automation"
CHECK = {"type": "sessions-revoked"}


def revoke(issued_before_s: float, actions: Any = "*") -> str:
    """An AWSRevokeOlderSessions-style document, as the IAM console writes it."""
    moment = T0 + timedelta(seconds=issued_before_s)
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Action": [actions] if isinstance(actions, str) else actions,
                    "Resource": ["*"],
                    "Condition": {"DateLessThan": {"aws:TokenIssueTime": iso(moment)}},
                }
            ],
        }
    )


def with_session(duration_s: float = 3600) -> JournalBuilder:
    journal = JournalBuilder(northwind())
    journal.at("60s").quarantine()
    journal.at("110s").call(
        "attacker",
        "sts:AssumeRole",
        {"RoleArn": f"arn:aws:iam::{journal.scenario.account.id}:role/{ROLE}"},
        {
            "AccessKeyId": "ASIAZKFEZJW7JFSW25D3",
            "Expiration": iso(T0 + timedelta(seconds=110 + duration_s)),
        },
    )
    journal.at("5m").deactivate("leaked")
    return journal


def put_role_policy(journal: JournalBuilder, at: str, document: str, name: str) -> None:
    journal.at(at).call(
        "responder",
        "iam:PutRolePolicy",
        {"RoleName": ROLE, "PolicyName": name, "PolicyDocument": document},
    )


def test_no_session_no_revocation_and_a_disabled_key_is_not_one() -> None:
    journal = JournalBuilder(northwind())
    assert not verdict(journal, CHECK).holds
    assert verdict(with_session(), CHECK) == (
        False,
        f"session ASIAZKFEZJW7JFSW25D3 of {ROLE} still works",
        None,
    )


def test_revoking_older_sessions_on_the_role_holds_and_is_the_teams() -> None:
    journal = with_session()
    put_role_policy(journal, "9m", revoke(9 * 60), "AWSRevokeOlderSessions")
    found = verdict(journal, CHECK)
    assert found.holds and found.by == "team"
    assert ROLE in found.reason


def test_a_revocation_dated_before_the_session_or_of_some_actions_only_does_not() -> None:
    journal = with_session()
    put_role_policy(journal, "9m", revoke(100), "AWSRevokeOlderSessions")  # before 110s
    assert not verdict(journal, CHECK).holds
    put_role_policy(journal, "10m", revoke(600, ["s3:*", "iam:*"]), "partial")
    assert not verdict(journal, CHECK).holds


def test_a_deny_all_on_the_role_or_deleting_it_revokes_too() -> None:
    journal = with_session()
    everything = json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    put_role_policy(journal, "9m", everything, "deny-all")
    assert verdict(journal, CHECK).holds

    journal = with_session()
    journal.at("9m").call("responder", "iam:DeleteRole", {"RoleName": ROLE})
    found = verdict(journal, CHECK)
    assert found.holds and found.by == "team" and "deleted" in found.reason


def test_undoing_the_revocation_brings_the_session_back() -> None:
    journal = with_session()
    put_role_policy(journal, "9m", revoke(540), "AWSRevokeOlderSessions")
    journal.at("12m").call(
        "responder",
        "iam:DeleteRolePolicy",
        {"RoleName": ROLE, "PolicyName": "AWSRevokeOlderSessions"},
    )
    assert not verdict(journal, CHECK).holds


def test_an_expired_session_is_dead_but_nobodys_doing() -> None:
    journal = with_session(duration_s=900)
    journal.at("20m").look_up_events()
    found = verdict(journal, CHECK)
    assert found.holds and found.by is None and "expired" in found.reason


def test_a_users_own_session_is_revoked_on_the_user() -> None:
    journal = JournalBuilder(northwind())
    journal.at("40s").call(
        "attacker",
        "sts:GetSessionToken",
        {"DurationSeconds": "43200"},
        {
            "AccessKeyId": "ASIAZKFEZJW7GETSESSN",
            "Expiration": iso(T0 + timedelta(seconds=40 + 43200)),
        },
    )
    journal.at("5m").deactivate("leaked")
    user = journal.scenario.leak.user
    assert verdict(journal, CHECK) == (
        False,
        f"session ASIAZKFEZJW7GETSESSN of {user} still works",
        None,
    )
    journal.at("9m").call(
        "responder",
        "iam:PutUserPolicy",
        {"UserName": user, "PolicyName": "AWSRevokeOlderSessions", "PolicyDocument": revoke(540)},
    )
    found = verdict(journal, CHECK)
    assert found.holds and found.by == "team" and user in found.reason
