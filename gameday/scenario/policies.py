"""IAM policy documents of the estate, checked as IAM checks them.

A customer managed policy (`account.estate.policies[].document`) and a user's inline
policies (`inline_policies`) are created in the mock account when the world is built. IAM
refuses a malformed document with `MalformedPolicyDocument`, and so does the mock — which
would stop a run after the room has started. This module applies IAM's grammar to each
document at `gameday validate` time instead: the elements a policy may hold (Version, Id,
Statement; Sid, Effect, Action/NotAction, Resource/NotResource, Condition), their types,
the action and resource formats, the condition operators, unique Sids, and the size quotas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from gameday.errors import did_you_mean

Loc = tuple[str | int, ...]
Found = tuple[Loc, str]

VERSION = "2012-10-17"
TOP_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = (
    "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition",
)  # fmt: skip
PRINCIPAL_ELEMENTS = ("Principal", "NotPrincipal")
OPERATORS = (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
)  # fmt: skip
PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f")
IAM_RESOURCE_TYPES = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/",
    "server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/",
    "report/", "access-report/",
)  # fmt: skip
MANAGED_POLICY_SIZE = 6144  # characters of a managed policy, whitespace aside
INLINE_POLICIES_SIZE = 2048  # characters of all a user's inline policies together

_ACTION = re.compile(r"^(\*|[A-Za-z0-9.-]+:[A-Za-z0-9*?]+)$")
_SID = re.compile(r"^[A-Za-z0-9]*$")


def policy_size(document: Any) -> int:
    """The size IAM counts against its quotas: the JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":"), default=str))


def check_policy(document: Any, loc: Loc) -> Iterator[Found]:
    """Every way `document` (at `loc`) breaks IAM's grammar for an identity policy."""
    if not isinstance(document, dict):
        yield loc, "a policy document is a mapping with Version and Statement — write one"
        return
    for element in document:
        if element in TOP_ELEMENTS:
            continue
        if element in STATEMENT_ELEMENTS:
            yield (
                (*loc, element),
                f"'{element}' belongs inside a statement — move it under Statement",
            )
        else:
            yield (
                (*loc, element),
                f"unknown policy element '{element}' — {did_you_mean(element, TOP_ELEMENTS)}",
            )
    version = document.get("Version")
    if version is None:
        yield loc, f'a policy needs Version: "{VERSION}" — add it'
    elif not isinstance(version, str):
        yield (*loc, "Version"), f'Version must be text — write it in quotes: "{VERSION}"'
    elif version != VERSION:
        yield (*loc, "Version"), f'IAM takes only version {VERSION} here — write "{VERSION}"'
    if "Id" in document and not isinstance(document["Id"], str):
        yield (*loc, "Id"), "Id must be text — put it in quotes"
    statements = document.get("Statement")
    if statements is None:
        yield loc, "a policy needs a Statement — add one with Effect, Action and Resource"
        return
    listed = isinstance(statements, list)
    if not listed and not isinstance(statements, dict):
        yield (*loc, "Statement"), "Statement is a statement or a list of them — fix it"
        return
    if listed and not statements:
        yield (*loc, "Statement"), "Statement is empty — add a statement"
    sids: set[str] = set()
    for index, statement in enumerate(statements if listed else [statements]):
        where: Loc = (*loc, "Statement", index) if listed else (*loc, "Statement")
        yield from _check_statement(statement, where, sids)


def _check_statement(statement: Any, loc: Loc, sids: set[str]) -> Iterator[Found]:
    if not isinstance(statement, dict):
        yield loc, "a statement is a mapping of Effect, Action and Resource — write one"
        return
    for element in statement:
        if element in PRINCIPAL_ELEMENTS:
            yield (
                (*loc, element),
                f"a policy attached to a user, group or role names no {element} (IAM refuses "
                "it) — remove it",
            )
        elif element not in STATEMENT_ELEMENTS:
            yield (
                (*loc, element),
                f"unknown statement element '{element}' — "
                f"{did_you_mean(element, STATEMENT_ELEMENTS)}",
            )
    sid = statement.get("Sid")
    if sid is not None:
        if not isinstance(sid, str) or not _SID.match(sid):
            yield (*loc, "Sid"), "a Sid holds letters and digits only — rename it"
        elif sid and sid in sids:
            yield (*loc, "Sid"), f"Sid '{sid}' is used twice in this policy — make each unique"
        elif sid:
            sids.add(sid)
    effect = statement.get("Effect")
    if effect is None:
        yield loc, "a statement needs an Effect — add Effect: Allow or Effect: Deny"
    elif effect not in ("Allow", "Deny"):
        yield (
            (*loc, "Effect"),
            f"{_shown(effect)} is not an Effect — {did_you_mean(str(effect), ('Allow', 'Deny'))}",
        )
    yield from _one_of(statement, loc, ("Action", "NotAction"), _action_problem, "actions")
    yield from _one_of(statement, loc, ("Resource", "NotResource"), _resource_problem, "resources")
    if "Condition" in statement:
        yield from _check_condition(statement["Condition"], (*loc, "Condition"))


def _shown(value: Any) -> str:
    text = f"'{value}'" if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_of(
    statement: dict[str, Any],
    loc: Loc,
    names: tuple[str, str],
    problem_of: Any,
    what: str,
) -> Iterator[Found]:
    given = [name for name in names if name in statement]
    if not given:
        yield loc, f"a statement needs {names[0]} (or {names[1]}) — list the {what} it covers"
        return
    if len(given) == 2:
        yield (*loc, names[1]), f"give {names[0]} or {names[1]}, not both — remove one"
    for name in given:
        value = statement[name]
        items = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not value:
            yield (*loc, name), f"{name} is empty — list at least one"
        for index, item in enumerate(items):
            where = (*loc, name, index) if isinstance(value, list) else (*loc, name)
            if not isinstance(item, str):
                yield where, f"{name} entries are text, not {_shown(item)} — put it in quotes"
            elif problem := problem_of(item):
                yield where, problem


def _action_problem(action: str) -> str | None:
    if _ACTION.match(action):
        return None
    return (
        f"{_shown(action)} is not an action — write service:Action, like s3:GetObject "
        "(wildcards * and ? allowed)"
    )


def _resource_problem(resource: str) -> str | None:
    if resource == "*":
        return None
    parts = resource.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
        return (
            f"{_shown(resource)} is not a resource — write an ARN like "
            'arn:aws:s3:::bucket/*, or "*"'
        )
    partition, service, region = parts[1], parts[2], parts[3]
    if partition not in (*PARTITIONS, "*"):
        return f"{_shown(resource)}: '{partition}' is not an AWS partition — use 'aws'"
    if not re.fullmatch(r"[a-z0-9-]+", service):
        return f"{_shown(resource)}: '{service}' is not a service name — like s3 or iam"
    if service in ("iam", "s3") and region and not parts[5].startswith("accesspoint/"):
        return f"{_shown(resource)}: {service} ARNs carry no region — leave that part empty"
    if service == "iam" and parts[5] != "*" and not parts[5].startswith(IAM_RESOURCE_TYPES):
        return f"{_shown(resource)}: an IAM resource is user/…, role/…, group/…, policy/… or *"
    return None


def _check_condition(condition: Any, loc: Loc) -> Iterator[Found]:
    if not isinstance(condition, dict):
        yield loc, "Condition is a mapping of operators — like {StringEquals: {key: value}}"
        return
    for operator, tests in condition.items():
        where: Loc = (*loc, operator)
        base = _operator(str(operator))
        if base not in OPERATORS:
            yield (
                where,
                f"unknown condition operator '{operator}' — {did_you_mean(base, OPERATORS)}",
            )
        if not isinstance(tests, dict):
            yield where, "an operator takes a mapping of condition keys to values — fix it"
            continue
        for key, value in tests.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, bool | str):
                    if base.startswith("Date") and isinstance(item, str) and not _is_date(item):
                        yield (
                            (*where, key),
                            f"{_shown(item)} is not a date — write it like 2026-03-02T12:00:00Z",
                        )
                    continue
                yield (
                    (*where, key),
                    f"condition values are text or true/false, not {_shown(item)} — "
                    "put it in quotes",
                )


def _operator(operator: str) -> str:
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        operator = operator.removeprefix(prefix)
    return operator.removesuffix("IfExists")


def _is_date(text: str) -> bool:
    if text.isdigit():
        return len(text) <= 19
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_policies(data: dict[str, Any]) -> Iterator[Found]:
    """The estate's policy documents and the policies its users, groups and roles attach."""
    account = _dict(data.get("account"))
    estate = _dict(account.get("estate"))
    base: Loc = ("account", "estate")
    own: dict[str, str] = {}  # ARN → name, for this account's own policies
    for index, policy in enumerate(_list(estate.get("policies"))):
        if not isinstance(policy, dict):
            continue
        loc: Loc = (*base, "policies", index, "document")
        if "document" in policy:
            yield from check_policy(policy["document"], loc)
            if (size := policy_size(policy["document"])) > MANAGED_POLICY_SIZE:
                yield loc, _too_big(size, MANAGED_POLICY_SIZE, "a managed policy")
        name, path = policy.get("name"), policy.get("path", "/")
        if isinstance(name, str) and isinstance(path, str):
            own[f"arn:aws:iam::{account.get('id')}:policy{path}{name}"] = name
    for index, user in enumerate(_list(estate.get("users"))):
        inline = user.get("inline_policies") if isinstance(user, dict) else None
        if not isinstance(inline, dict):
            continue
        loc = (*base, "users", index, "inline_policies")
        for name, document in inline.items():
            yield from check_policy(document, (*loc, name))
        if (size := sum(policy_size(d) for d in inline.values())) > INLINE_POLICIES_SIZE:
            yield loc, _too_big(size, INLINE_POLICIES_SIZE, "a user's inline policies together")
    for section in ("users", "groups", "roles"):
        for index, holder in enumerate(_list(estate.get(section))):
            policies = holder.get("policies") if isinstance(holder, dict) else None
            for p_index, arn in enumerate(_list(policies)):
                if not isinstance(arn, str) or not arn.startswith("arn:aws:iam::"):
                    continue
                owner = arn.split(":")[4] if arn.count(":") >= 5 else ""
                if owner not in ("aws", account.get("id")):
                    yield (
                        (*base, section, index, "policies", p_index),
                        f"'{arn}' is another account's policy — attach an AWS managed policy "
                        "or one of account.estate.policies",
                    )
                elif owner != "aws" and arn not in own:
                    yield (
                        (*base, section, index, "policies", p_index),
                        f"'{arn}' is not one of account.estate.policies — {did_you_mean(arn, own)}",
                    )


def _too_big(size: int, most: int, what: str) -> str:
    return (
        f"{what} may hold {most:,} characters (whitespace aside), this holds {size:,} — shorten it"
    )


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
