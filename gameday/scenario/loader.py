"""Loading scenario files: YAML with line marks → a validated `Scenario`, or every problem.

YAML is composed into nodes with the safe loader (no tags beyond `yaml.safe_load`'s), so each
value keeps the line and column it came from. Validation errors from the model and from the
cross-reference checks are located on those nodes and reported together, each as
`path:line:col: what is wrong — how to fix it`.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gameday.errors import Problem, ScenarioError, did_you_mean
from gameday.scenario.model import Scenario
from gameday.scenario.references import check_references

Loc = tuple[str | int, ...]


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
    """The safe loader, reporting duplicate mapping keys instead of keeping the last."""


def _compose(text: str, path: str) -> tuple[Any, Marks, list[Problem]]:
    marks = Marks()
    problems: list[Problem] = []
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
        return None, marks, [Problem(path, line, column, message)]
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = error.problem or "invalid YAML"
        message = f"invalid YAML: {what} — check indentation and quoting here"
        if "'\\t'" in what:
            message = "invalid YAML: a tab character in the indentation — indent with spaces only"
        problems.append(Problem(path, line, column, message))
        return None, marks, problems
    finally:
        loader.dispose()
    if root is None:
        return None, marks, problems

    def build(node: yaml.Node, loc: Loc) -> Any:
        marks.values[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.CollectionNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
            # building the container ourselves would silently drop its tag: refuse it instead
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"could not determine a constructor for the tag '{node.tag}'",
                node.start_mark,
            )
        if isinstance(node, yaml.MappingNode):
            loader.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    problems.append(
                        Problem(
                            path,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                            "a mapping key must be a plain name — write it as a string",
                        )
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in result:
                    problems.append(
                        Problem(
                            path,
                            key_node.start_mark.line + 1,
                            key_node.start_mark.column + 1,
                            f"duplicate key '{key}' — each key may appear once in a mapping; "
                            "remove or merge the repeated one",
                        )
                    )
                    continue
                marks.keys[(*loc, key)] = (
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
                result[key] = build(value_node, (*loc, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*loc, index)) for index, item in enumerate(node.value)]
        value = loader.construct_object(node, deep=True)
        if isinstance(value, int | float) and not isinstance(value, bool):
            marks.sources[loc] = str(node.value)
        return value

    try:
        data = build(root, ())
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(
            Problem(
                path, line, column, f"invalid YAML: {error.problem} — only plain YAML is allowed"
            )
        )
        return None, marks, problems
    return data, marks, problems


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
    return text if len(text) <= 60 else text[:57] + "..."


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
        hint = _pattern_hint(name, str(ctx.get("pattern", "")))
        return f"{_describe(value)} is not a valid {name} — {hint}"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error", error["msg"]))
        return text if " — " in text else f"{text} — fix the value of '{name}'"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        typed = marks.sources.get(loc, str(value))
        return f"'{name}' must be text, not the number {typed} — put it in quotes: \"{typed}\""
    if kind.endswith("_type") or kind.endswith("_parsing"):
        wanted = kind.removesuffix("_type").removesuffix("_parsing").replace("_", " ")
        return f"'{name}' must be {_article(wanted)}, not {_describe(value)} — change the value"
    if kind in ("too_short", "too_long"):
        return f"'{name}': {error['msg'].lower()} — adjust the list"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"'{name}' {error['msg'].lower()}, got {_describe(value)} — change the value"
    return f"'{name}': {error['msg']} — see `gameday schema` for what is allowed here"


_UNION_NAMES = {"timeline": "inject", "check": "check", "techniques": "technique"}

# keyed by the model's pattern: the same field name (`id`, `name`) means different things
_PATTERN_HINTS = {
    r"^[a-z0-9][a-z0-9-]*$": (
        "use lower-case letters, digits and dashes, like 'exported-keys-in-script'"
    ),
    r"^[A-Za-z0-9_+=,.@-]+$": "use letters, digits and + = , . @ _ -",
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$": (
        "a bucket name is 3 to 63 lower-case letters, digits, dots and dashes"
    ),
    r"^[A-Za-z0-9._-]{1,100}$": "use letters, digits, dots, dashes and underscores",
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$": "use letters, digits and dashes (a code-host owner)",
}


def _pattern_hint(name: str, pattern: str) -> str:
    if pattern in _PATTERN_HINTS:
        return _PATTERN_HINTS[pattern]
    if "\\d{12}" in pattern:
        return "an AWS account ID is exactly 12 digits; quote it so YAML keeps leading zeros"
    if name == "email" or "@" in pattern:
        return "write an email address like security@example.com"
    if "[wdhms]" in pattern:
        return "write it like 90s, 15m, 1h30m or 400d"
    if "a-z0-9-" in pattern:
        return "use lower-case letters, digits and dashes"
    return f"it must match {pattern}"


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; raise `ScenarioError` with every problem found."""
    path = Path(path)
    shown = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError([Problem(shown, 1, 1, "no such file — check the path")]) from None
    except IsADirectoryError:
        message = "a directory — give a scenario YAML file"
        raise ScenarioError([Problem(shown, 1, 1, message)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = raw.rfind(b"\n", 0, error.start) + 1
        line = raw.count(b"\n", 0, error.start) + 1
        column = len(raw[line_start : error.start].decode("utf-8", "replace")) + 1
        message = f"byte 0x{raw[error.start]:02x} is not UTF-8 — save the file as UTF-8"
        raise ScenarioError([Problem(shown, line, column, message)]) from None
    return parse_scenario(text, shown)


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    data, marks, problems = _compose(text, path)
    if problems:
        raise ScenarioError(problems)
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
        # a value no member of a union accepts: the member with a list of names explains best
        named = {loc for d, loc in located if d["type"] == "literal_error"}
        for detail, loc in located:
            if detail["type"] == "missing" and (loc[:-1], loc[-1]) in meant:
                continue
            if detail["type"] == "string_pattern_mismatch" and loc in named:
                continue
            key = detail["type"] in ("extra_forbidden",)
            target = loc[:-1] if detail["type"] == "missing" else loc
            line, column = marks.at(target, key=key)
            problems.append(Problem(path, line, column, _message(detail, loc, data, marks)))
    for loc, message in check_references(data):
        line, column = marks.at(loc)
        problems.append(Problem(path, line, column, message))
    if problems:
        raise ScenarioError(dict.fromkeys(problems))
    assert scenario is not None
    return scenario
