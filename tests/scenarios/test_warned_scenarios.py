"""Every file in tests/scenarios/warned/ through the real `gameday validate`, with and without
`--strict`.

Each is the small scenario with one thing that loads and runs but would spoil the game day.
Its first line, `# warn: path:line:col: warning: message`, is the first line `gameday validate`
prints on stderr (`# also:` lines follow for the rest): exit 0 and the files counted valid,
or exit 2 with the same lines under `--strict`. Run in this process (`gameday_here`, the same
`python -m gameday`); tests/test_gameday_cli.py holds it to a subprocess's bytes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gameday_cli import gameday_here, shown

from . import REPO_ROOT, SMALL_SCENARIO

WARNED_DIR = Path(__file__).resolve().parent / "warned"


def expected_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# warn: "), f"{path}: first line must be '# warn: …'"
    return [lines[0].removeprefix("# warn: ")] + [
        line.removeprefix("# also: ") for line in lines[1:] if line.startswith("# also: ")
    ]


WARNED = sorted(WARNED_DIR.glob("*.yaml"))


def test_the_small_scenario_has_no_warning(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_SCENARIO, encoding="utf-8")
    result = gameday_here("validate", "--strict", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "1 scenario(s) valid\n"


@pytest.mark.parametrize("path", WARNED, ids=lambda p: p.stem)
def test_a_warning_is_printed_like_an_error_and_passes(path: Path) -> None:
    result = gameday_here("validate", shown(path))
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == expected_lines(path)
    count = len(expected_lines(path))
    assert result.stdout == f"1 scenario(s) valid, {count} warning(s)\n"


@pytest.mark.parametrize("path", WARNED, ids=lambda p: p.stem)
def test_strict_fails_on_a_warning(path: Path) -> None:
    result = gameday_here("validate", "--strict", shown(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == expected_lines(path)


def test_the_library_validates_strictly() -> None:
    library = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
    result = gameday_here("validate", "--strict", *(shown(p) for p in library))
    assert (result.returncode, result.stderr) == (0, "")
