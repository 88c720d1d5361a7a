"""The YAML examples of docs/scenario-format.md are scenarios that work, not prose.

Every ```yaml block of the guide is one of three things, told apart by what it holds:

- a whole scenario (it has every required top-level field): `gameday validate --deep
  --strict` must pass it — it loads, and played by nobody and by the reference runbook it
  shows nothing that would spoil a game day;
- whole top-level sections (every key a top-level field of the format, like `attacker:` or
  `steps:`): put in place of the same sections of the seed scenario the guide copies from,
  `scenarios/exported-keys-in-script.yaml`, the result must pass `gameday validate --strict`
  (and `--deep --strict` in the sweep);
- anything else — a piece of a section, indented as it would be inside one — must be YAML.

A block the guide shows on purpose as something that cannot stand in the seed (a placeholder
like `{…}`, a template folder beside the file) is preceded by `<!-- example: fragment -->`
and only read as YAML.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from gameday_cli import gameday, gameday_here

REPO_ROOT = Path(__file__).resolve().parents[1]
GUIDE = REPO_ROOT / "docs" / "scenario-format.md"
SEED = REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml"
FRAGMENT_MARK = "<!-- example: fragment -->"
REQUIRED = {"id", "title", "summary", "difficulty", "duration", "account", "leak", "steps"}
_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    line: int  # of the opening fence
    text: str
    marked: bool  # preceded by FRAGMENT_MARK

    @property
    def data(self) -> object:
        return yaml.safe_load(self.text)

    @property
    def kind(self) -> str:
        data = self.data
        if self.marked or not isinstance(data, dict) or self.text.startswith((" ", "\t")):
            return "fragment"
        if set(data) >= REQUIRED:
            return "scenario"
        if set(data) <= TOP_LEVEL:
            return "sections"
        return "fragment"


def _top_level_fields() -> set[str]:
    from gameday.scenario.model import Scenario

    return set(Scenario.model_fields)


TOP_LEVEL = _top_level_fields()


def examples() -> list[Example]:
    text = GUIDE.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        found.append(
            Example(text[: match.start()].count("\n") + 1, match.group(1), before == FRAGMENT_MARK)
        )
    return found


def write_examples(folder: Path, kind: str) -> dict[Path, int]:
    """Each example of `kind` as a scenario file in `folder`, by the guide's line."""
    seed = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    written: dict[Path, int] = {}
    for example in examples():
        if example.kind != kind:
            continue
        path = folder / f"scenario-format-line-{example.line}.yaml"
        if kind == "scenario":
            path.write_text(example.text, encoding="utf-8")
        else:
            data = example.data
            assert isinstance(data, dict)
            merged = copy.deepcopy(seed)
            merged.update(data)
            path.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
        written[path] = example.line
    return written


def test_every_example_is_yaml_and_the_guide_has_a_whole_scenario() -> None:
    kinds = [example.kind for example in examples()]  # each parses, or this raises
    assert kinds.count("scenario") >= 1
    assert kinds.count("sections") >= 8


def test_the_whole_scenarios_pass_deep_strict_validation(tmp_path: Path) -> None:
    written = write_examples(tmp_path, "scenario")
    # in this process, played on the worker's warm mock; the sweep below runs a process
    result = gameday_here("validate", "--deep", "--strict", *map(str, written), timeout=600)
    where = ", ".join(f"{GUIDE.name}:{line}" for line in written.values())
    assert result.returncode == 0, f"examples at {where}:\n{result.stderr}"
    assert result.stderr == ""


def test_the_sections_fit_the_seed_scenario(tmp_path: Path) -> None:
    written = write_examples(tmp_path, "sections")
    result = gameday_here("validate", "--strict", *map(str, written))
    assert result.returncode == 0, _located(result.stderr, written)


@pytest.mark.sweep
def test_the_sections_pass_deep_strict_validation_in_the_seed(tmp_path: Path) -> None:
    written = write_examples(tmp_path, "sections")
    result = gameday("validate", "--deep", "--strict", *map(str, written))
    assert result.returncode == 0, _located(result.stderr, written)


def _located(stderr: str, written: dict[Path, int]) -> str:
    """The messages, each file named by the guide's line it came from."""
    for path, line in written.items():
        stderr = stderr.replace(str(path), f"[{GUIDE.name}:{line} in {SEED.name}]")
    return stderr
