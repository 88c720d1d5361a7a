"""Recommendations: concrete advice drawn from what a run missed, plus standing advice.

Each recommendation is one registered record: an id, a title, the advice itself, and a
trigger that reads a `RunReport` and returns the evidence — one sentence saying what in this
run calls for the advice — or None when the run gives no cause. Standing recommendations
(pre-commit scanning, alerting on the Health event, short-lived credentials) have no trigger
and are given to every run, after the ones the run earned.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday.report import evidence
from gameday.report.formatting import clock, span
from gameday.report.registry import Registry
from gameday.scoring.score import HELD_BY_ORDER

if TYPE_CHECKING:
    from gameday.report.content import Advice, RunReport, StepRow

Trigger = Callable[["RunReport"], "str | None"]


@dataclass(frozen=True)
class Recommendation:
    id: str
    title: str
    body: str
    trigger: Trigger | None = None  # None: standing advice, given to every run

    @property
    def standing(self) -> bool:
        return self.trigger is None


RECOMMENDATIONS: Registry[Recommendation] = Registry("recommendation", lambda r: r.id)


def recommendation(id: str, title: str, body: str) -> Callable[[Trigger], Trigger]:
    """Register the decorated trigger as the recommendation `id`."""

    def register(trigger: Trigger) -> Trigger:
        RECOMMENDATIONS.register(Recommendation(id, title, " ".join(body.split()), trigger))
        return trigger

    return register


def standing(id: str, title: str, body: str) -> None:
    RECOMMENDATIONS.register(Recommendation(id, title, " ".join(body.split())))


def catalogue() -> str:
    """The registry as a Markdown table, for docs/reports.md (a test keeps the two equal)."""
    lines = ["| id | advice | given when |", "|---|---|---|"]
    for rec in RECOMMENDATIONS:
        when = "every run" if rec.trigger is None else inspect.getdoc(rec.trigger) or ""
        when = " ".join(when.removeprefix("When: ").split())
        lines.append(f"| `{rec.id}` | {rec.title} | {when} |")
    return "\n".join(lines) + "\n"


def advise(report: RunReport) -> list[Advice]:
    """The recommendations for one run: those its evidence calls for, then standing advice."""
    from gameday.report.content import Advice

    earned: list[Advice] = []
    always: list[Advice] = []
    for rec in RECOMMENDATIONS:
        if rec.trigger is None:
            always.append(Advice(rec.id, rec.title, rec.body, "", standing=True))
            continue
        found = rec.trigger(report)
        if found:
            earned.append(Advice(rec.id, rec.title, rec.body, found, standing=False))
    return earned + always


# ── helpers the triggers share ────────────────────────────────────────────────────────────


def _missed(steps: tuple[StepRow, ...]) -> Iterator[StepRow]:
    """Steps that did not earn full points."""
    return (s for s in steps if s.status != "success")


def _step_outcome(step: StepRow) -> str:
    title = f"“{step.result.title}”"
    if step.status == "partial" and step.taken_s is not None:
        late = step.taken_s - step.result.target_s
        return (
            f"{title} was done {span(step.taken_s)} after detection, {span(late)} past its target"
        )
    if step.status == "pending":
        return f"{title} was still open when the run ended"
    reason = step.result.reason
    if any(marker in reason for marker in HELD_BY_ORDER):
        # done, but out of the order the scenario asks for: say that, not "too late"
        return f"{title} did not count: {reason.split(' — but ', 1)[1]}"
    return f"{title} was not done by its deadline ({span(step.result.deadline_s)} after detection)"


def _missed_outcome(report: RunReport, *check_types: str) -> str | None:
    """The outcome of the first step of these check types that did not earn full points."""
    step = next(_missed(report.steps_checking(*check_types)), None)
    return f"{_step_outcome(step)}." if step is not None else None


def _incurred(report: RunReport, *check_types: str) -> str | None:
    """The title of the first incurred penalty of these check types."""
    penalty = next(iter(report.penalties_checking(*check_types)), None)
    return f"{penalty.title}." if penalty is not None else None


def _leaked_key_removed_s(report: RunReport, actions: tuple[str, ...]) -> float | None:
    """When someone other than the attacker first disabled or deleted the leaked key."""
    key = report.info.leaked_access_key_id
    if not key:
        return None
    for call in evidence.api_calls(report.events):
        if call.get("actor") == "attacker" or not evidence.succeeded(call):
            continue
        params = evidence.read_call(call).params
        if call.get("action") not in actions or params.get("AccessKeyId") != key:
            continue
        if call["action"] == "UpdateAccessKey" and params.get("Status") != "Inactive":
            continue
        return float(call["t"])
    return None


def _first_call_s(report: RunReport, actor: str, action: str) -> float | None:
    for call in evidence.api_calls(report.events, actor):
        if evidence.action_name(call) == action and evidence.succeeded(call):
            return float(call["t"])
    return None


def _listing(items: list[str], limit: int = 4) -> str:
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return f"{shown} and {more} more" if more > 0 else shown


# ── advice the run earns ──────────────────────────────────────────────────────────────────


@recommendation(
    "investigate-before-destroy",
    "Investigate before you destroy",
    """Look the leaked key up in CloudTrail (LookupEvents filtered on its access key ID) before
    deleting it: once the key is gone, the question "what did it do?" gets harder to answer
    and the list of what to clean up is guesswork. Deactivate first — it stops the attacker
    just as well and can be undone — then read the key's history, then delete.""",
)
def _investigate(report: RunReport) -> str | None:
    """When: The leaked key was deleted with no CloudTrail lookup before it, or an
    `api-called` step for `cloudtrail:LookupEvents` was missed or late."""
    deleted = _leaked_key_removed_s(report, ("DeleteAccessKey",))
    if deleted is not None:
        looked = _first_call_s(report, "responder", "cloudtrail:LookupEvents")
        if looked is None or looked > deleted:
            return (
                f"The leaked key was deleted at {clock(deleted)} with no CloudTrail lookup "
                "before it."
            )
    for step in _missed(report.steps_checking("api-called")):
        if step.check is not None and getattr(step.check, "action", "") == (
            "cloudtrail:LookupEvents"
        ):
            return f"{_step_outcome(step)}."
    return None


@recommendation(
    "break-glass-admin",
    "Agree in advance who holds break-glass admin",
    """The quarantine policy stops the leaked key from disabling or deleting itself, so
    containment always needs a second principal with IAM rights. Decide before the incident
    who holds it (a named on-call role, not one person's laptop), how they reach it out of
    hours, and practise the one command that matters: `aws iam update-access-key --status
    Inactive`.""",
)
def _break_glass(report: RunReport) -> str | None:
    """When: The step disabling the leaked key (`access-key-disabled`, state inactive or
    any) was missed or late."""
    for step in _missed(report.steps_checking("access-key-disabled")):
        check = step.check
        if check is not None and getattr(check, "key", None) in ("leaked", None):
            if getattr(check, "state", "any") == "deleted":
                continue
            return f"{_step_outcome(step)}."
    return None


@recommendation(
    "sweep-every-region",
    "Sweep every region, and deny the ones you do not use",
    """Attackers launch in the regions nobody looks at. Sweep all of them (loop `aws ec2
    describe-instances` over `aws ec2 describe-regions`, and likewise for Lambda), and keep
    unused regions closed with a service control policy that denies everything outside the
    regions the company runs in (an `aws:RequestedRegion` condition).""",
)
def _sweep(report: RunReport) -> str | None:
    """When: The attacker left instances or functions running (named when in regions the
    company does not use), or an `all_regions` `api-called` step was missed."""
    regional = [r for r in report.leftovers if r.region]
    if report.unused_regions:
        count = sum(1 for r in regional if r.region in report.unused_regions)
        return (
            f"{count} resource(s) the attacker launched were still running at the end in "
            f"{', '.join(report.unused_regions)} — region(s) the company does not use."
        )
    if regional:
        places = sorted({r.region or "" for r in regional})
        return f"Attacker resources were still running at the end in {', '.join(places)}."
    for step in _missed(report.steps_checking("api-called")):
        if step.check is not None and getattr(step.check, "all_regions", False):
            return f"{_step_outcome(step)}."
    return None


@recommendation(
    "hunt-persistence",
    "Hunt for persistence, not only the leaked key",
    """A leaked key is rarely used alone: attackers create users, extra access keys, login
    profiles and roles trusted by accounts they control, so that they stay in after the key
    is revoked. Search CloudTrail for CreateUser, CreateAccessKey, CreateLoginProfile,
    CreateRole and AttachUserPolicy made with the leaked key, and remove every one.""",
)
def _persistence(report: RunReport) -> str | None:
    """When: The attacker left IAM users, keys, login profiles, roles or policies behind,
    or the `attacker-leftovers-removed` step was missed."""
    global_leftovers = [r.describe() for r in report.leftovers if not r.region]
    if global_leftovers:
        return f"Still there at the end: {_listing(global_leftovers)}."
    return _missed_outcome(report, "attacker-leftovers-removed")


@recommendation(
    "reply-to-aws",
    "Reply to the AWS support case",
    """AWS expects an answer on the case it opened: say what was rotated, deleted and checked.
    Without one it follows up, and an account left unanswered for about five days may be
    suspended, with suspect resources terminated. Make the reply a named task in the
    runbook, not an afterthought.""",
)
def _reply(report: RunReport) -> str | None:
    """When: The `case-replied` or `case-resolved` step was missed or late."""
    return _missed_outcome(report, "case-replied", "case-resolved")


@recommendation(
    "rotate-without-outage",
    "Rotate production keys without an outage",
    """Rotate in this order: create a new key, store it in the secret the service reads,
    wait until the service is seen using it (the old key's last-used time stops moving),
    then deactivate the old key, and delete it only after a quiet period. Deleting or
    disabling the only key first turns a security incident into an outage.""",
)
def _rotate(report: RunReport) -> str | None:
    """When: The workload had an outage, a production key was deleted without a
    replacement, or a `secret-rotated` step was missed."""
    outage = report.outage_s
    if outage > 0:
        name = report.scenario.workload.name if report.scenario.workload else "The workload"
        first = report.outages[0].start_s if report.outages else None
        since = f", first failing at {clock(first)}" if first is not None else ""
        return f"{name} was down for {span(outage)}{since}."
    return _incurred(report, "production-key-deleted-without-replacement") or _missed_outcome(
        report, "secret-rotated"
    )


@recommendation(
    "keep-the-evidence",
    "Keep the evidence: make the repository private, do not delete it",
    """Deleting the leaky repository destroys the record of what leaked and when, which the
    investigation, AWS and possibly legal will ask for — and forks or caches keep the key
    anyway. Make it private, then purge the key from its history once the key is revoked.""",
)
def _evidence(report: RunReport) -> str | None:
    """When: The repository was deleted (journal `repo.deleted`, or a `repository-deleted`
    penalty)."""
    for row in report.activity:
        if row.kind == "repo.deleted":
            who = f" by {row.actor}" if row.actor else ""
            return f"The repository was deleted{who} at {clock(row.t)}."
    return _incurred(report, "repository-deleted")


@recommendation(
    "take-it-out-of-public-view",
    "Take the repository out of public view at once",
    """Every minute the commit stays public, more scanners copy the key. Making the repository
    private is one click and loses nothing; do it in the first minutes, in parallel with
    disabling the key.""",
)
def _private(report: RunReport) -> str | None:
    """When: The `repository-private` step was missed or late (and the repository was not
    deleted)."""
    if any(row.kind == "repo.deleted" for row in report.activity):
        return None  # keep-the-evidence says what matters then
    return _missed_outcome(report, "repository-private")


@recommendation(
    "never-use-the-leaked-key",
    "Never use the leaked key yourself",
    """Responders who run commands with the leaked key muddy the CloudTrail record (their calls
    look like the attacker's) and trip the quarantine. Work from your own, separate
    credentials.""",
)
def _reused(report: RunReport) -> str | None:
    """When: The `leaked-key-used-by-responder` penalty was incurred."""
    return _incurred(report, "leaked-key-used-by-responder")


@recommendation(
    "keep-the-quarantine",
    "Leave AWS's quarantine policy in place until the key is dead",
    """The quarantine policy is what limits the attacker while you work. Detach it only after
    the leaked key is deactivated or deleted — never to "get things working again".""",
)
def _quarantine(report: RunReport) -> str | None:
    """When: The quarantine policy was detached early (a `policy-attached` penalty, or a
    missed `quarantine-kept-until-key-disabled` step)."""
    return _incurred(report, "policy-attached") or _missed_outcome(
        report, "quarantine-kept-until-key-disabled"
    )


@recommendation(
    "rotate-every-old-key",
    "Rotate every key created before the breach",
    """AWS's advice covers every access key that existed before the breach, not only the one
    that leaked: the attacker may have read others (from Secrets Manager, SSM or an
    environment) before being stopped. List keys across all users and rotate the old ones.""",
)
def _old_keys(report: RunReport) -> str | None:
    """When: The `keys-rotated` step was missed or late."""
    return _missed_outcome(report, "keys-rotated")


@recommendation(
    "restore-logging",
    "Turn audit logging back on and alarm when it stops",
    """Attackers stop CloudTrail to hide what follows. Restart the trail, alarm on
    StopLogging and DeleteTrail, and treat the gap as time you have no record of.""",
)
def _logging(report: RunReport) -> str | None:
    """When: A `logging-enabled` step was missed, or the attacker stopped CloudTrail and
    no responder started it again."""
    missed = _missed_outcome(report, "logging-enabled")
    if missed:
        return missed
    stopped = _first_call_s(report, "attacker", "cloudtrail:StopLogging")
    if stopped is not None:
        restarted = [
            float(c["t"])
            for c in evidence.api_calls(report.events, "responder")
            if evidence.action_name(c) == "cloudtrail:StartLogging" and evidence.succeeded(c)
        ]
        if not any(t > stopped for t in restarted):
            return f"The attacker stopped CloudTrail logging at {clock(stopped)}; it stayed off."
    return None


@recommendation(
    "contain-do-not-demolish",
    "Contain the incident, do not demolish the account",
    """Deleting users, roles, console passwords, instances, buckets or secrets the attacker
    never touched — or disabling a colleague's key without giving them a new one — is an
    outage you cause yourself and evidence you destroy. Remove what CloudTrail shows the
    attacker created, rotate keys (new key first, then the old one off), and leave the rest.""",
)
def _collateral(report: RunReport) -> str | None:
    """When: The collateral-damage penalty was incurred: something that existed before the
    push was deleted or disabled without cause."""
    if not report.collateral:
        return None
    items = [f"{item.detail} at {clock(item.t)}" for item in report.collateral]
    return f"Damaged without cause: {_listing(items)}."


# ── standing advice ───────────────────────────────────────────────────────────────────────

standing(
    "scan-before-commit",
    "Stop keys at the commit",
    """Install a secret scanner as a pre-commit hook on every developer machine — git-secrets
    (`git secrets --install` and `--register-aws`) or gitleaks — and run the same scan in CI
    and over the existing history, so a key never reaches a public remote.""",
)

standing(
    "alert-on-the-health-event",
    "Alert on AWS's exposed-credentials Health event",
    """AWS raises an AWS Health event with the code AWS_RISK_CREDENTIALS_EXPOSED when it finds
    one of your keys in public. Route it with an EventBridge rule (source `aws.health`,
    detail-type `AWS Health Event`) to the on-call pager, or to automation that deactivates
    the key and summarises its CloudTrail history, so nobody depends on reading email.""",
)

standing(
    "prefer-short-lived-credentials",
    "Prefer short-lived credentials",
    """Long-lived access keys are what leaks. Give people IAM Identity Center sign-in and give
    CI and workloads roles (OIDC federation, instance and task roles): temporary credentials
    expire by themselves and leave nothing worth committing.""",
)
