"""The scenario commands of the real CLI: `gameday validate`, `gameday list`, `gameday schema`.

Run in this process (`gameday_here`, the same `python -m gameday`); `schema` once in a
subprocess too, as tests/test_gameday_cli.py runs `validate` and `list`.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from gameday_cli import gameday, gameday_here

from gameday.scenario import load_scenario
from gameday.scenario.durations import DURATION_PATTERN, format_duration

from . import REPO_ROOT, SMALL_SCENARIO

LIBRARY = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
SEED = REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml"


# ── validate ─────────────────────────────────────────────────────────────────────────────


def test_validate_the_library_file_by_file() -> None:
    result = gameday_here("validate", *(p.relative_to(REPO_ROOT).as_posix() for p in LIBRARY))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{len(LIBRARY)} scenario(s) valid\n"


def test_validate_a_folder() -> None:
    result = gameday_here("validate", "scenarios")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{len(LIBRARY)} scenario(s) valid\n"


def test_validate_reports_only_the_broken_files(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(SMALL_SCENARIO, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(
        SMALL_SCENARIO.replace("difficulty: introductory", "difficulty: easy"), encoding="utf-8"
    )
    (tmp_path / "notes.txt").write_text("not a scenario", encoding="utf-8")
    result = gameday_here("validate", str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'bad.yaml'}:4:13: 'easy' is not allowed for 'difficulty' — expected one of: "
        "advanced, expert, intermediate, introductory"
    ]


def test_validate_a_missing_file() -> None:
    result = gameday_here("validate", "scenarios/no-such-scenario.yaml")
    assert result.returncode == 2
    assert result.stderr == "scenarios/no-such-scenario.yaml:1:1: no such file — check the path\n"


def test_validate_needs_a_path() -> None:
    result = gameday_here("validate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# ── list ─────────────────────────────────────────────────────────────────────────────────


def test_list_shows_id_title_difficulty_and_duration_of_each_scenario() -> None:
    result = gameday_here("list")
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "difficulty", "duration"]
    assert len(lines) == 1 + len(LIBRARY)
    for path in LIBRARY:
        scenario = load_scenario(path)
        [row] = [line for line in lines if line.startswith(scenario.id + " ")]
        fields = [
            scenario.id,
            scenario.title,
            scenario.difficulty,
            format_duration(scenario.duration),
        ]
        positions = [row.index(field) for field in fields]
        assert positions == sorted(positions), row


def test_list_a_folder_with_a_broken_scenario(tmp_path: Path) -> None:
    shutil.copy(SEED, tmp_path / SEED.name)
    (tmp_path / "half-written.yaml").write_text("id: half-written\n", encoding="utf-8")
    result = gameday_here("list", str(tmp_path))
    assert result.returncode == 0
    [broken] = [line for line in result.stdout.splitlines() if "half-written.yaml" in line]
    assert "invalid: run `gameday validate` on it" in broken
    assert "exported-keys-in-script" in result.stdout
    assert result.stderr == f"1 scenario file(s) in {tmp_path} do not validate\n"


def test_list_a_missing_folder(tmp_path: Path) -> None:
    result = gameday_here("list", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# ── schema ───────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    result = gameday_here("schema")
    assert (result.returncode, result.stderr) == (0, "")
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.protocols.Validator, data: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(data)]


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: Path(p).stem)
def test_the_schema_accepts_every_library_scenario(
    validator: jsonschema.protocols.Validator, path: Path
) -> None:
    assert errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_the_schema_accepts_the_small_scenario(validator: jsonschema.protocols.Validator) -> None:
    assert errors(validator, yaml.safe_load(SMALL_SCENARIO)) == []


def test_the_schema_rejects_an_unknown_top_level_field(
    validator: jsonschema.protocols.Validator,
) -> None:
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    data["atacker"] = data.pop("attacker")
    assert errors(validator, data) == [
        "Additional properties are not allowed ('atacker' was unexpected)"
    ]


@pytest.mark.parametrize(
    ("where", "field"),
    [(("account",), "suport_plan"), (("leak", "repository"), "visibility"), (("steps", 0), "due")],
)
def test_the_schema_rejects_an_unknown_nested_field(
    validator: jsonschema.protocols.Validator, where: tuple[str | int, ...], field: str
) -> None:
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    target = data
    for part in where:
        target = target[part]
    target[field] = "x"
    assert errors(validator, data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("difficulty",), "easy"),
        (("account", "support_plan"), "premium"),
        (("account", "id"), 491826357014),
        (("account", "regions"), ["eu-west-7"]),
        (("duration",), "2 hours"),
        (("timeline", 0, "type"), "sms"),
        (("steps", 0, "check", "type"), "acess-key-disabled"),
        (("steps", 0, "phase"), "containment"),
    ],
)
def test_the_schema_rejects_wrong_values(
    validator: jsonschema.protocols.Validator, path: tuple[str | int, ...], value: object
) -> None:
    data = copy.deepcopy(yaml.safe_load(SEED.read_text(encoding="utf-8")))
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert errors(validator, data)


@pytest.mark.slow
def test_the_schema_uses_the_loaders_duration_pattern() -> None:
    result = gameday("schema")
    text = json.dumps(json.loads(result.stdout))
    assert json.dumps(DURATION_PATTERN) in text
    # the schema the other tests read, in this process, is the one a user gets
    assert result.stdout == gameday_here("schema").stdout
