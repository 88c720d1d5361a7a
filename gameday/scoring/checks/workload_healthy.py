"""workload-healthy: the production workload's last probe succeeded."""

from __future__ import annotations

from gameday.scenario.model import WorkloadHealthy
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: WorkloadHealthy, state: State, owner: str) -> Verdict:
    if state.workload.last_ok is None:
        return Verdict(False, "the workload has not been probed yet")
    if state.workload.last_ok:
        return Verdict(True, "the workload's last probe succeeded")
    return Verdict(False, "the workload's last probe failed")


CHECK = register(
    CheckType(
        name="workload-healthy",
        title="The workload is healthy",
        description="Holds while the workload's last probe (`workload.probe`) succeeded.",
        params=WorkloadHealthy,
        reads=("kind:workload.probe",),
        evaluate=evaluate,
    )
)
