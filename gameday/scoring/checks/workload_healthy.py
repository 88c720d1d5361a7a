"""workload-healthy: the production workload's last probe succeeded."""

from __future__ import annotations

from gameday.scenario.model import WorkloadHealthy
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State


def evaluate(params: WorkloadHealthy, state: State, owner: str) -> Verdict:
    if state.workload.last_ok is None:
        return Verdict(False, "the workload has not been probed yet")
    if state.workload.last_ok:
        # Back up (or up at all) thanks to whoever last put its key in its secret, if anyone.
        spec = state.scenario.workload
        secret = state.secrets.get(spec.secret) if spec is not None else None
        by = secret.key_set_by if secret is not None else None
        return Verdict(True, "the workload's last probe succeeded", by)
    return Verdict(False, "the workload's last probe failed")


CHECK = register(
    CheckType(
        name="workload-healthy",
        title="The workload is healthy",
        description=(
            "Holds while the workload's last probe (`workload.probe`) succeeded. A workload "
            "that never went down is nobody's doing: a step that wants it kept up is a `keep` "
            "step (see docs/scenario-format.md)."
        ),
        params=WorkloadHealthy,
        reads=("kind:workload.probe",),
        evaluate=evaluate,
    )
)
