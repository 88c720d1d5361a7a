"""The debrief guide: the five to eight moments of a run worth talking through, each with a
question for the room.

Read from the report's content (it never feeds back into it): first notice → first action,
containment, the outage if there was one, an act of the team and what it stopped, what was
left behind, what AWS asked for that was not done, the harm done on the way, and the score.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday.report.evidence import api_calls, read_call, succeeded
from gameday.report.formatting import clock, minutes, points
from gameday.report.proof import describe_event

if TYPE_CHECKING:
    from gameday.report.content import RunReport

# What AWS's notice asks the customer to do (FACTS.md §1.5), by the checks that see it done.
AWS_ASKS = {
    "keys-rotated": "rotate every access key created before the breach",
    "case-replied": "reply to the support case",
    "case-resolved": "reply to the support case",
    "attacker-leftovers-removed": "delete what the attacker created",
}
MOST = 8


@dataclass(frozen=True)
class Moment:
    """One moment worth discussing: when (None: the run as a whole), what, and a question."""

    title: str
    t: float | None
    what: str
    question: str

    @property
    def when(self) -> str:
        return clock(self.t) if self.t is not None else "Overall"


def debrief_moments(report: RunReport) -> tuple[Moment, ...]:
    found = [
        m
        for m in (
            _first_action(report),
            _containment(report),
            _outage(report),
            _cause_and_effect(report),
            _left_behind(report),
            _aws_asked(report),
            _harm(report),
        )
        if m is not None
    ][: MOST - 1]
    found.sort(key=lambda m: m.t if m.t is not None else float("inf"))
    return (*found, _score(report))


def _team_acts(report: RunReport) -> Iterator[tuple[float, str]]:
    for event in report.events:
        kind = event.get("kind")
        acted = kind in ("api.call", "note", "repo.private", "repo.deleted")
        if acted and event.get("actor") == "responder":
            yield float(event["t"]), describe_event(event)


def _first_action(report: RunReport) -> Moment:
    first = next(_team_acts(report), None)
    detected = report.detected_s
    notice = next(
        (
            str(e.get("subject") or e.get("inject"))
            for e in report.events
            if e.get("kind") == "inject.delivered" and detected is not None
            and float(e["t"]) == detected
        ),
        "AWS's first notice",
    )  # fmt: skip
    if first is None:
        return Moment(
            "First notice, and no action",
            detected,
            f"AWS's first notice came at {clock(detected)}; the journal shows no act of the team.",
            "What would have had to happen for someone to pick this up?",
        )
    t, act = first
    if detected is not None and t < detected:
        return Moment(
            "Acting before AWS's notice",
            t,
            f"The team first acted at {clock(t)}, {minutes(detected - t)} before AWS's first "
            f"notice at {clock(detected)} ({notice}): {act}.",
            "What tipped you off before AWS did, and could it page someone next time?",
        )
    start = detected if detected is not None else 0.0
    return Moment(
        "First notice → first action",
        start,
        f"AWS's first notice came at {clock(start)} ({notice}); the team's first act was at "
        f"{clock(t)}, {minutes(t - start)} later: {act}.",
        "Who saw the notice first, and what happened in the minutes before anyone acted?",
    )


def _containment(report: RunReport) -> Moment:
    contained = report.score.metrics.time_to_contain_s
    leaked = report.info.leaked_access_key_id
    if contained is None:
        return Moment(
            "Containment",
            report.end_s,
            f"The leaked key {leaked} still worked when the run ended.",
            "What stood in the way of deactivating the key: rights, a second principal, fear "
            "of breaking something?",
        )
    t = (report.detected_s or 0.0) + contained
    act = next(
        (
            describe_event(e)
            for e in api_calls(report.events, "responder")
            if succeeded(e)
            and abs(float(e["t"]) - t) < 1e-6
            and read_call(e).params.get("AccessKeyId") == leaked
        ),
        "the key stopped working",
    )
    return Moment(
        "Containment",
        t,
        f"The leaked key stopped working at {clock(t)}, {minutes(contained)} after the first "
        f"notice: {act}.",
        "What decided the order — contain first or look first — and who had the rights to do it?",
    )


def _outage(report: RunReport) -> Moment | None:
    if not report.outages:
        return None
    first = report.outages[0]
    name = report.scenario.workload.name if report.scenario.workload else "the workload"
    cause = report.outage_cause
    because = f" It followed {cause.text} at {clock(cause.t)}." if cause is not None else ""
    return Moment(
        "The outage",
        first.start_s,
        f"{name} was down {clock(first.start_s)}–{clock(first.end_s)} "
        f"({minutes(first.length_s)}); {minutes(report.outage_s)} in all.{because}",
        "What would the safe order have been — new key, secret, wait, then the old key off — "
        "and who knew what ran on that key?",
    )


def _cause_and_effect(report: RunReport) -> Moment | None:
    caused = [
        c for c in report.changes.consequences if c.cause is not None and c.cause.by == "team"
    ]
    refused = [c for c in caused if c.t > (c.cause.t if c.cause else c.t)]
    if not (refused or caused):
        return None
    pick = (refused or caused)[0]
    if pick.cause is None:
        return None
    if pick.t > pick.cause.t:
        what = (
            f"The team {pick.cause.what} at {clock(pick.cause.t)} ({pick.cause.action}); that is "
            f"why the attacker's {pick.technique} failed at {clock(pick.t)}: {pick.effect}."
        )
    else:
        what = f"The team {pick.cause.what} at {clock(pick.t)}: {pick.effect}."
    return Moment(
        "What an action stopped",
        pick.cause.t,
        what,
        "Was that a plan or luck? How did you find it, and how long could it have gone on?",
    )


def _left_behind(report: RunReport) -> Moment:
    left = report.leftovers
    if not left:
        removed = [r.removed_at_s for r in report.footprint if r.removed_at_s is not None]
        last = max(removed) if removed else None
        what = (
            f"Nothing the attacker created was left; the last of it went at {clock(last)}."
            if last is not None
            else "The attacker created nothing that lasted."
        )
        return Moment(
            "What was left behind",
            last,
            what,
            "How did you know you had found everything — and would you know it a week later?",
        )
    names = ", ".join(r.describe() for r in left[:4]) + (
        f" and {len(left) - 4} more" if len(left) > 4 else ""
    )
    cost = report.changes
    money = (
        f" Estimated cost so far ${cost.usd_so_far:,.0f}, about ${cost.usd_per_day:,.0f} a day "
        "while it runs (on-demand list prices)."
        if cost.priced
        else ""
    )
    return Moment(
        "What was left behind",
        report.end_s,
        (
            f"{len(left)} things the attacker created were still there at the end"
            if len(left) > 1
            else "One thing the attacker created was still there at the end"
        )
        + f": {names}.{money}",
        "Where would you have had to look to find them, and who would have noticed the bill?",
    )


def _aws_asked(report: RunReport) -> Moment:
    missed: list[str] = []
    for step in report.steps:
        asked = AWS_ASKS.get(step.check_type)
        if step.check_type == "api-called" and step.check is not None:
            if getattr(step.check, "all_regions", False):
                asked = "check every region for unwanted instances"
            elif getattr(step.check, "action", "") == "cloudtrail:LookupEvents":
                asked = "check CloudTrail for what the key did"
        if step.check_type == "manual" and "root" in step.id:
            asked = "change the root password"
        if asked and not step.met and asked not in missed:
            missed.append(asked)
    if not missed:
        return Moment(
            "What AWS asked for",
            None,
            "Everything AWS's notice asked for that the scenario checks was done.",
            "Which of these would you have forgotten without AWS's list?",
        )
    return Moment(
        "What AWS asked for that was not done",
        None,
        "AWS's notice asked the team to " + "; ".join(missed) + " — not done by the end.",
        "Who owns the conversation with AWS, and what would you have told them?",
    )


def _harm(report: RunReport) -> Moment | None:
    harmful = [p for p in report.incurred_penalties if not p.per_minute and p.at_t is not None]
    if not harmful:
        return None
    harmful.sort(key=lambda p: p.at_t or 0.0)
    listed = "; ".join(
        f"at {clock(p.at_t)}, {p.title[0].lower()}{p.title[1:].rstrip('.')} (−{points(p.points)})"
        for p in harmful[:3]
    )
    return Moment(
        "Harm done on the way",
        harmful[0].at_t,
        f"Penalised: {listed}" + (f"; and {len(harmful) - 3} more." if len(harmful) > 3 else "."),
        "What pressure led to it, and what would the safer move have been?",
    )


def _score(report: RunReport) -> Moment:
    lost = sorted(
        (s for s in report.steps if not s.met and s.result.points),
        key=lambda s: -s.result.points,
    )[:3]
    costly = "; ".join(f"{s.result.title} ({s.result.points})" for s in lost)
    return Moment(
        "The score",
        None,
        f"{points(report.score.score)} / 100, {report.verdict.lower()} (pass mark "
        f"{report.score.pass_mark})."
        + (f" The steps that cost the most: {costly}." if costly else ""),
        "Which one change would have made the biggest difference next time?",
    )
