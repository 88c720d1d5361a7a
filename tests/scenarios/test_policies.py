"""IAM policy documents of the estate, checked at validate time as IAM (and the mock) check them.

Every document the checker accepts is also accepted by moto's own validator, so the world
never stops half-way through seeding on a `MalformedPolicyDocument`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.iam.exceptions import MalformedPolicyDocument
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from gameday.scenario.policies import check_policies, check_policy

GOOD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadDeploys",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:List*"],
            "Resource": ["arn:aws:s3:::northwind-deploy", "arn:aws:s3:::northwind-deploy/*"],
            "Condition": {
                "Bool": {"aws:SecureTransport": "true"},
                "DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
                "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["team*"]},
            },
        },
        {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "*"},
        {
            "Effect": "Allow",
            "Action": "iam:GetUser",
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
    ],
}


def moto_accepts(document: Any) -> bool:
    try:
        IAMPolicyDocumentValidator(json.dumps(document)).validate()
    except MalformedPolicyDocument:
        return False
    return True


def problems(document: Any) -> list[str]:
    return [message for _, message in check_policy(document, ("document",))]


def with_statement(**changes: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **changes}
    return {
        "Version": "2012-10-17",
        "Statement": [{k: v for k, v in statement.items() if v is not None}],
    }


def test_a_good_policy_passes_here_and_in_the_mock() -> None:
    assert problems(GOOD) == []
    assert moto_accepts(GOOD)


BAD = {
    "unknown top element": ({**GOOD, "Statements": []}, "unknown policy element 'Statements'"),
    "no version": ({"Statement": GOOD["Statement"]}, "needs Version"),
    "old version": ({**GOOD, "Version": "2008-10-17"}, "only version 2012-10-17"),
    "no statement": ({"Version": "2012-10-17"}, "needs a Statement"),
    "empty statement list": ({"Version": "2012-10-17", "Statement": []}, "Statement is empty"),
    "unknown statement element": (with_statement(Expires="2027"), "unknown statement element"),
    "lower-case effect": (with_statement(Effect="allow"), "did you mean 'Allow'"),
    "no effect": (with_statement(Effect=None), "needs an Effect"),
    "no action": (with_statement(Action=None), "needs Action"),
    "action and not-action": (with_statement(NotAction="s3:*"), "not both"),
    "action without a service": (with_statement(Action="GetObject"), "not an action"),
    "action with two colons": (with_statement(Action="s3:Get:Object"), "not an action"),
    "empty action list": (with_statement(Action=[]), "Action is empty"),
    "a number as action": (with_statement(Action=[5]), "entries are text"),
    "resource not an arn": (with_statement(Resource="my-bucket"), "not a resource"),
    "iam resource with a region": (
        with_statement(Resource="arn:aws:iam:us-east-1:123456789012:user/x"),
        "carry no region",
    ),
    "unknown partition": (with_statement(Resource="arn:aws-moon:s3:::b"), "not an AWS partition"),
    "no resource": (with_statement(Resource=None), "needs Resource"),
    "a principal": (with_statement(Principal="*"), "names no Principal"),
    "unknown condition operator": (
        with_statement(Condition={"StringEqualz": {"aws:username": "x"}}),
        "did you mean 'StringEquals'",
    ),
    "a number in a condition": (
        with_statement(Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": 3600}}),
        "put it in quotes",
    ),
    "a date that is not one": (
        with_statement(Condition={"DateGreaterThan": {"aws:CurrentTime": "tomorrow"}}),
        "not a date",
    ),
    "duplicate sids": (
        {"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]},
        "used twice",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_malformed_document_is_named_with_a_fix(name: str) -> None:
    document, expected = BAD[name]
    found = problems(document)
    assert any(expected in message for message in found), found
    assert all(" — " in message for message in found)


PIECES = {
    "Sid": st.sampled_from(["", "A1", "a-b", 3]),
    "Effect": st.sampled_from(["Allow", "Deny", "allow", "", None]),
    "Action": st.sampled_from(
        ["s3:GetObject", "*", "s3:*", "GetObject", "s3:a:b", [], ["iam:*"], [1]]
    ),
    "NotAction": st.sampled_from(["iam:*", "x"]),
    "Resource": st.sampled_from(
        ["*", "arn:aws:s3:::b/*", "b", "arn:aws:iam::123456789012:user/x",
         "arn:aws:iam:us-east-1:1:user/x", "arn:aws:iam::1:thing/x", "arn:moon:s3:::b", [], [None]]
    ),
    "NotResource": st.sampled_from(["*", "x"]),
    "Condition": st.sampled_from(
        [{}, {"Bool": {"k": "true"}}, {"Bool": {"k": 1}}, {"Nope": {"k": "v"}}, {"Nope": {}},
         {"DateLessThan": {"k": "2026-01-01"}}, {"DateLessThan": {"k": "never"}}, "x"]
    ),
    "Principal": st.sampled_from(["*"]),
    "Bogus": st.sampled_from([1]),
}  # fmt: skip


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    def statement() -> dict[str, Any]:
        chosen = draw(st.sets(st.sampled_from(sorted(PIECES)), max_size=6))
        return {key: draw(PIECES[key]) for key in sorted(chosen)}

    document: dict[str, Any] = {}
    if draw(st.booleans()):
        document["Version"] = draw(st.sampled_from(["2012-10-17", "2008-10-17", "1"]))
    statements = [statement() for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        document["Statement"] = statements[0] if len(statements) == 1 else statements
    return document


# `make test` tries a few dozen documents; the sweep (`make test-sweeps`, in CI too) 300
@settings(max_examples=50, deadline=None)
@given(documents())
def test_a_document_accepted_here_is_accepted_by_the_mock(document: dict[str, Any]) -> None:
    accepted_here_means_accepted_by_the_mock(document)


@pytest.mark.sweep
@settings(max_examples=300, deadline=None)
@given(documents())
def test_many_more_documents_accepted_here_are_accepted_by_the_mock(
    document: dict[str, Any],
) -> None:
    accepted_here_means_accepted_by_the_mock(document)


def accepted_here_means_accepted_by_the_mock(document: dict[str, Any]) -> None:
    # the other way round need not hold: IAM refuses more than the mock does
    if not problems(document):
        assert moto_accepts(document), document


def test_sizes_follow_iam_quotas() -> None:
    big = with_statement(Resource=[f"arn:aws:s3:::bucket-{i}/*" for i in range(300)])
    data = {
        "account": {
            "id": "123456789012",
            "estate": {
                "policies": [{"name": "big", "document": big}],
                "users": [{"name": "u", "inline_policies": {"a": big}}],
            },
        }
    }
    messages = [message for _, message in check_policies(data)]
    assert any("a managed policy may hold 6,144" in m for m in messages)
    assert any("a user's inline policies together may hold 2,048" in m for m in messages)


def test_attached_policies_of_this_account_must_be_the_estates() -> None:
    data = {
        "account": {
            "id": "123456789012",
            "estate": {
                "policies": [{"name": "deploy", "document": GOOD}],
                "users": [
                    {
                        "name": "u",
                        "policies": [
                            "arn:aws:iam::123456789012:policy/deploy",
                            "arn:aws:iam::123456789012:policy/deplyo",
                            "arn:aws:iam::999999999999:policy/deploy",
                        ],
                    }
                ],
            },
        }
    }
    found = dict(check_policies(data))
    base = ("account", "estate", "users", 0, "policies")
    assert (*base, 0) not in found
    assert "did you mean" in found[(*base, 1)]
    assert "another account's policy" in found[(*base, 2)]
