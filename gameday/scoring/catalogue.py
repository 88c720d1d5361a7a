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

## Who earns a step

Every change the state follows remembers who made it, and a step pays only for the team's own
work:

- **the team** — an `api.call` with `actor: responder` *and* `key_actor: responder`: signed
  with a key the team holds (its own user's, or one a team call created). A responder's call
  signed with the leaked key (`key_actor: attacker`) or the workload's key (`key_actor:
  workload`), or a key the gateway did not know, changes the account like any other call but
  earns nothing — and still counts against the team when it destroys something. The code
  host's actions (`repo.private`, `repo.pushed`, `repo.deleted`) are the team's.
- **the facilitator** — a `mark` with `by: facilitator`; a mark by anyone else is ignored, so
  only `manual` steps are the facilitator's to give.
- nobody — a check that holds because of the attacker, AWS (the framework's acts on its behalf,
  like the quarantine), the workload, or because nothing happened (a key that was dead before
  the push, an attacker who created nothing): such a step is not credited. A step that is
  meant to be held rather than done — the key stays disabled, the service keeps running — is
  marked `keep: true` in the scenario: it is met at detection if its check held then and never
  broke, and lost as soon as it breaks. A step with `after: [step…]` pays only when its check
  became true after those steps were satisfied (lifting the quarantine after the leaked key is
  dead). See docs/scenario-format.md.

Detection — where targets and deadlines count from — is the first notice a customer receives:
an email, the Health event, a webhook that was posted, the phone call or the support case
(`inject.delivered` of those types, not `failed` or `skipped`). AWS's quarantine shows only in
IAM and the facilitator's console cues reach nobody, so neither is detection.

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
    (
        "`cloudtrail:LookupEvents`",
        "nothing: the scoring reads its `params` (`LookupAttributes`, `StartTime`, `EndTime`)",
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


COLLATERAL = """\
## Collateral damage (every scenario's default penalty)

Every scenario charges for collateral damage without writing a penalty for it: the penalty
`collateral-damage` costs `points` (default 5) per item, up to `max_points` (default 30). A
scenario tunes it with a top-level `collateral: {points: 3, max_points: 15}` or waives it with
`collateral: false`. An item is something that existed before the push that the team's hands
(`actor: responder`, whatever key signed) deleted or disabled although the attacker did not
create it and no step asked for it:

{items}

Not counted: what the attacker created, what the team created itself, the leaked key, the keys
of the run's own principals, and what a penalty of the scenario charged — the workload's key
when the workload went down and the scenario has a `workload-outage` penalty, or when it was
deleted while its secret held it and the scenario has a
`production-key-deleted-without-replacement` one (a workload kept running on somebody else's
key is charged nothing, so its own key disabled is collateral damage). `score.json` lists
each item under the penalty's `items` (`kind`, `name`, `detail`, `at_s` from detection, `by`),
and the reports show them. The id `collateral-damage` is the default penalty's: do not give it
to another.
"""


COLLATERAL_ITEMS = (
    ("IAM user", "`iam:DeleteUser` (its keys and console password go with it: one item)"),
    ("role", "`iam:DeleteRole`"),
    ("console password", "`iam:DeleteLoginProfile` of a user other than the leaked key's"),
    (
        "access key",
        "`iam:UpdateAccessKey` to Inactive or `iam:DeleteAccessKey` of a key that was active, "
        "of a user other than the leaked key's — unless, when the score is taken, it works "
        "again, its user has a new key from the team (a rotation), or a step's "
        "`access-key-disabled` names it",
    ),
    ("EC2 instance", "`ec2:TerminateInstances`"),
    ("S3 bucket", "`s3:DeleteBucket`"),
    ("secret", "`secretsmanager:DeleteSecret`"),
)


def render() -> str:
    table = ["| call | `result` fields |", "|---|---|"]
    table += [f"| {call} | {fields} |" for call, fields in RESULT_FIELDS]
    lines = [INTRODUCTION.replace("{result_fields}", "\n".join(table))]
    items = ["| item | counts when |", "|---|---|"]
    items += [f"| {item} | {when} |" for item, when in COLLATERAL_ITEMS]
    lines.append(COLLATERAL.replace("{items}", "\n".join(items)))
    for check in CHECKS:
        lines += _section(check)
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
