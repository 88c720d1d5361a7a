"""Explicit-deny evaluation of IAM identity policies, as the gateway enforces it.

moto does not enforce the policies attached to a caller, and the exercise needs exactly one
part of IAM's evaluation: an explicit `Deny` in any policy attached to the calling principal
(managed, inline, or through a group) wins over everything. That is how AWS's quarantine
policies (`AWSCompromisedKeyQuarantine`, `…V2`, `…V3`), the older inline
`AWSExposedCredentialPolicy_DO_NOT_REMOVE` and a responder's deny-all take effect. Allows are
not evaluated: the mock stays permissive where nothing denies.

A policy document is compiled once per distinct text (patterns turned into regular
expressions), so evaluating a request costs a few dictionary look-ups and regex matches.
"""

from __future__ import annotations

import ipaddress
import json
import operator as relations
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

QUARANTINE_POLICY_ARNS = {
    "V1": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine",
    "V2": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
    "V3": "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
}
INLINE_QUARANTINE_POLICY_NAME = "AWSExposedCredentialPolicy_DO_NOT_REMOVE"

Context = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Condition:
    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: re.Pattern[str] | None
    not_actions: re.Pattern[str] | None
    resources: re.Pattern[str] | None
    not_resources: re.Pattern[str] | None
    conditions: tuple[Condition, ...]

    def matches(self, action: str, resource: str, context: Context) -> bool:
        if self.actions is not None and not self.actions.fullmatch(action):
            return False
        if self.not_actions is not None and self.not_actions.fullmatch(action):
            return False
        if self.resources is not None and not _resource_matches(self.resources, resource):
            return False
        if self.not_resources is not None and _resource_matches(self.not_resources, resource):
            return False
        return all(_condition_holds(condition, context) for condition in self.conditions)


@dataclass(frozen=True)
class Denial:
    """The statement that denied a request, for the error message and the journal."""

    action: str
    resource: str


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


@lru_cache(maxsize=4096)
def _pattern(globs: tuple[str, ...], *, case_sensitive: bool) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters, `?` one character; nothing else is special.
    parts = [
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in g) for g in globs
    ]
    return re.compile("|".join(f"(?:{p})" for p in parts), 0 if case_sensitive else re.IGNORECASE)


def _resource_matches(pattern: re.Pattern[str], resource: str) -> bool:
    # A request whose resource the gateway cannot name is matched only by `*`-style patterns.
    return bool(pattern.fullmatch(resource))


def _compile_statement(raw: Mapping[str, Any]) -> Statement:
    conditions: list[Condition] = []
    for operator, block in (raw.get("Condition") or {}).items():
        for key, values in (block or {}).items():
            conditions.append(Condition(str(operator), str(key).lower(), tuple(_as_list(values))))
    actions = _as_list(raw.get("Action"))
    not_actions = _as_list(raw.get("NotAction"))
    resources = _as_list(raw.get("Resource"))
    not_resources = _as_list(raw.get("NotResource"))
    return Statement(
        effect=str(raw.get("Effect", "")),
        actions=_pattern(tuple(actions), case_sensitive=False) if "Action" in raw else None,
        not_actions=_pattern(tuple(not_actions), case_sensitive=False)
        if "NotAction" in raw
        else None,
        resources=_pattern(tuple(resources), case_sensitive=True) if "Resource" in raw else None,
        not_resources=_pattern(tuple(not_resources), case_sensitive=True)
        if "NotResource" in raw
        else None,
        conditions=tuple(conditions),
    )


@lru_cache(maxsize=4096)
def _compile_text(text: str) -> tuple[Statement, ...]:
    try:
        document = json.loads(text)
    except ValueError:
        return ()
    return compile_document(document)


def compile_document(document: Mapping[str, Any] | str) -> tuple[Statement, ...]:
    """The deny statements of a policy document (JSON text or parsed); allows are dropped."""
    if isinstance(document, str):
        return _compile_text(document)
    raw_statements = document.get("Statement", [])
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    compiled = (_compile_statement(s) for s in raw_statements if isinstance(s, Mapping))
    return tuple(s for s in compiled if s.effect == "Deny")


def explicit_deny(
    documents: Iterable[Mapping[str, Any] | str],
    action: str,
    resource: str = "*",
    context: Context | None = None,
) -> Denial | None:
    """The first explicit Deny among `documents` that applies to `action` on `resource`."""
    facts = context or {}
    for document in documents:
        if isinstance(document, str):
            statements = _compile_text(document)
        else:
            statements = compile_document(document)
        for statement in statements:
            if statement.matches(action, resource, facts):
                return Denial(action=action, resource=resource)
    return None


# ── conditions ─────────────────────────────────────────────────────────────────────────────


def _context_values(context: Context, key: str) -> list[str] | None:
    for name, value in context.items():
        if name.lower() == key:
            return [value] if isinstance(value, str) else list(value)
    return None


def _condition_holds(condition: Condition, context: Context) -> bool:
    operator = condition.operator
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    present = _context_values(context, condition.key)

    if operator == "Null":
        wanted_absent = condition.values[0].lower() == "true" if condition.values else True
        return (present is None) == wanted_absent
    if present is None:
        # A missing key fails every operator except the negated ones, unless `…IfExists`.
        return if_exists or (
            operator.startswith(("StringNot", "ArnNot", "NotIp")) and qualifier == ""
        )
    test = _OPERATORS.get(operator)
    if test is None:
        return False  # an operator IAM itself would reject; the statement cannot apply
    negated = operator.startswith(("StringNot", "ArnNot", "NotIp", "NumericNot", "DateNot"))
    if qualifier.lower() == "forallvalues":
        return all(test(value, condition.values) for value in present)
    if negated:
        return all(test(value, condition.values) for value in present)
    return any(test(value, condition.values) for value in present)


def _glob(value: str, patterns: tuple[str, ...], *, case_sensitive: bool = True) -> bool:
    return bool(_pattern(patterns, case_sensitive=case_sensitive).fullmatch(value))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    number = _number(text)
    if number is not None:
        return datetime.fromtimestamp(number, UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare(kind: str, relation: str) -> Any:
    parse = _number if kind == "number" else _date
    relate = _RELATIONS[relation]

    def test(value: str, references: tuple[str, ...]) -> bool:
        left = parse(value)
        rights = [r for r in (parse(reference) for reference in references) if r is not None]
        if left is None or not rights:
            return False
        if relation == "ne":
            return all(left != right for right in rights)
        return any(relate(left, right) for right in rights)

    return test


def _in_network(value: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    for network in networks:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


_RELATIONS: dict[str, Any] = {
    "eq": relations.eq,
    "ne": relations.ne,
    "lt": relations.lt,
    "le": relations.le,
    "gt": relations.gt,
    "ge": relations.ge,
}

_OPERATORS: dict[str, Any] = {
    "StringEquals": lambda v, refs: v in refs,
    "StringNotEquals": lambda v, refs: v not in refs,
    "StringEqualsIgnoreCase": lambda v, refs: v.lower() in {r.lower() for r in refs},
    "StringNotEqualsIgnoreCase": lambda v, refs: v.lower() not in {r.lower() for r in refs},
    "StringLike": lambda v, refs: _glob(v, refs),
    "StringNotLike": lambda v, refs: not _glob(v, refs),
    "ArnEquals": lambda v, refs: _glob(v, refs),
    "ArnLike": lambda v, refs: _glob(v, refs),
    "ArnNotEquals": lambda v, refs: not _glob(v, refs),
    "ArnNotLike": lambda v, refs: not _glob(v, refs),
    "Bool": lambda v, refs: v.lower() in {r.lower() for r in refs},
    "IpAddress": _in_network,
    "NotIpAddress": lambda v, refs: not _in_network(v, refs),
    "NumericEquals": _compare("number", "eq"),
    "NumericNotEquals": _compare("number", "ne"),
    "NumericLessThan": _compare("number", "lt"),
    "NumericLessThanEquals": _compare("number", "le"),
    "NumericGreaterThan": _compare("number", "gt"),
    "NumericGreaterThanEquals": _compare("number", "ge"),
    "DateEquals": _compare("date", "eq"),
    "DateNotEquals": _compare("date", "ne"),
    "DateLessThan": _compare("date", "lt"),
    "DateLessThanEquals": _compare("date", "le"),
    "DateGreaterThan": _compare("date", "gt"),
    "DateGreaterThanEquals": _compare("date", "ge"),
}
