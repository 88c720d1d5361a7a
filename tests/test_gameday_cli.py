"""The two ways the tests run `gameday`: in a subprocess, and in this process (`gameday_here`).

Tests whose point is a command's messages run it in-process, a hundred times faster; these
cases prove the two give the same exit code and the same bytes on stdout and stderr, and
that a call in-process leaves nothing behind for the next.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from gameday_cli import REPO_ROOT, gameday, gameday_here

BAD = "tests/scenarios/bad/three-mistakes.yaml"
WARNED = "tests/scenarios/warned/nobody-notified.yaml"
SEED = "scenarios/exported-keys-in-script.yaml"


def scenario_in(folder: Path) -> Path:
    """A scenario with a mistake in `folder`, known there by its name alone."""
    text = (REPO_ROOT / SEED).read_text(encoding="utf-8")
    path = folder / "typo.yaml"
    path.write_text(text.replace("phase: contain", "phase: containment", 1), encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("validate", BAD), id="errors"),
        pytest.param(("validate", SEED), id="clean"),
        pytest.param(("validate", WARNED), id="warning"),
        pytest.param(("validate", "--strict", WARNED), id="strict"),
        pytest.param(("validate", "scenarios/no-such-scenario.yaml"), id="missing-path"),
        pytest.param(("validate",), id="usage-error"),
        pytest.param(("list",), id="table"),
        pytest.param(("render", SEED), id="rendered-injects"),
    ],
)
def test_in_process_and_subprocess_agree_byte_for_byte(args: tuple[str, ...]) -> None:
    here, there = gameday_here(*args), gameday(*args)
    assert (here.returncode, here.stdout, here.stderr) == (
        there.returncode,
        there.stdout,
        there.stderr,
    )
    assert here.args == there.args
    assert here.stdout or here.stderr


@pytest.mark.slow
def test_they_agree_in_another_working_folder(tmp_path: Path) -> None:
    scenario_in(tmp_path)
    here = gameday_here("validate", "typo.yaml", cwd=tmp_path)
    there = gameday("validate", "typo.yaml", cwd=tmp_path)
    assert (here.returncode, here.stdout, here.stderr) == (
        there.returncode,
        there.stdout,
        there.stderr,
    )
    assert here.returncode == 2
    assert here.stderr.startswith("typo.yaml:")
    assert "'containment'" in here.stderr


def test_a_call_leaves_the_process_as_it_found_it(tmp_path: Path) -> None:
    import gameday.cli

    scenario_in(tmp_path)
    root = logging.getLogger()

    def state() -> tuple[object, ...]:
        return (
            dict(os.environ),
            os.getcwd(),
            list(sys.argv),
            sys.modules["__main__"],
            (sys.stdin, sys.stdout, sys.stderr),
            sys.modules["gameday.cli"],
            gameday.cli.stdout,
            root.handlers[:],
            root.level,
            list(warnings.filters),
        )

    before = state()
    first = gameday_here("validate", "typo.yaml", cwd=tmp_path)
    after = state()
    assert after == before
    # the next call sees what the first saw, not what it left
    second = gameday_here("validate", "typo.yaml", cwd=tmp_path)
    assert (second.returncode, second.stdout, second.stderr) == (
        first.returncode,
        first.stdout,
        first.stderr,
    )


def test_a_call_past_its_deadline_is_stopped_like_a_subprocess() -> None:
    # the library takes seconds to validate: stopped in the middle
    with pytest.raises(subprocess.TimeoutExpired):
        gameday_here("validate", "scenarios", timeout=0.2)
    # and the process is whole again
    result = gameday_here("validate", SEED)
    assert (result.returncode, result.stdout, result.stderr) == (0, "1 scenario(s) valid\n", "")
