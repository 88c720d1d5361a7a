"""The bounds of the scenario format: how big, deep, long and numerous things may be.

A scenario is data from anywhere (a colleague's pull request, a downloaded pack), and one
run must stay a laptop-sized job. Every bound is checked by `gameday validate`, so a file
that passes never exhausts the machine or fails half-way through a run. The numbers leave
ample room: the largest scenario of the library is 13 KB with ~1,000 values, lasts 2 hours
and seeds 10 instances. docs/scenario-format.md ("Limits") lists them for authors.
"""

from __future__ import annotations

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
# Virtual time plays every period of the run (probes, polls) even when nobody acts, so
# the length of a run is what its cost grows with.
MAX_RUN = 2 * DAY  # duration, inject and technique times, targets, deadlines
MAX_AGE = 20 * YEAR  # how long before the leak keys and users were made, history span
MIN_PROBE_EVERY = 10.0  # the workload probe
MIN_RELAUNCH_EVERY = 60.0  # the miner relaunching its terminated instances

# ── the world ─────────────────────────────────────────────────────────────────────────────
MAX_COMMITS = 20_000  # leak.history.before + after (+ the leak and a removal)
MAX_INSTANCES = 1_000  # instances seeded in the estate, all groups together
MAX_OBJECTS = 2_000  # objects seeded across every bucket

# The most items a list (or mapping) of the scenario may hold, by its field name.
MAX_ITEMS: dict[str, int] = {
    "tags": 50,  # AWS allows 50 tags on a resource
    "regions": 29,  # every region once
    "users": 500,
    "groups": 100,
    "roles": 200,
    "policies": 200,
    "inline_policies": 50,
    "keys": 2,
    "secrets": 200,
    "buckets": 100,  # the S3 bucket quota of an account
    "objects": 1_000,
    "instances": 100,
    "trails": 25,
    "authors": 100,
    "timeline": 60,
    "to": 20,
    "techniques": 60,
    "buckets_read": 100,
    "source_ips": 100,
    "user_agents": 50,
    "steps": 100,
    "penalties": 50,
    "debrief": 50,
    "users_checked": 500,
    "kinds": 7,
    "when": 9,
    "unless": 9,
    "services": 20,
    "accounts": 20,
}
DEFAULT_MAX_ITEMS = 1_000  # a list without its own bound (inside a policy document, say)

# ── templates ─────────────────────────────────────────────────────────────────────────────
TEMPLATE_BYTES = 256 * 1024  # a template file (the project's largest is 9 KB)
RENDER_STEPS = 400_000  # Python lines a render may run (a normal inject runs ~5,000)
RENDER_SECONDS = 2.0  # wall-clock backstop for one render
RENDER_OUTPUT = 1_000_000  # characters a render (or any text it builds) may reach
RENDER_ITEMS = 100_000  # items of a list a template builds (Jinja's own range bound)
RENDER_MEMORY = 256 * 1024 * 1024  # bytes a render may add to the process
RENDER_NUMBER_BITS = 4_096  # integers a template computes (about 1,200 digits)
