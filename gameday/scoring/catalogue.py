"""docs/checks.md, generated from the check registry so it cannot drift.

Regenerate with `python -m gameday.scoring.catalogue > docs/checks.md`; a test fails when the
file is stale.
"""

from __future__ import annotations

from typing import Any

from gameday.scoring.checks import CHECKS, STEPS_TOPIC, CheckType

INTRODUCTION = """\
# Checks

Generated from the registry (`python -m gameday.scoring.catalogue > docs/checks.md`); do not
edit. A step or a penalty of a scenario names its check by `type`, with the parameters below:

```yaml
steps:
  - id: disable-leaked-key
    check: {type: access-key-disabled, key: leaked, state: any}
```

A check is a predicate over the state of the run as the journal records it — the mock account,
the repository, the workload, the facilitator's marks — never over the live mock, so a run can
be re-scored from its journal alone. The state starts from the `world.seeded` event and
follows every successful API call, code-host action, probe and mark. A check is evaluated
again only when an event touches what it reads; a step is satisfied when its check last became
true and stayed true, and a penalty is incurred when its check first becomes true (see
DESIGN.md, "Scoring model", and `gameday/scoring/score.py`).

## What the scoring reads from `api.call`

Only calls with `status` below 400 change the state. A resource belongs to the attacker when
the call that created it has `actor: attacker`; a key the attacker minted stays the attacker's
whoever signs with it. Parameters are read under their API names (`UserName`, `AccessKeyId`,
`Status`, `PolicyArn`, `PolicyName`, `PolicyDocument`, `RoleName`, `FunctionName`,
`SecretId`, `Name`), lists as botocore names them (`InstanceIds`) or as the query protocol
sends them (`InstanceId.1`, `InstanceId.2` …). From `result` the scoring needs:

{result_fields}

An `inject.delivered` of type `quarantine` also attaches the quarantine policy (the inject's
`policy`, or `data.policy_arn`) to `data.user_name` (default: the leaked key's user), in case
it was attached behind the gateway. An `attacker.technique`'s `created` entries
(`{kind, id, region, parent}`) mark resources as the attacker's even when their calls are
missing from the journal.
"""


RESULT_FIELDS = (
    (
        "`iam:CreateAccessKey`",
        "`AccessKeyId`, `UserName` (else `params.UserName`, else the caller's user)",
    ),
    ("`iam:CreatePolicy`", "`PolicyArn` (else built from `PolicyName` and `Path`)"),
    ("`ec2:RunInstances`", "`InstanceIds` (the call's `region` is the instances' region)"),
    (
        "`ec2:RequestSpotInstances`",
        "`SpotInstanceRequestIds`, and `InstanceIds` if any were launched",
    ),
    (
        "`secretsmanager:PutSecretValue`, `UpdateSecret`",
        "`Name`, and `SecretAccessKeyId`: the access key id in the new value (JSON with "
        "`aws_access_key_id`), or null when the new value holds none",
    ),
)


def describe_topic(topic: str) -> str:
    """A topic (see `gameday.scoring.checks.registry`) in words."""
    kind, _, subject = topic.partition(":")
    if topic == STEPS_TOPIC:
        return "the other steps' checks"
    if kind == "api":
        return f"successful mutating `{subject}` calls"
    if kind == "called":
        action = "the action" if subject.startswith("<") else f"`{subject}`"
        return f"the responder's successful calls of {action}"
    if kind == "leaked-key":
        return "calls the responder signed with the leaked key"
    if kind == "kind":
        return f"`{subject}` events"
    return f"`{topic}`"


def _default(field: Any) -> str:
    return "required" if field.is_required() else f"`{field.default!r}`"


def _section(check: CheckType[Any]) -> list[str]:
    lines = [
        f"## `{check.name}`",
        "",
        f"**{check.title}**",
        "",
        check.description,
        "",
        "*Evaluated on:* " + "; ".join(describe_topic(t) for t in check.reads) + ".",
        "",
    ]
    rows = [
        (
            name,
            _default(field),
            (field.description or check.parameters.get(name, "")).replace("|", "\\|"),
        )
        for name, field in check.params.model_fields.items()
        if name != "type"
    ]
    if rows:
        lines += ["| parameter | default | meaning |", "|---|---|---|"]
        lines += [f"| `{name}` | {default} | {text} |" for name, default, text in rows]
        lines.append("")
    return lines


def render() -> str:
    table = ["| call | `result` fields |", "|---|---|"]
    table += [f"| {call} | {fields} |" for call, fields in RESULT_FIELDS]
    lines = [INTRODUCTION.replace("{result_fields}", "\n".join(table))]
    for check in CHECKS:
        lines += _section(check)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
