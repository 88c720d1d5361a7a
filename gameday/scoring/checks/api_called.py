"""api-called: the team made an API call that did its job — before another step, in the right
regions, over the right evidence."""

from __future__ import annotations

from gameday.scenario.model import REGIONS, ApiCalled
from gameday.scoring.checks.registry import STEPS_TOPIC, CheckType, Verdict, register
from gameday.scoring.state import TEAM, Calls, Moment, State

# What changes where the attacker has launched something, for the region filters.
_LAUNCH_TOPICS = ("api:ec2", "api:lambda", "kind:attacker.technique")


def _action(params: ApiCalled) -> str:
    service, action = params.action.split(":", 1)
    return f"{service.lower()}:{action}"


def topics(params: ApiCalled) -> frozenset[str]:
    # the steps too: a step's `after` makes only calls since those steps count (`evaluate`)
    found = {f"called:{_action(params)}", STEPS_TOPIC}
    if params.all_regions or params.attacker_regions:
        found.update(_LAUNCH_TOPICS)
    return frozenset(found)


def _shown(regions: list[str]) -> str:
    return ", ".join(regions[:5]) + (" …" if len(regions) > 5 else "")


def _regions(params: ApiCalled, calls: Calls, state: State) -> tuple[Moment | None, str]:
    """When the call had been made where it had to be, or None and what is still missing."""
    when = calls.first
    if params.all_regions:
        missing = [region for region in REGIONS if region not in calls.regions]
        if missing:
            return None, f"not called in {len(missing)} region(s): {_shown(missing)}"
        when = max(calls.regions[region] for region in REGIONS)
    # Where the attacker launched something, only a look after its last launch sees it all.
    stale = sorted(
        region
        for region, launched in state.attacker_launched.items()
        if calls.last.get(region, (-1.0, 0)) < launched
    )
    if stale:
        return None, (
            f"not called since the attacker's last launch in {len(stale)} region(s): "
            f"{_shown(stale)}"
        )
    for region in state.attacker_launched:
        when = max(when, calls.last[region])
    return when, ""


def _since_prior_steps(state: State, owner: str) -> tuple[Moment | None, str]:
    """When every step the owning step comes `after` was done, and the last of them; None
    while one is not (the scorer then says which)."""
    step = next((s for s in state.scenario.steps if s.id == owner), None)
    if step is None or not step.after:
        return None, ""
    done = [(state.step_since.get(other), other) for other in step.after]
    if any(moment is None for moment, _ in done):
        return None, ""
    moment, other = max((m, o) for m, o in done if m is not None)
    return moment, other


def _counted_since(calls: Calls, floor: Moment) -> Calls | None:
    """The calls made at or after `floor`, as a `Calls` of their own; None if none was.

    A step that comes `after` others is met by a call made once they were done: a team that
    looked before the clean-up and looks again after it earns it with the second look.
    """
    last = {region: moment for region, moment in calls.last.items() if moment >= floor}
    if not last:
        return None
    covering = calls.covering_last if calls.covering_last and calls.covering_last >= floor else None
    # what is known of the calls since: the last in each region, each at least the floor
    return Calls(min(last.values()), dict(last), dict(last), covering, covering)


def evaluate(params: ApiCalled, state: State, owner: str) -> Verdict:
    calls = state.responder_calls.get(_action(params))
    if calls is None:
        return Verdict(False, f"the team has not called {params.action}")
    floor, prior = _since_prior_steps(state, owner)
    if floor is not None:
        later = _counted_since(calls, floor)
        if later is None:
            return Verdict(
                False,
                f"{params.action} called, but not since step {prior} was done — it counts "
                "only after",
            )
        calls = later
    when: Moment = calls.first
    done = f"{params.action} called"
    if params.covers is not None:
        if calls.covering is None:
            return Verdict(
                False,
                f"{params.action} called, but no lookup named the leaked key or its user over "
                "a window holding the attacker's activity in the region asked",
            )
        when = calls.covering
        done = f"{params.action} covered the leaked key's activity"
    if params.all_regions or params.attacker_regions:
        swept, missing = _regions(params, calls, state)
        if swept is None:
            return Verdict(False, f"{params.action} {missing}")
        when = max(when, swept)
        done += " in every region" if params.all_regions else " where the attacker launched"
    if params.before_step:
        since = state.step_since.get(params.before_step)
        if since is not None and since < when:
            return Verdict(False, f"{done}, but only after step {params.before_step}")
        return Verdict(True, f"{done} before step {params.before_step}", TEAM)
    return Verdict(True, done, TEAM)


CHECK = register(
    CheckType(
        name="api-called",
        title="The team made an API call that did its job",
        description=(
            "Holds once the team has called `action` (`service:Action`, as in "
            "`cloudtrail:LookupEvents`) successfully, signed with a key the team holds (a call "
            "with the leaked key or the workload's key is nobody's credit). In a step with "
            "`after`, only calls made once those steps were satisfied count: a team that looked "
            "before the clean-up and looks again after it earns the step with the second look. "
            "The filters make the call mean what the step's title says:\n\n"
            "- `covers: leaked-key` (for `cloudtrail:LookupEvents`): the lookup names the "
            "leaked key (LookupAttributes `AccessKeyId` = the leaked key's id, or `Username` = "
            "its user) over a window (`StartTime`/`EndTime` as sent; absent, AWS's default: "
            "the last 90 days up to the call) that holds every event the attacker's use of the "
            "key had left in the event history of the region asked, by the time of the call. "
            "The event history is regional: IAM's events are in us-east-1, the others where "
            "they happened; calls refused for bad credentials and S3 object reads are not in "
            "it. A lookup in a region where the key left nothing does not count — unless it "
            "left nothing anywhere (every attempt refused at the door), when a lookup in "
            "us-east-1 or a region the company uses over the whole time since the push does.\n"
            "- `attacker_regions`: in every region where the attacker launched an instance, a "
            "Spot request or a Lambda function, the team called the action after the "
            "attacker's last launch there (a look before a relaunch does not see it).\n"
            "- `all_regions`: the action was called in each of the scenario format's regions "
            "(`gameday schema` lists them) — a stable list, so a score does not change when a "
            "newer botocore knows more regions; a sweep over the mock's DescribeRegions covers "
            "it — and, as with `attacker_regions`, after the attacker's last launch wherever it "
            "launched.\n"
            "- `before_step`: the qualifying call came before that step's check last became "
            "true (while the step is not satisfied, any call counts; calls at the same instant "
            "are ordered as journaled).\n\n"
            "The step is satisfied when the last condition is met."
        ),
        params=ApiCalled,
        reads=("called:<action>", STEPS_TOPIC, *_LAUNCH_TOPICS),
        evaluate=evaluate,
        parameters={
            "before_step": "the id of a step this call must come before",
        },
        topics=topics,
    )
)
