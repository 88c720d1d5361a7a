"""logging-enabled: CloudTrail is logging (one trail, or every trail)."""

from __future__ import annotations

from gameday.scenario.model import LoggingEnabled
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: LoggingEnabled, state: State, owner: str) -> Verdict:
    if params.trail is not None:
        if params.trail in state.trails_deleted and params.trail not in state.trails:
            return Verdict(False, f"trail {params.trail} was deleted")
        if state.trails.get(params.trail, True):
            return Verdict(
                True, f"trail {params.trail} is logging", state.trail_by.get(params.trail)
            )
        return Verdict(False, f"trail {params.trail} has stopped logging")
    stopped = sorted(name for name, logging in state.trails.items() if not logging)
    if stopped:
        return Verdict(False, f"not logging: {', '.join(stopped)}")
    if state.trails_deleted and not state.trails:
        return Verdict(False, f"trail(s) deleted: {', '.join(sorted(state.trails_deleted))}")
    switched = sorted({state.trail_by[name] for name in state.trails if name in state.trail_by})
    by = next((who for who in switched if who != "team"), switched[0] if switched else None)
    return Verdict(True, "every trail is logging", by)


CHECK = register(
    CheckType(
        name="logging-enabled",
        title="CloudTrail is logging",
        description=(
            "Holds while the named `trail` logs (or, without `trail`, while every trail logs and "
            "at least one remains if any was deleted). Trails start as the estate declares them; "
            "StopLogging and StartLogging switch them, DeleteTrail removes one, and a trail made "
            "with CreateTrail logs only after StartLogging. The step is the team's when the "
            "team started the trail again; a trail that never stopped is nobody's doing."
        ),
        params=LoggingEnabled,
        reads=("api:cloudtrail",),
        evaluate=evaluate,
        parameters={
            "trail": "the name of a trail of the estate; default: every trail",
        },
    )
)
