"""Scoring a long journal: selective re-evaluation against re-evaluating every check.

The journal is the well-drilled team's incident (tests/scoring/stories.py) buried in the
traffic of a two-hour run: the billing workload reading its secret and its bucket, the
attacker's discovery sweep across regions and its refused calls once the key is off, the
responders' CloudTrail paging and IAM reads — 10,000 `api.call` events in all, plus probes,
notices and marks. The baseline is the same evaluator told to evaluate every check after
every event, which is what a scorer without topics would do.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from bench.common import Figure, interleaved
from gameday.journal import Event
from gameday.scenario.model import REGIONS
from gameday.scoring.score import Evaluator
from tests.scoring.journals import JournalBuilder, northwind
from tests.scoring.stories import well_drilled

CALLS = 10_000
KEY_DISABLED_AT = 480.0  # the well-drilled team deactivates the leaked key at 8 m
ATTACKER_READS = (
    "iam:ListUsers",
    "iam:ListRoles",
    "iam:ListAttachedUserPolicies",
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "s3:ListBuckets",
    "secretsmanager:ListSecrets",
    "lambda:ListFunctions",
    "sts:GetCallerIdentity",
)
RESPONDER_READS = (
    "cloudtrail:LookupEvents",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:ListUsers",
    "iam:ListAttachedUserPolicies",
    "ec2:DescribeInstances",
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
)


def noisy_incident(calls: int = CALLS, seed: int = 11) -> list[Event]:
    """The well-drilled story, topped up with read traffic to `calls` API calls."""
    story: JournalBuilder = well_drilled()
    rng = random.Random(seed)
    have = story.count("api.call")
    for _ in range(max(0, calls - have)):
        story.at(round(rng.uniform(0.0, 7199.0), 3))
        roll = rng.random()
        if roll < 0.45:
            action = rng.choice(("secretsmanager:GetSecretValue", "s3:GetObject"))
            story.call("workload", action)
        elif roll < 0.70:
            region = rng.choice(REGIONS)
            action = rng.choice(ATTACKER_READS)
            if story.now < KEY_DISABLED_AT:
                story.call("attacker", action, region=region, key=story.leaked)
            else:
                story.attacker_refused(action, region=region)
        else:
            story.call("responder", rng.choice(RESPONDER_READS), region=rng.choice(REGIONS))
    return story.events()


def fold(events: Iterable[Event], *, selective: bool) -> Evaluator:
    evaluator = Evaluator(northwind(), selective=selective)
    for event in events:
        evaluator.observe(event)
    evaluator.score()
    return evaluator


def figures() -> Iterable[Figure]:
    long = noisy_incident(CALLS)
    short = noisy_incident(CALLS // 10)
    selective, naive = fold(long, selective=True), fold(long, selective=False)
    if selective.score() != naive.score():
        raise AssertionError("selective and naive evaluation disagree on the score")

    ours, theirs = interleaved(
        lambda: fold(long, selective=True), lambda: fold(long, selective=False), rounds=5
    )
    yield Figure(
        f"score a {CALLS:,}-call journal ({len(long):,} events)",
        ours * 1000,
        "ms",
        theirs * 1000,
        "every check after every event",
    )
    yield Figure(
        f"check evaluations, {CALLS:,}-call journal",
        selective.evaluations,
        "evals",
        naive.evaluations,
        "every check after every event",
    )
    per_long, per_short = interleaved(
        lambda: fold(long, selective=True), lambda: fold(short, selective=True), rounds=5
    )
    yield Figure(
        f"µs per event, {CALLS:,}-call journal",
        per_long / len(long) * 1e6,
        "µs",
        per_short / len(short) * 1e6,
        f"µs per event, {CALLS // 10:,}-call journal",
    )
