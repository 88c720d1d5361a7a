"""Titles are promises: `gameday validate` warns when a step's title names a condition
("without an outage", "before destroying it", "within 15 minutes") its checks do not test,
and the library keeps every promise it makes."""

from __future__ import annotations

from pathlib import Path

from gameday_cli import gameday

from gameday.paths import SCENARIOS
from gameday.scenario import load_scenario
from gameday.scenario.model import Scenario
from gameday.scenario.promises import unkept_promises

SEED = SCENARIOS / "exported-keys-in-script.yaml"


def _with_step_changes(**fields: object) -> Scenario:
    """The seed scenario with its workload rotation step changed."""
    data = load_scenario(SEED).model_dump(mode="python", exclude_none=True)
    rotation = next(s for s in data["steps"] if s["id"] == "rotate-workload-key")
    rotation.pop("throughout")
    rotation.update(fields)
    return Scenario.model_validate(data)


def test_an_outage_promise_needs_a_check_that_the_service_stays_up() -> None:
    [(loc, message)] = list(unkept_promises(_with_step_changes()))
    assert loc[0] == "steps" and loc[2] == "title"
    assert "step 'rotate-workload-key' promises 'without an outage'" in message
    assert "throughout: {type: workload-healthy}" in message


def test_a_time_promise_needs_a_target_inside_it() -> None:
    late = _with_step_changes(
        title="Rotate the billing key within 15 minutes",
        throughout={"type": "workload-healthy"},
        target=30 * 60,
    )
    [(_, message)] = list(unkept_promises(late))
    assert "promises 'within 15 minutes'" in message
    on_time = _with_step_changes(
        title="Rotate the billing key within 15 minutes", target=15 * 60, deadline=40 * 60
    )
    assert list(unkept_promises(on_time)) == []


def test_an_ordering_promise_needs_a_before_step() -> None:
    scenario = load_scenario(SEED)
    data = scenario.model_dump(mode="python", exclude_none=True)
    investigate = next(s for s in data["steps"] if s["id"] == "investigate-before-deleting")
    investigate["check"].pop("before_step")
    [(_, message)] = list(unkept_promises(Scenario.model_validate(data)))
    assert "promises 'before destroying'" in message and "before_step" in message


def test_the_library_keeps_its_promises() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert list(unkept_promises(load_scenario(path))) == [], path.name


def test_validate_locates_the_broken_promise(tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    marker = "    throughout: {type: workload-healthy}"
    assert marker in text
    path = tmp_path / "no-promise.yaml"
    path.write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith(marker)) + "\n"
    )
    line = next(
        number
        for number, row in enumerate(path.read_text().splitlines(), start=1)
        if "without an outage" in row and "title:" in row
    )
    done = gameday("validate", str(path))
    assert done.returncode == 0, done.stderr
    assert (
        f"{path}:{line}:12: warning: step 'rotate-workload-key' promises 'without an outage'"
        in done.stdout + done.stderr
    )
    strict = gameday("validate", "--strict", str(path))
    assert strict.returncode == 2


def test_an_ordering_promise_on_a_check_without_before_step_gets_advice_it_can_take() -> None:
    # the rotation's check takes no before_step: the service staying up is what orders it
    title = "Rotate the billing key through its secret before disabling the old one"
    [(_, message)] = list(unkept_promises(_with_step_changes(title=title)))
    assert "promises 'before disabling'" in message
    assert "before_step" not in message
    assert "throughout: {type: workload-healthy}" in message
    kept = _with_step_changes(title=title, throughout={"type": "workload-healthy"})
    assert list(unkept_promises(kept)) == []
