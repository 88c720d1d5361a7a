"""Collateral damage: what the team destroyed or disabled that it should have left alone.

Every scenario has the penalty without writing it (`collateral:` tunes or waives it). An item
is something that existed before the push — an IAM user, a role, a console password, an
access key of a bystander, an EC2 instance, an S3 bucket, a Secrets Manager secret — that the
team's hands deleted or disabled (terminated, deactivated) although the attacker did not create
it and no step of the scenario asked for it. What stays out:

- what the attacker created, and what the team created itself;
- the leaked key and its user's keys and console password (they are the incident);
- a key a step names in `access-key-disabled` (the scenario asked for it), a key of the run's
  own principals, and a key that works again or whose user has a new key from the team (a
  rotation is not damage);
- what a scenario's own penalty charged: the workload's key when it was deleted while its
  secret held it and the scenario has a `production-key-deleted-without-replacement` penalty,
  or when the workload went down and the scenario has a `workload-outage` penalty (a workload
  kept running on somebody else's key charges nothing, so its disabled key is damage);
- a key or a console password that went with its user: deleting the user is the one item.

The items are worked out from the state at the moment of scoring, so a key disabled now and
replaced later is not counted; the penalty's time is that of the first item that counts.
"""

from __future__ import annotations

from gameday.scenario.model import AccessKeyDisabled, Collateral, Scenario
from gameday.scoring.state import Damage, State

PENALTY_ID = "collateral-damage"
TITLE = "Collateral damage: what the attacker did not create was deleted or disabled"
EXEMPT_PRINCIPALS = ("responder", "framework")


def collateral_policy(scenario: Scenario) -> Collateral | None:
    """The scenario's terms for the penalty, or None when it waives it."""
    if isinstance(scenario.collateral, Collateral):
        return scenario.collateral
    return Collateral() if scenario.collateral else None


def _asked(state: State) -> set[str]:
    """The access keys a step asks the team to disable."""
    asked: set[str] = set()
    for step in state.scenario.steps:
        check = step.check
        if not isinstance(check, AccessKeyDisabled):
            continue
        if check.key is not None:
            key_id = state.key_id(check.key)
            if key_id:
                asked.add(key_id)
        elif check.user is not None:
            asked.update(key.access_key_id for key in state.keys_of(check.user))
    return asked


def _charged_elsewhere(state: State, key_id: str) -> bool:
    """Whether a penalty of the scenario already charged for the workload's key going."""
    workload = state.scenario.workload
    if workload is None or key_id != state.key_id(workload.key):
        return False
    kinds = {penalty.check.type for penalty in state.scenario.penalties}
    went_down = state.workload.outage_s > 0 or state.workload.failing_since is not None
    return ("workload-outage" in kinds and went_down) or (
        "production-key-deleted-without-replacement" in kinds and key_id in state.deleted_while_held
    )


def collateral_damage(state: State) -> list[Damage]:
    """The items of collateral damage that count, in the order they happened."""
    asked = _asked(state)
    exempt = state.principal_keys(*EXEMPT_PRINCIPALS)
    users_deleted = {item.name for item in state.damage if item.kind == "user"}
    counted: list[Damage] = []
    seen: set[tuple[str, str]] = set()
    for item in state.damage:
        if (item.kind, item.name) in seen:
            continue
        if item.kind in ("access-key", "login-profile") and item.user in users_deleted:
            continue
        if item.kind == "access-key":
            key = state.keys.get(item.name)
            if key is None or key.active or item.name in asked or item.name in exempt:
                continue
            if state.replacements(key.user) or _charged_elsewhere(state, item.name):
                continue
        seen.add((item.kind, item.name))
        counted.append(item)
    return counted
