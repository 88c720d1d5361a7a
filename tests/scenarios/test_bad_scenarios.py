"""Every file in tests/scenarios/bad/ through the real `gameday validate`, as an author runs it.

Each bad file is the small scenario with one mistake an author really makes. Its first line,
`# expect: path:line:col: message`, is the first line `gameday validate` must print (from the
repository root); `# also:` lines that follow are the rest of the output, so a file reports
exactly its mistakes — no more, no fewer, and never a traceback. Each is validated in at
most 500 MB of address space and 10 seconds, the bounds a hostile file gets: in a subprocess
under those limits when the file would take a process's memory or time should a bound give
way (`BOUNDED`), and all of them at once; otherwise in this process, within the 10 seconds
(`gameday_here`: the same `python -m gameday`, without an interpreter started per file).
"""

from __future__ import annotations

import difflib
import math
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from gameday_cli import gameday_here

from . import BAD_DIR, REPO_ROOT, SMALL_SCENARIO

# What `gameday validate` may take for one hostile file: no more memory and time than this.
VALIDATE_MEMORY = 500 * 1024 * 1024
VALIDATE_SECONDS = 10.0

# A file that is not UTF-8 cannot hold its own expectation in a readable comment.
EXPECTED_HERE = {
    "not-utf8": [
        "tests/scenarios/bad/not-utf8.yaml:25:21: byte 0xe9 is not UTF-8 — save the file as UTF-8"
    ],
}

# Files that are not a variation of the small scenario.
NOT_VARIATIONS = {"empty-file", "top-level-list", "not-utf8"}

# Files that, were a bound to give way, would fill memory, recurse past the C stack or loop:
# validated one by one in a subprocess under the limits, never in the test process.
BOUNDED = {
    "yaml-alias-bomb",
    "nesting-500-deep",
    "template-huge-power",
    "template-huge-repeat",
    "template-nested-loops",
    "miner-relaunching-every-0s",
    "workload-probed-every-0s",
}


@dataclass(frozen=True)
class BadFile:
    path: Path
    expected: list[str]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def shown(self) -> str:
        """The path as `gameday validate` prints it when run from the repository root."""
        return self.path.relative_to(REPO_ROOT).as_posix()


def read_bad_file(path: Path) -> BadFile:
    if path.stem in EXPECTED_HERE:
        return BadFile(path, EXPECTED_HERE[path.stem])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].startswith("# expect: "), f"{path}: first line must be '# expect: …'"
    expected = [lines[0].removeprefix("# expect: ")]
    expected += [line.removeprefix("# also: ") for line in lines[1:] if line.startswith("# also: ")]
    return BadFile(path, expected)


BAD_FILES = [read_bad_file(path) for path in sorted(BAD_DIR.glob("*.yaml"))]


def gameday(*args: str, seconds: float = 60) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS` from the repository root, in at most 500 MB and `seconds` of CPU."""
    return subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=seconds * 3,
        check=False,
        preexec_fn=bounded(seconds),
    )


def bounded(seconds: float) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (VALIDATE_MEMORY, VALIDATE_MEMORY))
        cpu = math.ceil(seconds)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))

    return limit


def with_known_poor(files: list[BadFile]) -> list[object]:
    return [pytest.param(bad, id=bad.name) for bad in files]


def test_there_are_enough_distinct_mistakes() -> None:
    assert len(BAD_FILES) >= 30
    messages = [bad.expected[0].split(": ", 1)[1] for bad in BAD_FILES]
    repeated = {m for m in messages if messages.count(m) > 1}
    assert not repeated, f"two files test the same mistake: {repeated}"


def test_every_special_case_names_an_existing_file() -> None:
    names = {bad.name for bad in BAD_FILES}
    assert set(EXPECTED_HERE) <= names
    assert names >= NOT_VARIATIONS
    assert names >= BOUNDED


@pytest.mark.parametrize("bad", [b for b in BAD_FILES if b.name not in NOT_VARIATIONS], ids=str)
def test_bad_file_is_the_small_scenario_with_one_mistake(bad: BadFile) -> None:
    lines = [
        line
        for line in bad.path.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    changed = [
        d for d in difflib.ndiff(SMALL_SCENARIO.splitlines(), lines) if d.startswith(("+ ", "- "))
    ]
    # one mistake touches a few lines (a renamed key, or a short block added or removed)
    assert 0 < len(changed) <= 16, "\n".join(changed)


@pytest.mark.parametrize("bad", with_known_poor(BAD_FILES))
def test_validate_reports_exactly_the_expected_problems(bad: BadFile) -> None:
    # each within the bounds a hostile file gets: 500 MB of address space and 10 s
    started = time.monotonic()
    if bad.name in BOUNDED:
        result = gameday("validate", bad.shown, seconds=VALIDATE_SECONDS)
    else:
        result = gameday_here("validate", bad.shown, timeout=VALIDATE_SECONDS)
    assert time.monotonic() - started < VALIDATE_SECONDS
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 2, output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[:1] == bad.expected[:1]
    assert lines == bad.expected


def test_three_mistakes_in_one_file_are_reported_together() -> None:
    three = next(bad for bad in BAD_FILES if bad.name == "three-mistakes")
    result = gameday_here("validate", three.shown)
    lines = result.stderr.splitlines()
    assert result.returncode == 2
    assert len(three.expected) == 3
    assert lines == three.expected
    # sorted by position, each in a different section of the scenario
    positions = [tuple(int(n) for n in line.split(":")[1:3]) for line in lines]
    assert positions == sorted(positions)
    assert any("unknown field 'attaker'" in line for line in lines)
    assert any("'phase'" in line for line in lines)
    assert any("unknown key 'deploy-kye'" in line for line in lines)


@pytest.mark.slow
def test_validating_many_files_at_once_reports_every_problem_of_every_file() -> None:
    # in a subprocess, within the bounds of a hostile file: 500 MB of address space
    files = list(BAD_FILES)
    result = gameday("validate", *(bad.shown for bad in files))
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "Traceback" not in output
    assert result.stderr.splitlines() == [line for bad in files for line in bad.expected]
