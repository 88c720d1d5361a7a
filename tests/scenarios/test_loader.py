"""The loader: YAML with line marks, every problem located and reported at once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pydantic
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gameday.errors import Problem, ScenarioError
from gameday.scenario import Scenario, load_scenario, parse_scenario, validate_scenario_text
from gameday.scenario.limits import catalogue
from gameday.scenario.loader import Marks
from gameday.scenario.model import AccessKeyDisabled

from . import REPO_ROOT, SMALL_SCENARIO

LIBRARY = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))


def problems_of(text: str, path: str = "s.yaml") -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, path)
    return caught.value.problems


def changed(old: str, new: str, text: str = SMALL_SCENARIO) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def line_of(text: str, fragment: str) -> int:
    """1-based number of the only line holding `fragment`."""
    lines = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, fragment
    return lines[0]


def column_of(text: str, fragment: str) -> int:
    line = text.splitlines()[line_of(text, fragment) - 1]
    return line.index(fragment) + 1


# ── the library and the small scenario load ──────────────────────────────────────────────


def test_the_library_is_not_empty() -> None:
    assert LIBRARY


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: Path(p).stem)
def test_every_library_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    # `gameday list` shows ids and run folders are named after them: keep them on the file name
    assert scenario.id == path.stem


def test_the_small_scenario_loads_with_defaults_filled_in() -> None:
    scenario = parse_scenario(SMALL_SCENARIO)
    assert scenario.id == "small-leak"
    assert scenario.duration == 3600
    assert scenario.account.id == "491826357014"
    assert scenario.leak.key is None
    assert scenario.timeline[0].at == 67
    assert scenario.attacker.first_use == 180
    assert scenario.pass_mark == 70
    assert scenario.steps[0].check.type == "access-key-disabled"


def test_a_loaded_scenario_is_immutable() -> None:
    scenario = parse_scenario(SMALL_SCENARIO)
    with pytest.raises(pydantic.ValidationError):
        scenario.title = "changed"  # type: ignore[misc]


def test_anchors_aliases_and_merge_keys_work() -> None:
    text = changed(
        "    check: {type: access-key-disabled, key: leaked}\n",
        "    check: &disabled {type: access-key-disabled, key: leaked}\n",
    )
    text += (
        "  - <<: {title: Delete it, phase: eradicate, points: 10, target: 20m, deadline: 50m}\n"
        "    id: delete-leaked-key\n"
        "    check: {<<: *disabled, state: deleted}\n"
    )
    scenario = parse_scenario(text)
    assert [s.id for s in scenario.steps] == ["disable-leaked-key", "delete-leaked-key"]
    check = scenario.steps[1].check
    assert isinstance(check, AccessKeyDisabled)
    assert (check.key, check.state) == ("leaked", "deleted")
    assert scenario.steps[1].points == 10


DOCS = REPO_ROOT / "docs" / "scenario-format.md"


def yaml_blocks(markdown: str) -> list[str]:
    blocks = markdown.split("```yaml\n")[1:]
    return [block.split("```", 1)[0] for block in blocks]


def test_the_format_guide_opens_with_the_small_scenario() -> None:
    first = yaml_blocks(DOCS.read_text(encoding="utf-8"))[0]
    assert first == SMALL_SCENARIO
    assert parse_scenario(first).id == "small-leak"


def test_the_format_guide_lists_the_limits_the_code_has() -> None:
    text = DOCS.read_text(encoding="utf-8")
    generated = text.split("<!-- limits:start", 1)[1].split("-->", 1)[1]
    assert generated.split("<!-- limits:end -->")[0].lstrip("\n") == catalogue()


def test_the_format_guide_lists_every_check_type() -> None:
    from gameday.scoring.checks import CHECKS

    text = DOCS.read_text(encoding="utf-8")
    table = text.split("### Check types", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")][1:]  # no header
    listed = {line.split("`")[1] for line in rows}
    assert listed == CHECKS.names()


def the_guides_attacker(text: str) -> str:
    """The guide's attacker example, in place of the small scenario's attacker."""
    block = next(b for b in yaml_blocks(text) if b.startswith("attacker:\n  first_use"))
    small = SMALL_SCENARIO.split("attacker:\n", 1)
    rest = small[1].split("\nsteps:\n", 1)[1]
    cleanup = (
        "  - id: remove-leftovers\n    title: Remove what the attacker created\n"
        "    phase: eradicate\n    check: {type: attacker-leftovers-removed}\n"
        "    points: 20\n    target: 20m\n    deadline: 50m\n"
    )
    return small[0] + block + "\nsteps:\n" + rest + cleanup


def test_the_guides_attacker_creates_before_the_quarantine_refuses_it() -> None:
    text = DOCS.read_text(encoding="utf-8")
    scenario = the_guides_attacker(text)
    scenario = scenario.replace("regions: [us-east-1]", "regions: [us-east-1, eu-west-1]", 1)
    validated = validate_scenario_text(scenario, "guide.yaml")
    assert validated.warnings == ()
    # the same attacker at the times the guide used to give can only fail: warned
    late = scenario.replace("at: 65s", "at: 4m").replace("at: 90s\n", "at: 6m\n")
    [warning] = validate_scenario_text(late, "guide.yaml").warnings
    assert warning.message.startswith(
        "every technique that creates something comes after the quarantine ('quarantine' at "
        "1m7s) and its consistency window (30s)"
    )


def test_every_pattern_of_the_format_is_explained_in_words() -> None:
    # a message never shows a raw regular expression: each pattern has its own hint
    from gameday.scenario.loader import _pattern_hint

    patterns: set[str] = set()

    def collect(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(Scenario.model_json_schema())
    assert len(patterns) > 15
    for pattern in patterns:
        hint = _pattern_hint("name", pattern)
        assert "^" not in hint and "\\" not in hint and "docs/" not in hint, (pattern, hint)


def test_base_60_numbers_are_text_not_numbers() -> None:
    # YAML 1.1 reads 1:30 as 90; the scenario keeps what was typed
    text = changed("title: A deploy key pushed to a public repository", "title: 1:30")
    assert parse_scenario(text).title == "1:30"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(changed("duration: 1h", "duration: 1:30:00"))
    assert [p.message for p in caught.value.problems] == [
        "'1:30:00' is not a duration — write the units out: 1h30m for 1 hour 30 minutes"
    ]


def test_every_yaml_example_of_the_format_guide_is_plain_yaml() -> None:
    blocks = yaml_blocks(DOCS.read_text(encoding="utf-8"))
    assert len(blocks) > 10
    for block in blocks:
        assert isinstance(yaml.safe_load(textwrap.dedent(block)), dict), block


# ── where problems are reported ──────────────────────────────────────────────────────────


def test_an_unknown_field_is_reported_at_its_key() -> None:
    text = changed("attacker:\n", "atacker:\n")
    assert problems_of(text) == [
        Problem(
            "s.yaml",
            line_of(text, "atacker:"),
            1,
            "unknown field 'atacker' — did you mean 'attacker'?",
        )
    ]


def test_a_bad_value_is_reported_at_the_value() -> None:
    text = changed("phase: contain", "phase: containment")
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (line_of(text, "phase:"), column_of(text, "contain"))
    assert problem.message == "'containment' is not allowed for 'phase' — did you mean 'contain'?"


def test_a_bad_value_inside_a_flow_mapping_is_reported_at_the_value() -> None:
    text = changed("{id: deploy-key, age: 30d}", "{id: deploy-key, age: 30 days}")
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (line_of(text, "30 days"), column_of(text, "30 days"))
    assert problem.message == (
        "'30 days' is not a duration — write it like 90s, 15m, 1h30m or 400d"
    )


def test_a_missing_field_is_reported_at_its_mapping() -> None:
    text = changed("  vector: shell-export\n", "")
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (line_of(text, "  user: deployer"), 3)
    assert problem.message == "missing field 'vector' — add it here"


def test_a_number_where_text_belongs_says_to_quote_it() -> None:
    text = changed('id: "491826357014"', "id: 491826357014")
    [problem] = problems_of(text)
    assert problem.message == (
        "'id' must be text, not the number 491826357014 — put it in quotes: \"491826357014\""
    )


def test_problems_from_model_and_references_come_together_in_file_order() -> None:
    text = changed("  user: deployer\n", "  user: deploy\n")
    text = changed("difficulty: introductory", "difficulty: easy", text)
    text = changed("deadline: 40m", "deadline: 5m", text)
    problems = problems_of(text)
    assert [p.line for p in problems] == [
        line_of(text, "difficulty:"),
        line_of(text, "user: deploy"),
        line_of(text, "deadline:"),
    ]
    assert problems == sorted(problems)


def test_the_error_text_is_one_problem_a_line() -> None:
    text = changed("difficulty: introductory", "difficulty: easy")
    text = changed("deadline: 40m", "deadline: 5m", text)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    lines = str(caught.value).splitlines()
    assert lines == [str(p) for p in caught.value.problems]
    assert all(line.startswith("x.yaml:") for line in lines)


def test_a_yaml_syntax_error_stops_before_validation() -> None:
    text = changed("title: A deploy", "title: [A deploy") + "atacker: {}\n"
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (line_of(text, "title: [A deploy"), 8)
    assert problem.message == (
        "invalid YAML: the '[' here is never closed, or its items lack ', ' between them — "
        "close it with ']'"
    )


@pytest.mark.parametrize(
    "mistake, typed, at, message",
    [
        (
            "a line indented one space too far",
            "   alias: northwind-dev",
            (0, 4),
            "this line is out of step with the ones above it — indent it like the keys (or "
            "the '- ' items) it belongs with",
        ),
        (
            "an unclosed quote",
            '  alias: "northwind-dev',
            (0, 10),
            "the quote that opens here is never closed — close it",
        ),
        (
            "an alias to no anchor",
            "  alias: *northwind",
            (0, 10),
            "'*northwind' refers to no anchor '&northwind' above it — define the anchor first, "
            "or put the text in quotes",
        ),
        (
            "a value starting with a reserved character",
            "  alias: @northwind",
            (0, 10),
            "'@' cannot start a plain value — put the value in quotes",
        ),
    ],
)
def test_yaml_syntax_errors_are_told_in_words(
    mistake: str, typed: str, at: tuple[int, int], message: str
) -> None:
    text = changed("  alias: northwind-dev", typed)
    [problem] = problems_of(text)
    line = line_of(text, typed.strip())
    assert (problem.line, problem.column) == (line + at[0], at[1]), mistake
    assert problem.message == f"invalid YAML: {message}", mistake


def test_duplicate_keys_in_nested_mappings_are_reported() -> None:
    text = changed("    phase: contain\n", "    phase: contain\n    phase: recover\n")
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (line_of(text, "phase: recover"), 5)
    assert problem.message.startswith("duplicate key 'phase' — ")


def test_a_mapping_key_must_be_a_plain_name() -> None:
    text = SMALL_SCENARIO + "? [a, b]\n: c\n"
    [problem] = problems_of(text)
    assert problem.line == line_of(text, "? [a, b]")
    assert problem.message == "a mapping key must be a plain name — write it as a string"


@pytest.mark.parametrize(
    "tagged", ["!!python/name:os.system", "!Ref ScenarioTitle", "!include title.txt"]
)
def test_tagged_scalars_are_refused(tagged: str) -> None:
    text = changed("title: A deploy key pushed to a public repository", f"title: {tagged}")
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (2, 8)
    assert problem.message.startswith("invalid YAML: ")
    assert problem.message.endswith(" — only plain YAML is allowed")


def test_a_control_character_is_a_located_problem() -> None:
    text = changed("summary: A developer", "summary: A \x1b[1mdeveloper\x1b[0m")
    [problem] = problems_of(text)
    assert (problem.line, problem.column) == (3, 12)
    assert problem.message.startswith("invalid YAML: ")


# ── reading files ────────────────────────────────────────────────────────────────────────


def test_load_scenario_reports_the_path_it_was_given(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(changed("difficulty: introductory", "difficulty: easy"), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert [p.path for p in caught.value.problems] == [str(path)]


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [Problem(str(path), 1, 1, "no such file — check the path")]


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path)
    [problem] = caught.value.problems
    assert problem.message.startswith("a directory — ")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(SMALL_SCENARIO.replace("Jordan", "Jos\xe9").encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    [problem] = caught.value.problems
    assert problem.path == str(path)
    assert "UTF-8" in problem.message


# ── robustness ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("index", range(len(SMALL_SCENARIO.splitlines())))
def test_dropping_or_doubling_any_line_never_crashes(index: int) -> None:
    lines = SMALL_SCENARIO.splitlines(keepends=True)
    for text in (
        "".join(lines[:index] + lines[index + 1 :]),
        "".join(lines[: index + 1] + lines[index:]),
    ):
        try:
            parse_scenario(text)
        except ScenarioError as error:
            assert error.problems
            assert all(" — " in p.message for p in error.problems)


# YAML refuses control characters (other than tab and line breaks) and lone surrogates
PRINTABLE = st.characters(
    exclude_categories=("Cc", "Cs"), exclude_characters="\ufffe\uffff"
) | st.sampled_from("\t\n\r")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(PRINTABLE, max_size=200))
def test_any_text_gives_a_scenario_or_located_problems(text: str) -> None:
    try:
        parse_scenario(text, "t.yaml")
    except ScenarioError as error:
        assert error.problems
        last_line = text.count("\n") + text.count("\r") + 2
        for problem in error.problems:
            assert problem.path == "t.yaml"
            assert 1 <= problem.line <= last_line
            assert problem.column >= 1


YAML_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=10)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(
        ["account", "leak", "timeline", "attacker", "workload", "steps", "penalties", "duration"]
    ),
    st.recursive(
        YAML_SCALARS,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)
        ),
        max_leaves=10,
    ),
)
def test_any_value_in_any_section_gives_located_problems(section: str, value: object) -> None:
    data = yaml.safe_load(SMALL_SCENARIO)
    data[section] = value
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        parse_scenario(text)
    except ScenarioError as error:
        assert all(" — " in p.message for p in error.problems)


# ── Marks ────────────────────────────────────────────────────────────────────────────────


def test_marks_find_a_value_or_its_nearest_ancestor() -> None:
    marks = Marks(values={(): (1, 1), ("a",): (2, 4), ("a", 0): (3, 6)})
    assert marks.at(("a", 0)) == (3, 6)
    assert marks.at(("a", 0, "b", "c")) == (3, 6)
    assert marks.at(("a", 1)) == (2, 4)
    assert marks.at(("z",)) == (1, 1)
    assert Marks().at(("anything",)) == (1, 1)


def test_marks_prefer_the_key_when_asked() -> None:
    marks = Marks(values={("a",): (2, 4)}, keys={("a",): (2, 1)})
    assert marks.at(("a",), key=True) == (2, 1)
    assert marks.at(("a",)) == (2, 4)
    assert marks.at(("b",), key=True) == (1, 1)


# ── bounds ───────────────────────────────────────────────────────────────────────────────


def test_a_refused_value_does_not_hide_the_other_problems() -> None:
    text = changed("difficulty: introductory", "difficulty: easy") + '"bad\\e": 1\n'
    messages = [p.message for p in problems_of(text)]
    assert any("'easy' is not allowed" in m for m in messages)
    assert any("U+001B" in m for m in messages)


def test_a_refused_value_is_one_problem_not_several() -> None:
    text = changed(
        "{id: quarantine, type: quarantine, at: 67s}",
        "{id: quarantine, type: quarantine, at: .nan}",
    )
    [problem] = problems_of(text)
    assert problem.message.startswith("'.nan' is not a finite number — ")


def test_past_two_hundred_problems_the_rest_are_counted() -> None:
    step = (
        "  - {id: s-N, title: x, phase: nope, check: {type: nope}, points: 500, "
        "target: 1m, deadline: 2m}\n"
    )
    text = SMALL_SCENARIO + "".join(step.replace("N", str(n)) for n in range(90))
    found = problems_of(text)
    assert len(found) == 201
    assert found[-1].message.startswith("… and ")
    assert found[-1].message.endswith("more problems from here on — fix the ones above first")


def test_one_item_where_a_list_belongs_is_shown_as_a_list() -> None:
    text = changed(
        "  - {id: support-case, type: support-case, at: 2m}\n",
        "  - {id: support-case, type: support-case, at: 2m}\n"
        "  - {id: mail, type: email, at: 3m, to: security}\n",
    )
    [problem] = problems_of(text)
    assert problem.message == (
        "'to' must be a list, not 'security' — write it as a list: to: [security]"
    )
