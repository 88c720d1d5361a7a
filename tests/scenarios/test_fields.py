"""The kinds of value a scenario holds: git's branch rules, addresses, names, tags, durations."""

from __future__ import annotations

import os
import re
import subprocess
from email.headerregistry import Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from gameday.scenario.fields import (
    EMAIL_PATTERN,
    Age,
    BranchName,
    Email,
    IamPath,
    PersonName,
    PolicyArn,
    PolicyRef,
    ProbeInterval,
    RunLength,
    RunTime,
    Tags,
    ref_format_problem,
    repository_path_problem,
)
from gameday.scenario.limits import MAX_AGE, MAX_RUN


def git_accepts_branch(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name],
        cwd=os.path.abspath(os.sep),
        capture_output=True,
        env={"PATH": os.environ["PATH"], "GIT_CONFIG_NOSYSTEM": "1", "HOME": os.devnull},
        check=False,
    )
    return result.returncode == 0


BRANCHES = [
    "main", "release/2026.03", "feature/x_y-z", "-q", "--upload-pack=x", "main/../../x",
    "a..b", ".hidden", "x/.y", "x.lock", "x/y.lock/z", "x/", "/x", "a//b", "x.", "@",
    "a@{1}", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "tab\there", "",
]  # fmt: skip


# git reads these as HEAD (and versions differ on them): gameday refuses them everywhere
READ_AS_HEAD = {"@", "HEAD"}


@pytest.mark.parametrize("name", BRANCHES)
def test_branch_names_follow_git_check_ref_format(name: str) -> None:
    if name in READ_AS_HEAD:
        assert ref_format_problem(name) is not None
    else:
        assert (ref_format_problem(name) is None) == git_accepts_branch(name), name


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab./-@{}~^:?*[ \\lock"), min_size=1, max_size=12))
def test_branch_rules_agree_with_git_on_tricky_names(name: str) -> None:
    if name in READ_AS_HEAD:
        return
    assert (ref_format_problem(name) is None) == git_accepts_branch(name), name


def test_a_refused_branch_says_why_and_what_to_use() -> None:
    with pytest.raises(ValidationError, match=r"starts with '-' .* try 'main'"):
        TypeAdapter(BranchName).validate_python("-q")


@pytest.mark.parametrize(
    "address",
    ["security@example.com", "first.last+tag@sub.example.co.uk", "o'neil@example.ie"],
)
def test_an_email_is_one_address_an_email_header_carries(address: str) -> None:
    assert TypeAdapter(Email).validate_python(address) == address
    assert Address(addr_spec=address).addr_spec == address


@pytest.mark.parametrize(
    "address",
    [
        "a,b@example.com",
        "a@example.com, b@example.com",
        "Name <a@example.com>",
        "a@example",
        "a@@example.com",
        "a b@example.com",
        "a@example.com\nBcc: x@y.z",
        "a@-example.com",
        ".a@example.com",
    ],
)
def test_an_email_with_more_than_one_address_or_a_header_in_it_is_refused(address: str) -> None:
    assert not re.match(EMAIL_PATTERN, address)
    with pytest.raises(ValidationError):
        TypeAdapter(Email).validate_python(address)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Dana\nBcc: x@y.z", "line break"),
        ("Dana\r", "line break"),
        ("Eve <eve@evil.example>", "'<' or '>'"),
        ("...", "not a name"),
        ("x" * 300, "over the 256"),
    ],
)
def test_names_are_one_line_without_an_address_of_their_own(name: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        TypeAdapter(PersonName).validate_python(name)


def test_iam_tags_follow_iam() -> None:
    assert TypeAdapter(Tags).validate_python({"team": "a b_c.d:e/f=g+h-i@j"})
    for tags, reason in (
        ({"aws:owner": "x"}, "'aws:' prefix"),
        ({"k" * 129: "x"}, "not a tag key"),
        ({"team": "x" * 257}, "not a tag value"),
        ({"team": "semi;colon"}, "not a tag value"),
        ({f"k{i}": "v" for i in range(51)}, "at most 50"),
    ):
        with pytest.raises(ValidationError, match=re.escape(reason)):
            TypeAdapter(Tags).validate_python(tags)


def test_iam_names_paths_and_account_ids_are_ascii_as_iam_has_them() -> None:
    from gameday.scenario.model import AccountId

    allowed = [
        (PolicyRef, "Break_Glass+ops=1,v.2@x-y"),
        (PolicyRef, "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        (PolicyArn, "arn:aws:iam::123456789012:policy/team/ops/" + "p" * 128),
        (IamPath, "/engineering/on-call/"),
        (AccountId, "123456789012"),
    ]
    for field, value in allowed:
        assert TypeAdapter(field).validate_python(value) == value
    refused = [
        (PolicyRef, "Ünïcode"),
        (PolicyRef, "p" * 129),
        (PolicyArn, "arn:aws:iam::١٢٣٤٥٦٧٨٩٠١٢:policy/x"),  # Arabic-Indic digits
        (IamPath, "/équipe/"),
        (AccountId, "١٢٣٤٥٦٧٨٩٠١٢"),
        (AccountId, "123456789012\n"),
    ]
    for field, value in refused:
        with pytest.raises(ValidationError, match="String should match pattern"):
            TypeAdapter(field).validate_python(value)


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "a/../b", ".git/config", "a\\b", "a//b", "a\x00b", "~/x"]
)
def test_a_repository_path_stays_in_the_work_tree(path: str) -> None:
    assert repository_path_problem(path) is not None
    assert repository_path_problem("scripts/deploy.sh") is None


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        (RunLength, "99999d", "longer than a run may last"),
        (RunLength, "30s", "too short"),
        (RunLength, "8d", "longer than a run may last: a week holds AWS's five days"),
        (RunLength, "7d1s", "(at most 7d)"),
        (RunTime, "8d", "later than any run lasts (at most 7d)"),
        (Age, "9000d", "further back"),
        (ProbeInterval, "0s", "too often"),
        (ProbeInterval, "5s", "too often"),
        (RunTime, float("nan"), "not a finite duration"),
        (RunTime, float("inf"), "not a finite duration"),
        (Age, 1e308, "longer than any duration"),
    ],
)
def test_durations_are_finite_and_bounded_per_field(
    kind: object, value: object, reason: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        TypeAdapter(kind).validate_python(value)


def test_the_bounds_themselves_are_allowed() -> None:
    assert TypeAdapter(RunLength).validate_python("7d") == MAX_RUN == 7 * 86400
    assert TypeAdapter(RunLength).validate_python("1w") == MAX_RUN
    assert TypeAdapter(RunTime).validate_python("6d23h59m") < MAX_RUN
    assert TypeAdapter(Age).validate_python(MAX_AGE) == MAX_AGE
    assert TypeAdapter(ProbeInterval).validate_python("10s") == 10.0
