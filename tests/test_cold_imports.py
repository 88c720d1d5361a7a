"""The command line's cold paths stay light: checking or listing scenarios starts no mock.

`gameday validate`, `list` and `schema` run in editors, pre-commit hooks and CI lint jobs;
they must not pay for moto, boto3 or botocore (a second or more of imports). Each command
runs in a fresh interpreter with `-X importtime`, which names every module it imports.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gameday.paths import PROJECT_ROOT, SCENARIOS

HEAVY = ("moto", "boto3", "botocore", "werkzeug", "flask")


def _imported(*arguments: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gameday", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    modules: set[str] = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            modules.add(line.rsplit("|", 1)[1].strip())
    assert "gameday.cli" in modules  # the listing is the interpreter's, not empty
    return modules


@pytest.mark.parametrize(
    "arguments",
    [
        ("validate", str(SCENARIOS / "exported-keys-in-script.yaml")),
        ("validate", str(SCENARIOS)),
        ("list", str(SCENARIOS)),
        ("schema",),
    ],
    ids=["validate-file", "validate-library", "list", "schema"],
)
def test_a_cold_command_imports_no_aws_sdk_or_mock(arguments: tuple[str, ...]) -> None:
    modules = _imported(*arguments)
    heavy = sorted(m for m in modules if m.split(".", 1)[0] in HEAVY)
    assert heavy == [], f"`gameday {' '.join(arguments)}` imported {heavy[:10]}"


def test_validate_still_knows_the_aws_managed_policies() -> None:
    from gameday.exercise.preflight import aws_managed_policies

    known = aws_managed_policies()
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in known
    assert "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3" in known
    assert len(known) > 1000
