"""workload-outage: the production workload is down."""

from __future__ import annotations

from gameday.scenario.model import WorkloadHealthy
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.moments import run_time
from gameday.scoring.state import State


def evaluate(params: WorkloadHealthy, state: State, owner: str) -> Verdict:
    if state.workload.last_ok is False:
        since = state.workload.failing_since
        return Verdict(True, f"the workload's probes have failed since {run_time(since or 0)}")
    return Verdict(False, "the workload is up")


CHECK = register(
    CheckType(
        name="workload-outage",
        title="The workload is down",
        description=(
            "Holds from a failed probe of the workload until the next successful one — the "
            "outage a careless rotation causes. Meant for a `per_minute` penalty: each whole "
            "minute it holds costs the penalty's points, up to `max_points`."
        ),
        params=WorkloadHealthy,
        reads=("kind:workload.probe",),
        evaluate=evaluate,
    )
)
