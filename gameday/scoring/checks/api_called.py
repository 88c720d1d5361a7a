"""api-called: the responder made an API call — before another step, or in every region."""

from __future__ import annotations

from gameday.scenario.model import REGIONS, ApiCalled
from gameday.scoring.checks.registry import STEPS_TOPIC, CheckType, Verdict, register
from gameday.scoring.state import Moment, State


def _action(params: ApiCalled) -> str:
    service, action = params.action.split(":", 1)
    return f"{service.lower()}:{action}"


def topics(params: ApiCalled) -> frozenset[str]:
    found = {f"called:{_action(params)}"}
    if params.before_step:
        found.add(STEPS_TOPIC)
    return frozenset(found)


def evaluate(params: ApiCalled, state: State, owner: str) -> Verdict:
    calls = state.responder_calls.get(_action(params))
    if calls is None:
        return Verdict(False, f"the responder has not called {params.action}")
    when: Moment = calls.first
    if params.all_regions:
        missing = [region for region in REGIONS if region not in calls.regions]
        if missing:
            shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
            return Verdict(
                False, f"{params.action} not called in {len(missing)} region(s): {shown}"
            )
        when = max(calls.regions[region] for region in REGIONS)
    done = f"{params.action} called{' in every region' if params.all_regions else ''}"
    if params.before_step:
        since = state.step_since.get(params.before_step)
        if since is not None and since < when:
            return Verdict(False, f"{done}, but only after step {params.before_step}")
        return Verdict(True, f"{done} before step {params.before_step}")
    return Verdict(True, done)


CHECK = register(
    CheckType(
        name="api-called",
        title="The responder called an API",
        description=(
            "Holds once the responder has called `action` (`service:Action`, as in "
            "`cloudtrail:LookupEvents`) successfully. With `before_step`, the call must come "
            "before that step's check last became true (while the step is not satisfied, any "
            "call counts; calls at the same instant are ordered as journaled). With "
            "`all_regions`, the action must have been called in each of the scenario format's "
            "regions (`gameday schema` lists them) — a stable list, so a score does not change "
            "when a newer botocore knows more regions; a sweep over the mock's DescribeRegions "
            "covers it."
        ),
        params=ApiCalled,
        reads=("called:<action>", STEPS_TOPIC),
        evaluate=evaluate,
        parameters={
            "before_step": "the id of a step this call must come before",
        },
        topics=topics,
    )
)
