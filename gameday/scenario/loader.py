"""Loading scenario files: YAML with line marks → a validated `Scenario`, or every problem.

YAML is composed into nodes with the safe loader (no tags beyond `yaml.safe_load`'s), so each
value keeps the line and column it came from. Validation errors from the model and from the
cross-reference checks are located on those nodes and reported together, each as
`path:line:col: what is wrong — how to fix it`.
"""

from __future__ import annotations

import difflib
import math
import re
import threading
import types
import typing
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gameday.errors import Problem, ScenarioError, did_you_mean, printable
from gameday.scenario.fields import (
    ACCOUNT_ID_PATTERN,
    ACTION_PATTERN,
    EMAIL_PATTERN,
    IAM_NAME_PATTERN,
    IAM_PATH_PATTERN,
    POLICY_ARN_PATTERN,
    POLICY_REF_PATTERN,
    TRAIL_PATTERN,
)
from gameday.scenario.hazards import HAZARDS
from gameday.scenario.limits import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NUMBER_DIGITS,
    MAX_PROBLEMS,
    MAX_TEXT,
    MAX_VALUES,
    check_limits,
)
from gameday.scenario.model import Scenario
from gameday.scenario.policies import check_policies
from gameday.scenario.references import check_references

Loc = tuple[str | int, ...]
# More checks of a scenario the format accepts: where (a loc in the data) and what is wrong.
ScenarioCheck = Callable[[Scenario], Iterable[tuple[Loc, str]]]


@dataclass
class Marks:
    """Where each value (and each mapping key) of a YAML document stands in its file."""

    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    # what the author typed for values YAML read as numbers (012345670123 is octal to YAML)
    sources: dict[Loc, str] = field(default_factory=dict)

    def at(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """The position of `loc`, or of its nearest ancestor that has one."""
        if key and loc in self.keys:
            return self.keys[loc]
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return (1, 1)


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing more than `MAX_VALUES` nodes or `MAX_DEPTH` levels.

    PyYAML composes nested collections recursively: without the depth bound, a few KB of
    `[[[[…` end in a RecursionError instead of a message; each node costs ~1 KB of memory.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.nodes += 1
        if self.depth >= MAX_DEPTH or self.nodes > MAX_VALUES:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _LimitReached(mark, _DEPTH_MESSAGE if self.depth >= MAX_DEPTH else _VALUES)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _LimitReached(Exception):
    """A bound of the file was reached: reported as one problem, and reading stops."""

    def __init__(self, mark: yaml.Mark | None, message: str) -> None:
        super().__init__(message)
        self.line, self.column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.message = message


_VALUES = (
    f"the file holds over {MAX_VALUES:,} values once its aliases are expanded — a scenario "
    "needs far fewer; repeat less through '*' aliases"
)
_DEPTH_MESSAGE = (
    f"mappings and lists nest more than {MAX_DEPTH} deep here — a scenario needs far less; "
    "flatten the structure"
)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"

# Characters no scenario text may hold: C0 and C1 controls but tab and line feed (a
# terminal obeys them: colours, cursor moves, a cleared screen), line and paragraph
# separators, and the bidirectional overrides that make text display other than it reads.
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_CHARACTER_NAMES = {
    0x00: "NUL", 0x07: "BEL", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed",
    0x0D: "carriage return", 0x1B: "ESC, the start of a terminal escape sequence",
    0x7F: "DEL", 0x85: "next line", 0x2028: "line separator", 0x2029: "paragraph separator",
}  # fmt: skip


def text_problem(text: str) -> str | None:
    """What makes `text` unfit for a scenario (a control character, its length), if anything."""
    if problem := character_problem(text):
        return problem
    if len(text) > MAX_TEXT:
        return (
            f"a text of {len(text):,} characters, over the {MAX_TEXT:,} a scenario text may "
            "hold — shorten it"
        )
    return None


def character_problem(text: str) -> str | None:
    """The first character of `text` no scenario text (nor what it renders to) may hold."""
    found = _FORBIDDEN.search(text)
    if found is not None:
        code = ord(found.group())
        name = _CHARACTER_NAMES.get(code) or (
            "a bidirectional text control" if code >= 0x200E else "a control character"
        )
        return (
            f"the text holds U+{code:04X} ({name}) at character {found.start() + 1} — "
            "delete it; scenario text holds printable characters, tabs and line breaks only"
        )
    return None


def _compose(text: str, path: str) -> tuple[Any, Marks, list[Problem], dict[Loc, Problem]]:
    """The data of `text` with its marks; the problems that stop reading it, and the
    problems of single values (a control character, a huge number), by the value's loc."""
    marks = Marks()
    problems: list[Problem] = []
    flagged: dict[Loc, Problem] = {}
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as error:
        # raised before any mark exists (a pasted terminal colour code, a form feed…)
        before = text[: error.position]
        line, column = before.count("\n") + 1, error.position - before.rfind("\n")
        message = (
            f"invalid YAML: control character #x{error.character:02x} — delete it; "
            "YAML allows only printable text"
        )
        return None, marks, [Problem(path, line, column, message)], flagged
    try:
        root = loader.get_single_node()
    except _LimitReached as limit:
        return None, marks, [Problem(path, limit.line, limit.column, limit.message)], flagged
    except yaml.MarkedYAMLError as error:
        line, column, message = _yaml_error_in_words(error)
        problems.append(Problem(path, line, column, message))
        return None, marks, problems, flagged
    finally:
        loader.dispose()
    if root is None:
        return None, marks, problems, flagged

    def at(node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def problem(node: yaml.Node, message: str) -> None:
        problems.append(Problem(path, *at(node), message))

    def flag(node: yaml.Node, loc: Loc, message: str) -> None:
        flagged.setdefault(loc, Problem(path, *at(node), message))

    values = 0
    inside: set[int] = set()  # the nodes being built: an alias to one of them is a cycle

    def build(node: yaml.Node, loc: Loc) -> Any:
        nonlocal values
        values += 1
        if values > MAX_VALUES:
            raise _LimitReached(node.start_mark, _VALUES)
        if len(loc) > MAX_DEPTH:
            raise _LimitReached(node.start_mark, _DEPTH_MESSAGE)
        if id(node) in inside:
            raise _LimitReached(
                node.start_mark,
                "an alias refers to a mapping or list it is inside of, which never ends — "
                "point it at another anchor",
            )
        marks.values[loc] = at(node)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
            # building the container ourselves would silently drop its tag: refuse it instead
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"could not determine a constructor for the tag '{node.tag}'",
                node.start_mark,
            )
        if isinstance(node, yaml.ScalarNode):
            return scalar(node, loc)
        inside.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return mapping(node, loc)
            return [build(item, (*loc, index)) for index, item in enumerate(node.value)]
        finally:
            inside.discard(id(node))

    def mapping(node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # `<<: *defaults`: the keys of the named mappings, unless given here; built
                # here (not by PyYAML's flatten_mapping) so merges count towards MAX_VALUES
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        problem(source, "'<<' merges mappings only — point it at a mapping")
                        continue
                    for name, value in build(source, loc).items():
                        merged.setdefault(name, value)
                continue
            key = (
                scalar(key_node, (*loc, str(key_node.value)))
                if isinstance(key_node, yaml.ScalarNode)
                else None
            )
            if not isinstance(key, str | int | float | bool) or key is None:
                problem(key_node, "a mapping key must be a plain name — write it as a string")
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                problem(
                    key_node,
                    f"duplicate key '{key}' — each key may appear once in a mapping; "
                    "remove or merge the repeated one",
                )
                continue
            marks.keys[(*loc, key)] = at(key_node)
            result[key] = build(value_node, (*loc, key))
        marks.values[loc] = at(node)  # building a merged mapping marked it at its anchor
        return {**merged, **result}

    def scalar(node: yaml.ScalarNode, loc: Loc) -> Any:
        if node.tag == _INT_TAG and len(node.value.lstrip("+-")) > MAX_NUMBER_DIGITS:
            flag(
                node,
                loc,
                f"a number of {len(node.value.lstrip('+-')):,} digits — numbers in a scenario "
                f"have at most {MAX_NUMBER_DIGITS}; put it in quotes if it is text",
            )
            return node.value  # as text, so later checks see the field given
        if node.tag in (_INT_TAG, _FLOAT_TAG) and ":" in node.value:
            # YAML 1.1 reads `1:30` as 90 (base 60): nobody means that. Kept as the text it
            # is, so a duration field explains it and a text field keeps what was typed.
            return node.value
        value = loader.construct_object(node, deep=True)
        if isinstance(value, float) and not math.isfinite(value):
            flag(
                node,
                loc,
                f"'{node.value}' is not a finite number — write a number (or a duration like "
                "90s, 15m, 1h30m)",
            )
            return node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            marks.sources[loc] = str(node.value)
        if isinstance(value, str) and (found := text_problem(value)):
            flag(node, loc, found)
        return value

    try:
        data = build(root, ())
    except _LimitReached as limit:
        problems.append(Problem(path, limit.line, limit.column, limit.message))
        return None, marks, problems, flagged
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(
            Problem(
                path, line, column, f"invalid YAML: {error.problem} — only plain YAML is allowed"
            )
        )
        return None, marks, problems, flagged
    return data, marks, problems, flagged


_PLAIN_COLLECTION_TAGS = {
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
}


def _model_at(loc: Loc, data: Any) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (pydantic's loc, tags included)."""
    current: Any = Scenario
    index = 0
    while index < len(loc):
        part = loc[index]
        model = _unwrap_model(current)
        if model is None:
            return None
        if isinstance(part, int):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        current = info.annotation
        index += 1
        # descend through containers and tagged unions, consuming their loc parts
        while index < len(loc):
            origin = typing.get_origin(current)
            args = typing.get_args(current)
            if origin is typing.Annotated:
                current = args[0]
                continue
            if origin in (list, tuple) and isinstance(loc[index], int):
                current = args[0]
                index += 1
                continue
            if origin is dict:
                current = args[1]
                index += 1
                continue
            if origin in (typing.Union, types.UnionType):
                members = [a for a in args if a is not type(None)]
                tagged = _tagged_member(members, loc[index])
                if tagged is not None:
                    current = tagged
                    index += 1
                    continue
                if len(members) == 1:
                    current = members[0]
                    continue
                models = [m for m in members if _unwrap_model(m) is not None]
                if len(models) == 1:
                    current = models[0]
                    continue
            break
    return _unwrap_model(current)


def _field_pattern(loc: Loc, data: Any) -> str | None:
    """The pattern the field at pydantic's `loc` must match, if it has one."""
    model = _model_at(loc[:-1], data)
    info = model.model_fields.get(str(loc[-1])) if model is not None and loc else None
    for meta in info.metadata if info is not None else ():
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap_model(members[0])
    return None


def _tagged_member(members: list[Any], tag: str | int) -> Any:
    if not isinstance(tag, str):
        return None
    for member in members:
        for candidate in _flatten(member):
            model = _unwrap_model(candidate)
            if model is None:
                continue
            for name in ("type", "technique"):
                info = model.model_fields.get(name)
                if info is not None and tag in typing.get_args(info.annotation):
                    return candidate
    return None


def _flatten(annotation: Any) -> list[Any]:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _flatten(a)]
    return [annotation]


def _data_loc(loc: Loc, data: Any) -> Loc:
    """Pydantic's loc without the union tags it inserts, so it addresses the YAML data."""
    result: list[str | int] = []
    current = data
    for part in loc:
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and part < len(current)
        if in_dict or in_list:
            result.append(part)
            current = current[part]
        elif isinstance(part, str) and result[-1:] != [part] and _is_tag(part, current):
            # a tag pydantic added (e.g. the union member's name): skip it
            continue
        else:
            result.append(part)
            current = None
    return tuple(result)


def _is_tag(part: str, current: Any) -> bool:
    if part in {"str", "float", "int", "dict", "list", "bool", "none", "constrained-str"}:
        return True
    if "[" in part or part.startswith("function-"):
        return True
    return isinstance(current, dict) and part in (current.get("type"), current.get("technique"))


def _describe(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return printable(text if len(text) <= 60 else text[:57] + "...")


def _suggestion(error: ErrorDetails, data: Any) -> str | None:
    """For an unknown field, the field of the same model it most likely means."""
    model = _model_at(tuple(error["loc"])[:-1], data)
    name = error["loc"][-1]
    if model is None or not isinstance(name, str):
        return None
    close = difflib.get_close_matches(name, list(model.model_fields), n=1, cutoff=0.6)
    return close[0] if close else None


def _message(error: ErrorDetails, loc: Loc, data: Any, marks: Marks) -> str:
    kind = error["type"]
    names = [part for part in loc if isinstance(part, str)]
    name = names[-1] if names else "scenario"
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(tuple(error["loc"])[:-1], data)
        known = list(model.model_fields) if model else []
        return f"unknown field '{name}' — {did_you_mean(name, known)}"
    if kind == "missing":
        return f"missing field '{name}' — add it here"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag", value)
        discriminator = str(ctx.get("discriminator", "type")).strip("'")
        expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",")]
        what = _UNION_NAMES.get(name, "") if discriminator == "type" else ""
        label = f"{what} {discriminator}".strip()
        return f"unknown {label} '{tag}' — {did_you_mean(str(tag), expected)}"
    if kind == "union_tag_not_found":
        discriminator = str(ctx.get("discriminator", "type")).strip("'")
        return f"missing field '{discriminator}' — say which kind this is"
    if kind == "literal_error":
        expected = [
            t.strip().strip("'")
            for t in str(ctx.get("expected", "")).replace(" or ", ",").split(",")
        ]
        expected = [e for e in expected if e]
        return (
            f"{_describe(value)} is not allowed for '{name}' — {did_you_mean(str(value), expected)}"
        )
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        hint = _pattern_hint(name, pattern)
        label = "email address" if pattern == EMAIL_PATTERN and name != "email" else name
        if loc and isinstance(loc[-1], int) and label == name:
            label = _singular(name)  # an item of `tags`, `regions`, `policies` …
        return f"{_describe(value)} is not a valid {label} — {hint}"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", error["msg"]))
        return text if " — " in text else f"{text} — fix the value of '{name}'"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        typed = marks.sources.get(loc, str(value))
        return f"'{name}' must be text, not the number {typed} — put it in quotes: \"{typed}\""
    if kind.endswith("_type") or kind.endswith("_parsing"):
        wanted = kind.removesuffix("_type").removesuffix("_parsing").replace("_", " ")
        fix = "change the value"
        if kind == "list_type" and isinstance(value, str | int | float) and value != "":
            fix = f"write it as a list: {name}: [{value}]"  # one item where a list belongs
        return f"'{name}' must be {_article(wanted)}, not {_describe(value)} — {fix}"
    if kind == "too_long":
        most = ctx.get("max_length")
        given = ctx.get("actual_length")
        holds = f"holds {given:,} items" if isinstance(given, int) else "holds too many items"
        return f"'{name}' {holds}, at most {most:,} are allowed — remove some"
    if kind == "string_too_short":
        shape = _PATTERN_HINTS.get(_field_pattern(tuple(error["loc"]), data) or "")
        hint = shape or f"give at least {ctx.get('min_length')} characters"
        return f"{_describe(value)} is too short for '{name}' — {hint}"
    if kind == "too_short":
        return f"'{name}': {error['msg'].lower().replace(' after validation', '')} — add one"
    if kind == "string_too_long":
        return (
            f"'{name}' is {len(str(value)):,} characters long, at most {ctx.get('max_length'):,} "
            "are allowed — shorten it"
        )
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": ("at least", "ge"),
            "less_than_equal": ("at most", "le"),
            "greater_than": ("more than", "gt"),
            "less_than": ("less than", "lt"),
        }[kind]
        return (
            f"'{name}' must be {bound[0]} {ctx.get(bound[1])}, not {_describe(value)} — change it"
        )
    return f"'{name}': {error['msg']} — see `gameday schema` for what is allowed here"


_UNION_NAMES = {"timeline": "inject", "check": "check", "techniques": "technique"}

# keyed by the model's pattern: the same field name (`id`, `name`) means different things
_PATTERN_HINTS = {
    ACCOUNT_ID_PATTERN: (
        "an AWS account ID is exactly 12 digits; quote it so YAML keeps leading zeros"
    ),
    IAM_PATH_PATTERN: "an IAM path starts and ends with '/', like /engineering/ or /",
    TRAIL_PATTERN: (
        "3 to 128 letters, digits, '.', '_' and '-', starting and ending with a letter or "
        "digit, no two of '.', '_', '-' in a row"
    ),
    POLICY_ARN_PATTERN: "a policy ARN, like arn:aws:iam::aws:policy/ReadOnlyAccess",
    POLICY_REF_PATTERN: (
        "a policy ARN (arn:aws:iam::aws:policy/ReadOnlyAccess) or the name of one of "
        "account.estate.policies"
    ),
    r"^[a-z0-9][a-z0-9-]*$": (
        "use lower-case letters, digits and dashes, like 'exported-keys-in-script'"
    ),
    IAM_NAME_PATTERN: "use letters, digits and + = , . @ _ -",
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": (
        "a bucket name is 3 to 63 lower-case letters, digits, dots and dashes"
    ),
    r"^[A-Za-z0-9._-]{1,100}$": "use letters, digits, dots, dashes and underscores",
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$": "use letters, digits and dashes (a code-host owner)",
    ACTION_PATTERN: (
        "write it as service:Action, the service's prefix in lower case and the action as the "
        "API names it, like ec2:DescribeInstances or cloudtrail:LookupEvents"
    ),
    r"^[A-Za-z0-9/_+=.@-]+$": "use letters, digits and / _ + = . @ -, like prod/billing-api/aws",
    r"^[A-Za-z0-9_-]{1,64}$": "1 to 64 letters, digits, dashes and underscores",
    r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$": (
        "a service principal ends in .amazonaws.com, like ec2.amazonaws.com"
    ),
    r"^[a-z0-9-]+\.[a-z0-9]+$": "an EC2 instance type is family.size, like t3.micro",
    r"^[a-z0-9-]{1,64}$": "a service's lower-case prefix, like sts, s3 or cloudformation",
    r"^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])?$": (
        "3 to 63 lower-case letters, digits and dashes, starting and ending with a letter or digit"
    ),
}


def _pattern_hint(name: str, pattern: str) -> str:
    if pattern in _PATTERN_HINTS:
        return _PATTERN_HINTS[pattern]
    if pattern == EMAIL_PATTERN:
        return "write an email address like security@example.com"
    if "[wdhms]" in pattern:
        return "write it like 90s, 15m, 1h30m or 400d"
    if "a-z0-9-" in pattern:
        return "use lower-case letters, digits and dashes"
    # never a raw regular expression: the format's guide says each field's form in words
    return "docs/scenario-format.md gives the form this field takes"


def _singular(name: str) -> str:
    """The name of one item of a list field: `policies` → `policy`, `tags` → `tag`."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


@dataclass(frozen=True)
class Validated:
    """A scenario that loaded, and the warnings about it (`Problem`s with `warning` set)."""

    scenario: Scenario
    warnings: tuple[Problem, ...] = ()


def load_scenario(
    path: Path | str,
    *,
    checks: Sequence[ScenarioCheck] = (),
    checks_key: Hashable | None = None,
) -> Scenario:
    """Read and validate a scenario file; raise `ScenarioError` with every problem found.

    A process that plays a scenario many times (a batch, a test session) reads the file each
    time but validates a text it has validated before only once: the model is frozen, and
    the same text at the same path gives the same scenario. With `checks`, only when the
    caller gives `checks_key`: what else than the text the checks' outcome depends on (the
    template files they render), so that a text that passed them with the same key passes.
    """
    if checks and checks_key is None:
        return validate_scenario(path, checks=checks, warn=False).scenario
    text = _read_scenario(Path(path))
    key = (str(path), text, checks_key)
    with _loaded_lock:
        known = _loaded.get(key)
    if known is not None:
        return known
    scenario = validate_scenario_text(text, str(path), checks=checks, warn=False).scenario
    with _loaded_lock:
        if len(_loaded) >= _LOADED_KEPT:
            del _loaded[next(iter(_loaded))]
        _loaded[key] = scenario
    return scenario


_LOADED_KEPT = 64
_loaded: dict[tuple[str, str, Hashable | None], Scenario] = {}
_loaded_lock = threading.Lock()


def validate_scenario(
    path: Path | str,
    *,
    checks: Sequence[ScenarioCheck] = (),
    warnings: Sequence[ScenarioCheck] = (),
    warn: bool = True,
) -> Validated:
    """`load_scenario`, and the warnings about what the scenario would spoil.

    Without `warn` no warning is looked for. With it, the format's own (`gameday.scenario.
    hazards`) and those `warnings` yield — each located like a problem, at the field that
    causes it — come back beside the scenario; they never stop it from loading.
    """
    path = Path(path)
    text = _read_scenario(path)
    return validate_scenario_text(text, str(path), checks=checks, warnings=warnings, warn=warn)


def _read_scenario(path: Path) -> str:
    """The scenario file's text; a `ScenarioError` at 1:1 (or at the bad byte) otherwise."""
    shown = str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError([Problem(shown, 1, 1, "no such file — check the path")]) from None
    except IsADirectoryError:
        message = "a directory — give a scenario YAML file"
        raise ScenarioError([Problem(shown, 1, 1, message)]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(shown, 1, 1, _too_big(len(raw), exact=False))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        line = raw.count(b"\n", 0, error.start) + 1
        column = len(raw[line_start : error.start].decode("utf-8", "replace")) + 1
        message = f"byte 0x{raw[error.start]:02x} is not UTF-8 — save the file as UTF-8"
        raise ScenarioError([Problem(shown, line, column, message)]) from None
    return text


def _too_big(size: int, *, exact: bool) -> str:
    given = f"{size:,} bytes" if exact else f"over {MAX_FILE_BYTES:,} bytes"
    return (
        f"the file is {given}, over the {MAX_FILE_BYTES // 1024} KB a scenario may be — "
        "the largest scenario of the library is 13 KB; split long texts out or shorten them"
    )


def _reported(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS problems, in file order, and a line saying how many more."""
    ordered = sorted(dict.fromkeys(problems))
    if len(ordered) <= MAX_PROBLEMS:
        return ordered
    first_left = ordered[MAX_PROBLEMS]
    more = len(ordered) - MAX_PROBLEMS
    summary = Problem(
        first_left.path,
        first_left.line,
        first_left.column,
        f"… and {more:,} more problems from here on — fix the ones above first",
        warning=first_left.warning,
    )
    return [*ordered[:MAX_PROBLEMS], summary]


def parse_scenario(
    text: str, path: str = "<scenario>", *, checks: Sequence[ScenarioCheck] = ()
) -> Scenario:
    """The scenario in `text`, or a `ScenarioError` with every problem, located in `path`.

    `checks` look further at a scenario the format accepts (`gameday validate` renders its
    injects with them); they run once everything else is right.
    """
    return validate_scenario_text(text, path, checks=checks, warn=False).scenario


def validate_scenario_text(
    text: str,
    path: str = "<scenario>",
    *,
    checks: Sequence[ScenarioCheck] = (),
    warnings: Sequence[ScenarioCheck] = (),
    warn: bool = True,
) -> Validated:
    """`parse_scenario`, and the warnings about it (see `validate_scenario`)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise ScenarioError([Problem(path, 1, 1, _too_big(size, exact=True))])
    data, marks, problems, flagged = _compose(text, path)
    if problems:
        raise ScenarioError(_reported([*problems, *flagged.values()]))
    problems = list(flagged.values())

    def reported_already(loc: Loc) -> bool:
        # a value the loader refused (a control character, a huge number) is one mistake
        return any(loc[: len(bad)] == bad for bad in flagged)

    if data is None:
        message = "the file holds no scenario — start it with 'id:', 'title:', …"
        raise ScenarioError([Problem(path, 1, 1, message)])
    if not isinstance(data, dict):
        raise ScenarioError(
            [
                Problem(
                    path, 1, 1, "a scenario is a mapping of fields — start with 'id:', 'title:', …"
                )
            ]
        )
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        located = [(d, _data_loc(tuple(d["loc"]), data)) for d in error.errors(include_url=False)]
        # a misspelt required field is one mistake: keep the did-you-mean, not the "missing"
        meant = {
            (loc[:-1], _suggestion(d, data)) for d, loc in located if d["type"] == "extra_forbidden"
        }
        # a value no member of a union accepts: the member with a list of names explains best,
        # unless the value is meant as an email address
        named = {loc for d, loc in located if d["type"] == "literal_error"}
        mailed = {
            loc
            for d, loc in located
            if d["type"] == "string_pattern_mismatch" and "@" in str(d.get("input"))
        }
        for detail, loc in located:
            if detail["type"] == "missing" and (loc[:-1], loc[-1]) in meant:
                continue
            if detail["type"] == "string_pattern_mismatch" and loc in named - mailed:
                continue
            if detail["type"] == "literal_error" and loc in mailed:
                continue
            if reported_already(loc) and detail["type"] != "extra_forbidden":
                continue
            key = detail["type"] in ("extra_forbidden",)
            target = loc[:-1] if detail["type"] == "missing" else loc
            line, column = marks.at(target, key=key)
            problems.append(Problem(path, line, column, _message(detail, loc, data, marks)))
    for loc, message in chain(check_references(data), check_limits(data), check_policies(data)):
        if reported_already(loc):
            continue
        line, column = marks.at(loc)
        problems.append(Problem(path, line, column, message))
    if problems:
        raise ScenarioError(_reported(problems))
    assert scenario is not None
    for check in checks:
        for loc, message in check(scenario):
            problems.append(Problem(path, *marks.at(loc), message))
    if problems:
        raise ScenarioError(_reported(problems))
    if not warn:
        return Validated(scenario)
    found = [
        Problem(path, *marks.at(loc), message, warning=True)
        for check in (*HAZARDS, *warnings)
        for loc, message in check(scenario)
    ]
    return Validated(scenario, tuple(_reported(found)))


def _yaml_error_in_words(error: yaml.MarkedYAMLError) -> tuple[int, int, str]:
    """Where a YAML syntax error is, and what to do about it, in words an author knows.

    PyYAML speaks of its parser's states (`expected <block end>, but found '<block mapping
    start>'`); the common mistakes behind them are few: a line indented out of step, a
    `: ` inside unquoted text, a bracket or quote never closed.
    """
    problem, context = error.problem or "", error.context or ""
    mark = error.problem_mark or error.context_mark
    message = f"invalid YAML: {problem or 'a syntax error'} — check indentation and quoting here"
    if "'\\t'" in problem:
        message = "invalid YAML: a tab character in the indentation — indent with spaces only"
    elif problem == "mapping values are not allowed here":
        message = (
            "invalid YAML: a ':' where no key can start — indent this line like the keys "
            "beside it, or put text that holds ': ' in quotes"
        )
    elif problem.startswith("expected <block end>"):
        message = (
            "invalid YAML: this line is out of step with the ones above it — indent it like "
            "the keys (or the '- ' items) it belongs with"
        )
    elif context in ("while parsing a flow mapping", "while parsing a flow sequence"):
        opening, closing = ("{", "}") if "mapping" in context else ("[", "]")
        mark = error.context_mark or mark
        message = (
            f"invalid YAML: the '{opening}' here is never closed, or its items lack ', ' "
            f"between them — close it with '{closing}'"
        )
    elif context == "while scanning a quoted scalar":
        mark = error.context_mark or mark
        message = "invalid YAML: the quote that opens here is never closed — close it"
    elif problem.startswith("found undefined alias"):
        name = problem.rsplit(" ", 1)[-1].strip("'")
        message = (
            f"invalid YAML: '*{name}' refers to no anchor '&{name}' above it — define the "
            "anchor first, or put the text in quotes"
        )
    elif "that cannot start any token" in problem:
        character = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
        message = (
            f"invalid YAML: '{character}' cannot start a plain value — put the value in quotes"
        )
    elif problem == "could not find expected ':'":
        mark = error.context_mark or mark
        message = (
            "invalid YAML: a key without ':' — add ': ' after the key, or indent the line as "
            "part of the value above it"
        )
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return line, column, message
