"""Fuzzing `gameday validate` with mutations of the library's scenarios.

Hypothesis takes a library scenario and changes it the way a careless or hostile author
would: a value of another type, a number at the edge (zero, negative, huge, infinite, not a
number), text with control characters, line breaks, template code, paths that climb out,
a structure removed, repeated or nested deep — or the YAML text itself cut and spliced.
Whatever comes out, validating it must end in a scenario or in located problems: never
another exception, every problem with a line and a column inside the file and a hint after
" — ", each file within the time a hostile file gets, and the process within its memory.
"""

from __future__ import annotations

import copy
import time
import tracemalloc
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.errors import ScenarioError
from gameday.exercise.preflight import scenario_checks
from gameday.scenario import parse_scenario

from . import REPO_ROOT

LIBRARY = {path.stem: path.read_text() for path in sorted((REPO_ROOT / "scenarios").glob("*.yaml"))}
CHECKS = scenario_checks()
SECONDS_PER_FILE = 10.0
MEMORY_MB = 500

NUMBERS = (
    st.sampled_from(
        [0, -1, 1, 59, 10**6, 10**30, -(10**30), 0.5, 1e308, -1e308, float("inf"), float("nan")]
    )
    | st.integers()
    | st.floats()
)
HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\x1b[2J\x1b[31mred",
        "nul\x00byte",
        "two\nlines",
        "carriage\rreturn",
        "Bcc: x@evil.example\r\nX: y",
        "\u202eright-to-left",
        "../../etc/passwd",
        "/etc/passwd",
        "-q",
        "main/../../x",
        "a,b@example.com",
        "<script>alert(1)</script>",
        "{{ ''.__class__.__mro__ }}",
        "{{ lipsum.__globals__ }}",
        "{% include '/etc/passwd' %}",
        "{{ 9 ** (9 ** 10) }}",
        "{{ 'A' * 3000000000 }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        "{{ undefined_variable }}",
        "{{ 1 / 0 }}",
        "99999999d",
        "7d",  # a run's bound (a week), and just past it
        "8d",
        "0s",
        ".inf",
        "x" * 5000,
    ]
) | st.text(max_size=40)
LEAVES = st.none() | st.booleans() | NUMBERS | HOSTILE_TEXT


def deep(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


def mutated(value: Any, draw: st.DrawFn) -> Any:
    """`value` with one of its nodes changed (the node picked by Hypothesis)."""
    if isinstance(value, dict) and value and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(value, key=str)))
        action = draw(st.sampled_from(["descend", "descend", "delete", "replace"]))
        if action == "delete":
            return {k: v for k, v in value.items() if k != key}
        if action == "replace":
            return {**value, key: draw(LEAVES)}
        return {**value, key: mutated(value[key], draw)}
    if isinstance(value, list) and value and draw(st.integers(0, 3)):
        index = draw(st.integers(0, len(value) - 1))
        action = draw(st.sampled_from(["descend", "descend", "repeat", "drop"]))
        if action == "repeat":
            return value + [copy.deepcopy(value[index])] * draw(st.integers(1, 3))
        if action == "drop":
            return value[:index] + value[index + 1 :]
        return [*value[:index], mutated(value[index], draw), *value[index + 1 :]]
    return draw(
        LEAVES
        | st.builds(deep, st.integers(1, 60))
        | st.lists(LEAVES, max_size=3)
        | st.dictionaries(HOSTILE_TEXT, LEAVES, max_size=3)
    )


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    text = LIBRARY[draw(st.sampled_from(sorted(LIBRARY)))]
    if draw(st.booleans()):
        data = yaml.safe_load(text)
        for _ in range(draw(st.integers(1, 4))):
            data = mutated(data, draw)
        return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)
    # the text itself: lines dropped, repeated, swapped or cut
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "repeat", "cut", "insert"]))
        if action == "drop":
            del lines[index]
        elif action == "repeat":
            lines.insert(index, lines[index])
        elif action == "cut":
            lines[index] = lines[index][: draw(st.integers(0, len(lines[index])))]
        else:
            lines.insert(index, draw(st.sampled_from(["  - ", "&a x\n", "*a\n", "? [a]\n", "\t"])))
        if not lines:
            break
    return "".join(lines)


# The same files every run (derandomized): `make test` validates the first few dozen, the
# sweep (`make test-sweeps`, which CI runs too) ten times as many.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(FUZZ, max_examples=25)
@given(mutated_scenarios())
def test_validate_never_crashes_and_locates_every_problem(text: str) -> None:
    validates_and_locates(text)


@pytest.mark.sweep
@settings(FUZZ, max_examples=250)
@given(mutated_scenarios())
def test_validate_never_crashes_and_locates_every_problem_of_many_more_files(text: str) -> None:
    validates_and_locates(text)


def validates_and_locates(text: str) -> None:
    """Validation of `text` ends in time and memory, and every problem it finds is located."""
    started = time.monotonic()
    # What validating this file allocates at its peak — not the test process's own peak,
    # which reflects whatever else ran in the same worker before.
    tracemalloc.start()
    try:
        parse_scenario(text, "fuzzed.yaml", checks=CHECKS)
    except ScenarioError as error:
        assert error.problems
        last_line = text.count("\n") + 2
        for problem in error.problems:
            assert problem.path == "fuzzed.yaml"
            assert 1 <= problem.line <= last_line, problem
            assert problem.column >= 1, problem
            assert " — " in problem.message, problem
            assert "\n" not in str(problem) and "\x1b" not in str(problem), problem
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert time.monotonic() - started < SECONDS_PER_FILE
    assert peak / (1024 * 1024) < MEMORY_MB


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_the_library_itself_validates(name: str) -> None:
    parse_scenario(LIBRARY[name], f"{name}.yaml", checks=CHECKS)
