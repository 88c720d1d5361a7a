"""Cross-references between the sections of a scenario.

The model checks each field on its own; this module checks that names used in one section
exist in another (a step's key, the leak's user, an inject's `after`), that ids are unique,
and that times are coherent. It reads the raw YAML data defensively, so it reports its
problems even when the model found others, and every problem is reported at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gameday.errors import did_you_mean
from gameday.scenario.durations import format_duration
from gameday.scenario.fields import repository_path_problem
from gameday.scenario.limits import as_dict, as_list, seconds_or_none
from gameday.scenario.model import (
    CONDITIONS,
    DEFAULT_RESPONDERS_USER,
    INJECT_TYPES,
    RELEASE_ASSET_VECTORS,
)
from gameday.scenario.timing import PLANS_WITH_SUPPORT_API, can_fire, earliest_notice

Loc = tuple[str | int, ...]
Found = tuple[Loc, str]

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
DOCUMENTATION_KEY_REFS = {"leaked"}


def _unique(items: list[Any], loc: Loc, key: str, what: str) -> Iterator[Found]:
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = as_dict(item).get(key)
        if isinstance(name, str):
            if name in seen:
                yield (
                    (*loc, index, key),
                    f"duplicate {what} '{name}' — give each {what} its own {key}",
                )
            seen.add(name)


def _known(name: Any, known: set[str], loc: Loc, what: str, where: str) -> Iterator[Found]:
    if isinstance(name, str) and name not in known:
        if known:
            yield loc, f"unknown {what} '{name}' — {did_you_mean(name, known)}"
        else:
            yield loc, f"unknown {what} '{name}' — define it under {where} first"


def check_references(data: dict[str, Any]) -> Iterator[Found]:
    account = as_dict(data.get("account"))
    estate = as_dict(account.get("estate"))
    users = as_list(estate.get("users"))
    user_names = {u["name"] for u in users if isinstance(as_dict(u).get("name"), str)}
    group_names = {
        g["name"] for g in as_list(estate.get("groups")) if isinstance(as_dict(g).get("name"), str)
    }
    policy_names = {
        p["name"]
        for p in as_list(estate.get("policies"))
        if isinstance(as_dict(p).get("name"), str)
    }
    secret_names = {
        s["name"] for s in as_list(estate.get("secrets")) if isinstance(as_dict(s).get("name"), str)
    }
    bucket_names = {
        b["name"] for b in as_list(estate.get("buckets")) if isinstance(as_dict(b).get("name"), str)
    }
    key_owner: dict[str, str] = {}

    estate_loc: Loc = ("account", "estate")
    for section, what in (
        ("users", "user"),
        ("groups", "group"),
        ("roles", "role"),
        ("policies", "policy"),
        ("secrets", "secret"),
        ("buckets", "bucket"),
    ):
        yield from _unique(as_list(estate.get(section)), (*estate_loc, section), "name", what)

    for u_index, user in enumerate(users):
        user = as_dict(user)
        u_loc: Loc = (*estate_loc, "users", u_index)
        for g_index, group in enumerate(as_list(user.get("groups"))):
            yield from _known(
                group, group_names, (*u_loc, "groups", g_index), "group", "account.estate.groups"
            )
        yield from _policy_refs(user.get("policies"), (*u_loc, "policies"), policy_names)
        for k_index, key in enumerate(as_list(user.get("keys"))):
            key_id = as_dict(key).get("id")
            if not isinstance(key_id, str):
                continue
            if key_id in DOCUMENTATION_KEY_REFS:
                yield (
                    (*u_loc, "keys", k_index, "id"),
                    (
                        f"'{key_id}' is reserved: it always means the key that leaks — "
                        "give this key another id and point leak.key at it"
                    ),
                )
            elif key_id in key_owner:
                yield (
                    (*u_loc, "keys", k_index, "id"),
                    (
                        f"duplicate key id '{key_id}' (also on user '{key_owner[key_id]}') — "
                        "key ids are unique across the estate"
                    ),
                )
            # the first user keeps a duplicated id, so later checks see its keys intact
            key_owner.setdefault(key_id, str(user.get("name")))
        if len(as_list(user.get("keys"))) > 2:
            yield (*u_loc, "keys"), "an IAM user has at most 2 access keys — remove the extra ones"

    for g_index, group in enumerate(as_list(estate.get("groups"))):
        yield from _policy_refs(
            as_dict(group).get("policies"),
            (*estate_loc, "groups", g_index, "policies"),
            policy_names,
        )
    for r_index, role in enumerate(as_list(estate.get("roles"))):
        role = as_dict(role)
        r_loc: Loc = (*estate_loc, "roles", r_index)
        yield from _policy_refs(role.get("policies"), (*r_loc, "policies"), policy_names)
        trust = as_dict(role.get("trust"))
        if (
            "trust" in role
            and not as_list(trust.get("services"))
            and not as_list(trust.get("accounts"))
        ):
            yield (*r_loc, "trust"), "a role must trust someone — list services or accounts"
    for s_index, secret in enumerate(as_list(estate.get("secrets"))):
        secret = as_dict(secret)
        s_loc: Loc = (*estate_loc, "secrets", s_index)
        if "from_key" in secret:
            yield from _known(
                secret["from_key"], set(key_owner), (*s_loc, "from_key"), "key", "a user's keys"
            )
            if secret.get("value") is not None:
                yield (*s_loc, "value"), "give either 'value' or 'from_key', not both — remove one"

    trail_names = {
        t["name"] for t in as_list(estate.get("trails")) if isinstance(as_dict(t).get("name"), str)
    }
    yield from _unique(as_list(estate.get("trails")), (*estate_loc, "trails"), "name", "trail")
    for t_index, trail in enumerate(as_list(estate.get("trails"))):
        yield from _known(
            as_dict(trail).get("bucket"),
            bucket_names,
            (*estate_loc, "trails", t_index, "bucket"),
            "bucket",
            "account.estate.buckets",
        )

    regions = {r for r in as_list(account.get("regions")) if isinstance(r, str)}
    # What the company runs lives in the regions it uses: anything elsewhere is what a team
    # (and the reference runbook) reads as the attacker's, or never looks for.
    worked_in = ", ".join(r for r in as_list(account.get("regions")) if isinstance(r, str))
    for section, what, default in (
        ("secrets", "secret '{}' is", "us-east-1"),
        ("instances", "the instances '{}' are", None),
    ):
        for index, item in enumerate(as_list(estate.get(section))):
            item = as_dict(item)
            region = item.get("region", default)
            if not regions or not isinstance(region, str) or region in regions:
                continue
            told = "region" in item
            yield (
                (*estate_loc, section, index, "region") if told else (*estate_loc, section, index),
                f"{what.format(item.get('name'))} in {region}"
                f"{'' if told else ' (the default)'}, "
                f"but the company works only in {worked_in} (account.regions) — "
                f"{'set its region to' if told else 'give it a region:'} one of those, or add "
                f"{region} to account.regions",
            )

    # the leak
    leak = as_dict(data.get("leak"))
    leaked_user = leak.get("user")
    if "user" in leak:
        yield from _known(leaked_user, user_names, ("leak", "user"), "user", "account.estate.users")
    if isinstance(leaked_user, str) and leaked_user in user_names:
        owned = [k for k, owner in key_owner.items() if owner == leaked_user]
        key = leak.get("key")
        if key is None and not owned:
            yield (
                ("leak", "user"),
                (f"user '{leaked_user}' has no access key to leak — add one under its 'keys'"),
            )
        elif isinstance(key, str) and key not in owned:
            hint = did_you_mean(key, owned) if owned else f"user '{leaked_user}' has no keys"
            yield ("leak", "key"), f"'{key}' is not a key of user '{leaked_user}' — {hint}"
    if leak.get("vector") in RELEASE_ASSET_VECTORS:
        # the key is in a release's download, never in a commit: nothing for these to act on
        for field, what in (("trick", "a history trick"), ("removed", "a later removal")):
            if field in leak:
                yield (
                    ("leak", field),
                    f"'{leak['vector']}' leaks the key in a release's download, never in a "
                    f"commit, so {what} has nothing to act on — remove leak.{field}, or pick a "
                    "vector that commits the key",
                )
    path = leak.get("path")
    if isinstance(path, str) and (problem := repository_path_problem(path)):
        yield ("leak", "path"), f"'{path}' {problem}, like 'scripts/deploy.sh'"
    history = as_dict(leak.get("history"))
    removed = as_dict(leak.get("removed"))
    after = history.get("after", 0)
    nth = removed.get("after_commits", 1)
    if removed and isinstance(after, int) and isinstance(nth, int) and nth > after:
        yield (
            ("leak", "removed", "after_commits"),
            (
                f"there are only {after} commits after the leak — raise leak.history.after or "
                "lower after_commits"
            ),
        )

    key_refs = set(key_owner) | {"leaked"}
    duration = seconds_or_none(data.get("duration"))
    # when an inject's type is unknown (a typo, reported on its own), nobody can tell when
    # the first notice comes: comparing deadlines with it would blame the wrong lines
    types_known = all(as_dict(i).get("type") in INJECT_TYPES for i in as_list(data.get("timeline")))
    notice = earliest_notice(data)
    plan = account.get("support_plan")

    # the timeline
    timeline = as_list(data.get("timeline"))
    inject_ids = {i["id"] for i in timeline if isinstance(as_dict(i).get("id"), str)}
    yield from _unique(timeline, ("timeline",), "id", "inject")
    for index, inject in enumerate(timeline):
        inject = as_dict(inject)
        loc: Loc = ("timeline", index)
        has_at, has_after = inject.get("at") is not None, inject.get("after") is not None
        if has_at and has_after:
            yield (
                loc,
                "an inject needs only one of 'at' (offset from the push) or 'after' — remove one",
            )
        elif not has_at and not has_after:
            yield (
                loc,
                "an inject needs exactly one of 'at' (offset from the push) or 'after' — add one",
            )
        target = as_dict(inject.get("after")).get("inject")
        if target is not None:
            yield from _known(target, inject_ids, (*loc, "after", "inject"), "inject", "timeline")
            if target == inject.get("id"):
                yield (*loc, "after", "inject"), "an inject cannot come after itself — name another"
        at = seconds_or_none(inject.get("at"))
        if at is not None and duration is not None and at > duration:
            yield (
                (*loc, "at"),
                "this inject comes after the exercise ends — lower 'at' or raise 'duration'",
            )
        if (
            inject.get("type") == "phone-call"
            and isinstance(plan, str)
            and plan != "enterprise"
            and can_fire(inject, plan)
            # a misspelt condition is its own mistake, reported where it is
            and all(
                c in CONDITIONS
                for c in (*as_list(inject.get("when")), *as_list(inject.get("unless")))
            )
        ):
            yield (
                (*loc, "type"),
                f"AWS phones only Enterprise Support customers and this account's support plan "
                f"is '{plan}' — remove the call, or set account.support_plan: enterprise",
            )
    yield from _after_cycles(timeline)

    # the attacker
    attacker = as_dict(data.get("attacker"))
    first_use = seconds_or_none(attacker.get("first_use"))
    if first_use is not None and duration is not None and first_use > duration:
        yield (
            ("attacker", "first_use"),
            "the attacker's first use comes after the exercise ends — lower 'first_use' or "
            "raise 'duration'",
        )
    for index, technique in enumerate(as_list(attacker.get("techniques"))):
        technique = as_dict(technique)
        loc = ("attacker", "techniques", index)
        at = seconds_or_none(technique.get("at"))
        if at is not None and duration is not None and at > duration:
            yield (
                (*loc, "at"),
                "this technique comes after the exercise ends — lower 'at' or raise 'duration'",
            )
        for field in ("user_name",):
            name = technique.get(field)
            if technique.get("technique") in (
                "aws.persistence.iam-backdoor-existing-user",
                "aws.persistence.iam-create-login-profile",
            ):
                # the responders' default user is in the account too: fair game for an attacker
                default = _default_responders(data)
                known = user_names | {default} if default else user_names
                yield from _known(name, known, (*loc, field), "user", "account.estate.users")
            elif technique.get("technique") == "aws.persistence.iam-create-backdoor-user" and (
                name in user_names or name == _default_responders(data)
            ):
                yield (
                    (*loc, field),
                    f"user '{name}' already exists — the backdoor user needs a new name",
                )
        if technique.get("technique") == "aws.persistence.iam-create-login-profile":
            target = next(
                (as_dict(u) for u in users if as_dict(u).get("name") == technique.get("user_name")),
                {},
            )
            # (one marked refused is the story of a refused attempt, whichever refusal it gets)
            if target.get("console") is True and technique.get("refused") is not True:
                yield (
                    (*loc, "user_name"),
                    f"user '{target['name']}' already has a console password (console: true), "
                    "so IAM refuses another (EntityAlreadyExists) — name a user without one, or "
                    "drop its console: true",
                )
        if technique.get("trail") is not None:
            yield from _known(
                technique["trail"], trail_names, (*loc, "trail"), "trail", "account.estate.trails"
            )
        for b_index, bucket in enumerate(as_list(technique.get("buckets"))):
            yield from _known(
                bucket, bucket_names, (*loc, "buckets", b_index), "bucket", "account.estate.buckets"
            )
        if technique.get("technique") == "aws.impact.ec2-mining":
            used = [r for r in as_list(technique.get("regions")) if r in regions]
            if used and len(used) == len(as_list(technique.get("regions"))):
                yield (
                    (*loc, "regions"),
                    (
                        "attackers favour regions the victim never uses — add at least one region "
                        "outside account.regions"
                    ),
                )

    # the workload
    workload = as_dict(data.get("workload"))
    if workload:
        yield from _known(
            workload.get("user"), user_names, ("workload", "user"), "user", "account.estate.users"
        )
        key = workload.get("key")
        owner = workload.get("user")
        # a misspelt workload user is one mistake, reported above: do not blame its key too
        if (
            isinstance(key, str)
            and key in key_owner
            and isinstance(owner, str)
            and owner in user_names
            and key_owner[key] != owner
        ):
            own = sorted(k for k, o in key_owner.items() if o == owner)
            fix = (
                f"use one of user '{owner}''s keys: {', '.join(own)}"
                if own
                else f"give user '{owner}' a key under its 'keys' and name it here"
            )
            yield (
                ("workload", "key"),
                f"key '{key}' belongs to user '{key_owner[key]}', not the workload's — {fix}",
            )
        elif isinstance(key, str) and key not in key_owner:
            yield from _known(key, set(key_owner), ("workload", "key"), "key", "a user's keys")
        yield from _known(
            workload.get("secret"),
            secret_names,
            ("workload", "secret"),
            "secret",
            "account.estate.secrets",
        )

    yield from _responders_refs(data, users, user_names)

    # steps and penalties
    steps = as_list(data.get("steps"))
    step_ids = {s["id"] for s in steps if isinstance(as_dict(s).get("id"), str)}
    yield from _unique(steps, ("steps",), "id", "step")
    penalties = as_list(data.get("penalties"))
    yield from _unique(penalties, ("penalties",), "id", "penalty")
    for section, items in (("steps", steps), ("penalties", penalties)):
        for index, item in enumerate(items):
            item = as_dict(item)
            loc = (section, index)
            trail = as_dict(item.get("check")).get("trail")
            if trail is not None:
                yield from _known(
                    trail,
                    trail_names,
                    (section, index, "check", "trail"),
                    "trail",
                    "account.estate.trails",
                )
            yield from _check_refs(
                as_dict(item.get("check")),
                (*loc, "check"),
                key_refs,
                user_names,
                secret_names,
                step_ids,
                bool(workload),
            )
            for position, other in enumerate(as_list(item.get("after"))):
                if other == item.get("id"):
                    yield (
                        (*loc, "after", position),
                        "a step cannot come after itself — remove it from its own 'after'",
                    )
                else:
                    yield from _known(other, step_ids, (*loc, "after", position), "step", "steps")
            target, deadline = (
                seconds_or_none(item.get("target")),
                seconds_or_none(item.get("deadline")),
            )
            if target is not None and deadline is not None and deadline < target:
                yield (*loc, "deadline"), "the deadline comes before the target — make it later"
            if section == "steps" and deadline is not None and duration is not None and types_known:
                yield from _deadline_within_run((*loc, "deadline"), deadline, duration, notice)
            if section == "steps":
                yield from _case_step_plan(as_dict(item.get("check")), (*loc, "check"), data)
    yield from _step_order_cycles(steps)
    # only when every step has valid points: a missing or mistyped one is reported by the model
    given = [s.get("points") for s in map(as_dict, steps)]
    points = [p for p in given if type(p) is int]
    if steps and len(points) == len(given) and sum(points) == 0:
        yield ("steps",), "no step is worth any points — give the steps points"


def _deadline_within_run(
    loc: Loc, deadline: float, duration: float, notice: tuple[float, str] | None
) -> Iterator[Found]:
    """A deadline counts from detection, so it must fit in what is left of the run then."""
    detected, by = notice if notice is not None else (0.0, None)
    left = duration - detected
    if deadline <= left:
        return
    if by is None:
        when = "no inject notifies anyone, so it counts from the push"
    else:
        when = (
            f"it counts from detection, the first notice ('{by}' at {format_duration(detected)}), "
            f"which leaves {format_duration(max(left, 0))} of the {format_duration(duration)} "
            "exercise"
        )
    lower = f"lower it to {format_duration(max(left, 0))} or " if left > 0 else ""
    yield (
        loc,
        f"the deadline is after the exercise ends: {when} — {lower}raise 'duration' to "
        f"{format_duration(detected + deadline)}",
    )


def _case_step_plan(check: dict[str, Any], loc: Loc, data: dict[str, Any]) -> Iterator[Found]:
    """A step on the support case needs a case, and a plan on which the team can answer it."""
    kind, action = check.get("type"), check.get("action")
    plan = as_dict(data.get("account")).get("support_plan")
    if (
        kind == "api-called"
        and isinstance(action, str)
        and action.startswith("support:")
        and isinstance(plan, str)
        and plan not in PLANS_WITH_SUPPORT_API
    ):
        yield (
            (*loc, "action"),
            f"on a '{plan}' support plan the Support API refuses every call "
            f"(SubscriptionRequiredException), so no team can call {action} — set "
            "account.support_plan to business or enterprise, or drop the step",
        )
        return
    if kind not in ("case-replied", "case-resolved"):
        return
    verb = "reply to" if kind == "case-replied" else "resolve"
    if isinstance(plan, str) and plan not in PLANS_WITH_SUPPORT_API:
        yield (
            (*loc, "type"),
            f"on a '{plan}' support plan the Support API refuses every call "
            "(SubscriptionRequiredException), so no team can "
            f"{verb} the case — set account.support_plan to business or enterprise, or "
            "drop the step",
        )
        return
    opens = [
        i for i in map(as_dict, as_list(data.get("timeline"))) if i.get("type") == "support-case"
    ]
    if not opens:
        yield (
            (*loc, "type"),
            f"no inject opens a support case, so there is no case to {verb} — add one to the "
            "timeline, like {id: case, type: support-case, at: 2m}, or drop the step",
        )


def _default_responders(data: dict[str, Any]) -> str | None:
    """The user the world adds for the responders when the scenario names none."""
    return None if "user" in as_dict(data.get("responders")) else DEFAULT_RESPONDERS_USER


def _responders_refs(
    data: dict[str, Any], users: list[Any], user_names: set[str]
) -> Iterator[Found]:
    """The responders' user: an estate user of their own, with a key for their AWS profile."""
    name = as_dict(data.get("responders")).get("user")
    if name is None:
        for index, user in enumerate(users):
            if as_dict(user).get("name") == DEFAULT_RESPONDERS_USER:
                yield (
                    ("account", "estate", "users", index, "name"),
                    (
                        f"'{DEFAULT_RESPONDERS_USER}' is the name of the responders' default user "
                        "— name this user under responders.user (with an active key), or rename it"
                    ),
                )
        return
    loc: Loc = ("responders", "user")
    if not isinstance(name, str) or name not in user_names:
        yield from _known(name, user_names, loc, "user", "account.estate.users")
        return
    if name == as_dict(data.get("leak")).get("user"):
        yield (
            loc,
            f"user '{name}' owns the key that leaks — the responders need a user of their own",
        )
        return
    if name == as_dict(data.get("workload")).get("user"):
        yield (
            loc,
            f"user '{name}' is the workload's — the responders need a user of their own",
        )
        return
    user = next(as_dict(u) for u in users if as_dict(u).get("name") == name)
    if not any(
        as_dict(key).get("status", "Active") == "Active" for key in as_list(user.get("keys"))
    ):
        yield (
            loc,
            f"user '{name}' has no active access key for the responders' AWS profile — "
            "add one under its 'keys'",
        )


def _policy_refs(policies: Any, loc: Loc, own: set[str]) -> Iterator[Found]:
    for index, policy in enumerate(as_list(policies)):
        if isinstance(policy, str) and not policy.startswith("arn:"):
            yield from _known(
                policy,
                own,
                (*loc, index),
                "policy",
                f"account.estate.policies (or use an ARN like {AWS_MANAGED_PREFIX}ReadOnlyAccess)",
            )


def _check_refs(
    check: dict[str, Any],
    loc: Loc,
    key_refs: set[str],
    users: set[str],
    secrets: set[str],
    steps: set[str],
    has_workload: bool,
) -> Iterator[Found]:
    kind = check.get("type")
    if "key" in check and check["key"] is not None:
        yield from _known(check["key"], key_refs, (*loc, "key"), "key", "a user's keys")
    if isinstance(check.get("user"), str):
        yield from _known(check["user"], users, (*loc, "user"), "user", "account.estate.users")
    for field in ("users", "exclude"):
        for index, name in enumerate(as_list(check.get(field))):
            yield from _known(name, users, (*loc, field, index), "user", "account.estate.users")
    if "secret" in check:
        yield from _known(
            check["secret"], secrets, (*loc, "secret"), "secret", "account.estate.secrets"
        )
    if check.get("before_step") is not None:
        yield from _known(check["before_step"], steps, (*loc, "before_step"), "step", "steps")
    if (
        kind
        in ("workload-healthy", "workload-outage", "production-key-deleted-without-replacement")
        and not has_workload
    ):
        yield (*loc, "type"), f"check '{kind}' needs a workload — add a 'workload' section"


def _step_order_cycles(steps: list[Any]) -> Iterator[Found]:
    """Steps whose `after` lists lead back to themselves can never be credited."""
    after = {
        s["id"]: [o for o in as_list(s.get("after")) if isinstance(o, str)]
        for s in map(as_dict, steps)
        if isinstance(s.get("id"), str)
    }
    for index, step in enumerate(map(as_dict, steps)):
        start = step.get("id")
        if not isinstance(start, str):
            continue
        # a step naming itself is reported where it does so, not once more as a cycle
        seen, queue = set(), [o for o in after.get(start, []) if o != start]
        while queue:
            current = queue.pop()
            if current == start:
                yield (
                    ("steps", index, "after"),
                    f"step '{start}' comes after itself through 'after' — break the cycle",
                )
                break
            if current not in seen:
                seen.add(current)
                queue.extend(after.get(current, []))


def _after_cycles(timeline: list[Any]) -> Iterator[Found]:
    after = {
        i["id"]: as_dict(i.get("after")).get("inject")
        for i in map(as_dict, timeline)
        if isinstance(i.get("id"), str)
    }
    for index, inject in enumerate(map(as_dict, timeline)):
        start = inject.get("id")
        seen = {start}
        current = after.get(start) if isinstance(start, str) else None
        if current == start:
            continue  # an inject after itself is reported where it says so
        while isinstance(current, str) and current in after:
            if current == start:
                yield (
                    ("timeline", index, "after"),
                    (
                        f"inject '{start}' waits on itself through a cycle of 'after' — "
                        "break the cycle"
                    ),
                )
                break
            if current in seen:
                break
            seen.add(current)
            current = after.get(current)
