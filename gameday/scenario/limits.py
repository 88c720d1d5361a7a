"""The bounds of the scenario format: how big, deep, long and numerous things may be.

A scenario is data from anywhere (a colleague's pull request, a downloaded pack), and one
run must stay a laptop-sized job. Every bound is checked by `gameday validate`, so a file
that passes never exhausts the machine or fails half-way through a run. The numbers leave
ample room: the largest scenario of the library is 13 KB with ~1,000 values, lasts 2 hours
and seeds 10 instances. docs/scenario-format.md ("Limits") lists them for authors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from gameday.scenario.durations import parse_duration

DAY = 86400.0
YEAR = 365 * DAY

# ── the file ──────────────────────────────────────────────────────────────────────────────
MAX_FILE_BYTES = 512 * 1024
MAX_VALUES = 20_000  # values of the document once YAML aliases are expanded
MAX_DEPTH = 32  # mappings and lists inside each other
MAX_NUMBER_DIGITS = 20  # an integer written in the file (an unquoted account ID has 12)
MAX_TEXT = 65_536  # characters of any one text (the size of a Secrets Manager secret)
MAX_LINE = 256  # characters of one-line text: titles, subjects, names, callers
MAX_PROBLEMS = 200  # problems reported for one file; the rest are counted

# ── time ──────────────────────────────────────────────────────────────────────────────────
# Virtual time plays every period of the run (the workload's probes, the code host's polls,
# the miner's relaunches) even when nobody acts, so a run's cost grows with how often things
# repeat, which MAX_REPEATS bounds, more than with its length. A run lasts up to a week:
# AWS may suspend an account whose case is not answered within five days, and a leak is
# often noticed days after the attacker first used the key.
WEEK = 7 * DAY
MAX_RUN = WEEK  # duration, inject and technique times, targets, deadlines
MAX_AGE = 20 * YEAR  # how long before the leak keys and users were made, history span
MIN_PROBE_EVERY = 10.0  # the workload probe
MIN_RELAUNCH_EVERY = 60.0  # the miner relaunching its terminated instances
MAX_REPEATS = 2_000  # probes; and relaunch rounds times their regions, all miners together

# ── the world ─────────────────────────────────────────────────────────────────────────────
MAX_COMMITS = 20_000  # leak.history.before + after (+ the leak and a removal)
MAX_INSTANCES = 1_000  # instances seeded in the estate, all groups together
MAX_OBJECTS = 2_000  # objects seeded across every bucket

# The most items a list (or mapping) of the scenario may hold, by its field name.
MAX_ITEMS: dict[str, int] = {
    "tags": 50,  # AWS allows 50 tags on a resource
    "regions": 29,  # every region once
    "users": 100,
    "groups": 50,
    "roles": 100,
    "policies": 100,
    "inline_policies": 50,
    "secrets": 100,
    "buckets": 100,  # the S3 bucket quota of an account
    "objects": 1_000,
    "instances": 100,
    "trails": 25,
    "authors": 100,
    "timeline": 60,
    "to": 20,
    "techniques": 60,
    "source_ips": 100,
    "user_agents": 50,
    "steps": 100,
    "penalties": 50,
    "debrief": 50,
    "when": 9,
    "unless": 9,
    "services": 20,
    "accounts": 20,
    "scanners": 20,
}
MAX_GROUPS_PER_USER = 10  # IAM's quota
MAX_ATTACHED_POLICIES = 20  # managed policies on a user, group or role (IAM's quota)

# ── templates ─────────────────────────────────────────────────────────────────────────────
TEMPLATE_BYTES = 256 * 1024  # a template file (the project's largest is 9 KB)
RENDER_STEPS = 400_000  # Python lines a render may run (a normal inject runs ~5,000)
RENDER_SECONDS = 2.0  # wall-clock backstop for one render
RENDER_OUTPUT = 1_000_000  # characters a render (or any text it builds) may reach
RENDER_ITEMS = 100_000  # items of a list a template builds (Jinja's own range bound)
RENDER_MEMORY = 256 * 1024 * 1024  # bytes a render may add to the process
RENDER_NUMBER_BITS = 4_096  # integers a template computes (about 1,200 digits)


# ── bounds that span several fields ───────────────────────────────────────────────────────


def check_limits(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    """The bounds no single field can check: totals across lists, and times that must agree.

    Reads the raw data defensively (like `gameday.scenario.references`), so it reports its
    problems even where the model found others.
    """
    account = as_dict(data.get("account"))
    estate = as_dict(account.get("estate"))
    base: Loc = ("account", "estate")

    groups = as_list(estate.get("instances"))
    counts = [g.get("count", 1) for g in map(as_dict, groups)]
    if all(type(c) is int for c in counts) and sum(counts) > MAX_INSTANCES:
        yield (
            (*base, "instances"),
            f"the estate runs {sum(counts):,} instances, over the {MAX_INSTANCES:,} a mock "
            "account is seeded with — lower the counts",
        )
    buckets = as_list(estate.get("buckets"))
    objects = sum(len(as_list(as_dict(b).get("objects"))) for b in buckets)
    if objects > MAX_OBJECTS:
        yield (
            (*base, "buckets"),
            f"the buckets hold {objects:,} objects, over the {MAX_OBJECTS:,} allowed — "
            "keep the ones the story needs",
        )
    for index, secret in enumerate(map(as_dict, as_list(estate.get("secrets")))):
        value = secret.get("value")
        size = len(value) if isinstance(value, str) else len(json.dumps(value, default=str))
        if value is not None and size > SECRET_BYTES:
            yield (
                (*base, "secrets", index, "value"),
                f"a secret holds at most {SECRET_BYTES:,} characters (Secrets Manager's "
                f"limit), this one {size:,} — shorten it",
            )

    regions = as_list(account.get("regions"))
    for index, region in enumerate(regions):
        if isinstance(region, str) and region in regions[:index]:
            yield ("account", "regions", index), f"region '{region}' is listed twice — remove one"

    for u_index, user in enumerate(map(as_dict, as_list(estate.get("users")))):
        user_age = seconds_or_none(user.get("age"))
        for k_index, key in enumerate(map(as_dict, as_list(user.get("keys")))):
            loc: Loc = (*base, "users", u_index, "keys", k_index)
            age, used = seconds_or_none(key.get("age")), seconds_or_none(key.get("last_used"))
            if age is not None and used is not None and used > age:
                yield (
                    (*loc, "last_used"),
                    "the key was last used before it was created — make last_used shorter than "
                    "its age",
                )
            if age is not None and user_age is not None and age > user_age:
                yield (
                    (*loc, "age"),
                    "the key is older than its user — make the user's age longer or the key's "
                    "shorter",
                )

    yield from _repeats(data)

    leak = as_dict(data.get("leak"))
    history = as_dict(leak.get("history"))
    before, after = history.get("before", 40), history.get("after", 0)
    removal = as_dict(leak.get("removed")).get("after_commits", 1) if leak.get("removed") else 0
    numbers = (before, after, removal)
    # one number over the bound is reported on its own field
    if all(type(n) is int and 0 <= n <= MAX_COMMITS for n in numbers):
        commits = before + max(after, removal)
        if commits > MAX_COMMITS:
            yield (
                ("leak", "history"),
                f"the history holds {commits:,} commits besides the leak, over the "
                f"{MAX_COMMITS:,} allowed — lower before or after",
            )


def _repeats(data: dict[str, Any]) -> Iterator[tuple[Loc, str]]:
    duration = seconds_or_none(data.get("duration"))
    if duration is None or duration > MAX_RUN:  # a run too long is reported on its own
        return
    workload = data.get("workload")
    every = seconds_or_none(workload.get("probe_every", 60)) if isinstance(workload, dict) else None
    if every and duration / every > MAX_REPEATS:
        yield (
            ("workload", "probe_every"),
            f"the workload would be probed {duration / every:,.0f} times, over the "
            f"{MAX_REPEATS:,} a run may play — probe less often or shorten the run",
        )
    # The miners' rounds count together: each round costs the same whichever miner plays it.
    techniques = as_list(as_dict(data.get("attacker")).get("techniques"))
    miners: list[tuple[int, float]] = []  # (index, rounds times regions)
    for index, technique in enumerate(map(as_dict, techniques)):
        every = seconds_or_none(technique.get("relaunch_every", 600))
        regions = len(as_list(technique.get("regions")))
        if technique.get("technique") != "aws.impact.ec2-mining" or not every or not regions:
            continue
        miners.append((index, duration / every * regions))
    total = sum(rounds for _, rounds in miners)
    if total <= MAX_REPEATS:
        return
    index, most = max(miners, key=lambda miner: miner[1])
    where: Loc = ("attacker", "techniques", index, "relaunch_every")
    if most > MAX_REPEATS:
        yield (
            where,
            f"the miner would look for its instances {most:,.0f} times (every relaunch_every, "
            f"in each of its regions), over the {MAX_REPEATS:,} a run may play — relaunch less "
            "often, in fewer regions, or shorten the run",
        )
    else:
        yield (
            where,
            f"the {len(miners)} miners would look for their instances {total:,.0f} times "
            f"together (every relaunch_every, in each of their regions; this one "
            f"{most:,.0f}), over the {MAX_REPEATS:,} a run may play — relaunch less often, in "
            "fewer regions, with fewer miners, or shorten the run",
        )


Loc = tuple[str | int, ...]
SECRET_BYTES = 65_536


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def seconds_or_none(value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _size(value: float) -> str:
    if value >= 1024 * 1024:
        return f"{value / (1024 * 1024):g} MB"
    return f"{value / 1024:g} KB"


def catalogue() -> str:
    """The Markdown table of the bounds, as docs/scenario-format.md ("Limits") embeds it."""
    from gameday.scenario.durations import format_duration

    rows = [
        ("the file", f"{_size(MAX_FILE_BYTES)}, UTF-8"),
        ("values, once YAML aliases are expanded", f"{MAX_VALUES:,}"),
        ("mappings and lists inside each other", f"{MAX_DEPTH}"),
        ("digits of a number", f"{MAX_NUMBER_DIGITS}"),
        ("characters of one text", f"{MAX_TEXT:,}"),
        ("characters of a one-line text (titles, subjects, names, callers)", f"{MAX_LINE}"),
        ("`duration`", f"1m to {format_duration(MAX_RUN)} (a week)"),
        (
            "times in the run: `at`, `delay`, `first_use`, `consistency_window`, "
            "`target`, `deadline`",
            f"0s to {format_duration(MAX_RUN)}",
        ),
        (
            "ages: `users[].age`, `keys[].age`, `last_used`, `history.span`",
            f"0s to {MAX_AGE / DAY:g}d (20 years)",
        ),
        ("`workload.probe_every`", f"at least {format_duration(MIN_PROBE_EVERY)}"),
        ("`relaunch_every`", f"at least {format_duration(MIN_RELAUNCH_EVERY)}"),
        (
            "repeats in one run: `duration / probe_every`, and `duration / relaunch_every` "
            "times the miner's regions, all miners together",
            f"{MAX_REPEATS:,} each",
        ),
        ("commits: `history.before` + `history.after`", f"{MAX_COMMITS:,}"),
        ("instances seeded (all `instances[].count` together)", f"{MAX_INSTANCES:,}"),
        ("objects seeded (all buckets together)", f"{MAX_OBJECTS:,}"),
        ("a secret's `value`", f"{SECRET_BYTES:,} characters"),
        ("a template file", _size(TEMPLATE_BYTES)),
        ("a user's `groups`", f"{MAX_GROUPS_PER_USER}"),
        ("`policies` attached to a user, group or role", f"{MAX_ATTACHED_POLICIES}"),
    ]
    rows += [(f"items of `{name}`", f"{most:,}") for name, most in sorted(MAX_ITEMS.items())]
    lines = ["| what | bound |", "|---|---|"]
    lines += [f"| {what} | {bound} |" for what, bound in rows]
    return "\n".join(lines) + "\n"
