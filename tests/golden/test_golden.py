"""Golden runs: replayed teams on the seed scenario score exactly as reasoned, field by field.

Each team is a replay (`tests/golden/<team>.yaml`) run end to end by the command line in a
subprocess — the moto backends are process-global, one run per process — in virtual time
with seed 0. Its `score.json` must equal `tests/golden/<team>.score.json` in every field of
the score contract (DESIGN.md, "Score"): scenario, team, score, pass/fail, each step's
status, time, target, deadline and points, each penalty's points and time, and the
metrics. The golden files were written from the scenario's rules (their `why` lists the
arithmetic) before being checked against a run. Re-scoring the run's journal afterwards
(`gameday score RUN_DIR --json`) must give the live score, evidence and reasons included.

Each team runs once per session however xdist spreads the tests (tests/golden/runs.py); the
report tests (test_golden_report.py) read the same runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import UserError
from gameday.exercise.responders import ReplayResponder, TemplateError, fill_templates

from .runs import GOLDEN, GoldenRuns, gameday

TEAMS = ("well-drilled", "key-only", "careless", "hasty")

# The fields of the score contract the golden files pin down; `reason`, `title` and the
# evidence are prose and detail, checked only by the re-scoring comparison.
SCORE_FIELDS = (
    "scenario", "team", "score", "passed", "pass_mark", "detected_at_s", "ended_at_s",
)  # fmt: skip
STEP_FIELDS = (
    "id", "phase", "status", "satisfied_at_s", "target_s", "deadline_s", "points", "awarded",
    "critical", "manual",
)  # fmt: skip
PENALTY_FIELDS = ("id", "points", "at_s")
METRIC_FIELDS = (
    "time_to_acknowledge_s", "time_to_contain_s", "time_to_eradicate_s", "time_to_recover_s",
    "outage_s",
)  # fmt: skip


def expected_score(team: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{team}.score.json").read_text())
    return data


def _pick(record: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: record.get(name, "<missing>") for name in fields}


def golden_view(score: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a score the golden files pin down, in the golden files' shape."""
    return {
        **_pick(score, SCORE_FIELDS),
        "steps": [_pick(step, STEP_FIELDS) for step in score["steps"]],
        "penalties": [_pick(penalty, PENALTY_FIELDS) for penalty in score["penalties"]],
        "metrics": _pick(score["metrics"], METRIC_FIELDS),
    }


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Every field that differs, named like `steps[disable-leaked-key].awarded`."""
    found: list[str] = []

    def compare(where: str, want: Any, got: Any) -> None:
        if want != got or type(want) is not type(got):
            found.append(f"{where}: expected {want!r}, got {got!r}")

    for name in SCORE_FIELDS:
        compare(name, expected[name], actual[name])
    for part in ("steps", "penalties"):
        want_ids = [item["id"] for item in expected[part]]
        got_ids = [item["id"] for item in actual[part]]
        if want_ids != got_ids:
            found.append(f"{part}: expected {want_ids}, got {got_ids}")
            continue
        for want, got in zip(expected[part], actual[part], strict=True):
            for name in want:
                compare(f"{part}[{want['id']}].{name}", want[name], got[name])
    for name in METRIC_FIELDS:
        compare(f"metrics.{name}", expected["metrics"][name], actual["metrics"][name])
    return found


# ── the golden files themselves ──────────────────────────────────────────────────────────


@pytest.mark.parametrize("team", TEAMS)
def test_golden_files_pin_every_field_of_the_score(team: str) -> None:
    expected = expected_score(team)
    assert set(expected) == {*SCORE_FIELDS, "steps", "penalties", "metrics", "why"}
    assert all(set(step) == set(STEP_FIELDS) for step in expected["steps"])
    assert all(set(penalty) == set(PENALTY_FIELDS) for penalty in expected["penalties"])
    assert set(expected["metrics"]) == set(METRIC_FIELDS)
    assert expected["why"], "say how the expected numbers were reached"


def test_field_by_field_comparison_names_what_differs() -> None:
    expected = expected_score("key-only")
    actual = json.loads(json.dumps(expected))
    actual["steps"][2]["awarded"] = 14.0
    actual["penalties"][4]["at_s"] = 353.0
    actual["metrics"]["outage_s"] = 0
    actual["passed"] = True
    assert differences(expected, actual) == [
        "passed: expected False, got True",
        "steps[disable-leaked-key].awarded: expected 14.44, got 14.0",
        "penalties[billing-outage].at_s: expected None, got 353.0",
        "metrics.outage_s: expected 0.0, got 0",
    ]


# ── what the replays rely on: `save:` and `${…}` ────────────────────────────────────────


def test_templates_take_values_from_saved_responses_and_notices() -> None:
    facts = {
        "found": {"Reservations": [{"Instances": [{"InstanceId": "i-1"}, {"InstanceId": "i-2"}]}]},
        "notice": {"access_key_id": "the-leaked-key-id", "count": 3},
    }
    params = {
        "InstanceIds": "${found.Reservations[].Instances[].InstanceId}",
        "Body": "key ${ notice.access_key_id } x${notice.count}",
        "Nested": [{"Value": "${notice.count}"}],
        "Plain": 5,
    }
    assert fill_templates(params, facts) == {
        "InstanceIds": ["i-1", "i-2"],
        "Body": "key the-leaked-key-id x3",
        "Nested": [{"Value": 3}],
        "Plain": 5,
    }
    for text, message in [
        ("${found.Nothing}", "found nothing"),
        ("ids: ${found.Reservations}", "is a list, not text"),
        ("${lost.Users}", "nothing saved as 'lost'"),
    ]:
        with pytest.raises(TemplateError, match=message):
            fill_templates(text, facts)
    with pytest.raises(TemplateError, match="no notice from AWS has arrived yet"):
        fill_templates("${notice.access_key_id}", {})


def test_template_mistakes_are_located_before_the_run(tmp_path: Path) -> None:
    path = tmp_path / "replay.yaml"
    path.write_text(
        "- {at: 1m, aws: {service: iam, action: ListUsers, save: notice}}\n"
        "- {at: 2m, aws: {service: iam, action: DeleteUser, params: {UserName: '${users.x}'}}}\n"
        "- {at: 3m, aws: {service: iam, action: ListUsers, save: users}}\n"
        "- {at: 4m, aws: {service: iam, action: DeleteUser, params: {UserName: '${usrs.x}'}}}\n"
        "- {at: 5m, aws: {service: iam, action: DeleteUser, params: {UserName: '${users.x'}}}\n"
    )
    with pytest.raises(UserError) as raised:
        ReplayResponder(path)
    assert str(raised.value).splitlines() == [
        f"{path}:1:17: aws: save: 'notice' is reserved for AWS's notices",
        f"{path}:2:60: ${{users.x}}: no earlier action saves 'users' — expected one of: notice",
        f"{path}:4:60: ${{usrs.x}}: no earlier action saves 'usrs' — did you mean 'users'?",
        f"{path}:5:60: '${{users.x': a ${{ is not closed",
    ]


@pytest.mark.parametrize("team", TEAMS)
def test_golden_replays_load(team: str) -> None:
    steps = ReplayResponder(GOLDEN / f"{team}.yaml").steps
    assert steps and [step.at for step in steps] == sorted(step.at for step in steps)


# ── the runs ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("team", TEAMS)
def test_replayed_team_scores_as_reasoned(golden_runs: GoldenRuns, team: str) -> None:
    run = golden_runs.get(team)
    expected = expected_score(team)
    live = run.score()

    # The replay did everything it meant to: no action skipped, no call refused.
    journal = run.journal()
    errors = [event["message"] for event in journal if event["kind"] == "responder.error"]
    assert errors == [], f"{team}: the replay failed to act:\n" + "\n".join(errors)
    refused = [
        f"t={event['t']} {event['service']}:{event['action']} {event.get('error_code')}"
        for event in journal
        if event["kind"] == "api.call"
        and event.get("actor") == "responder"
        and int(event.get("status") or 200) >= 400
    ]
    assert refused == [], f"{team}: the mock refused the replay's calls: {refused}"
    [finished] = [event for event in journal if event["kind"] == "responder.finished"]
    assert finished["outcome"] == "returned"

    # The score, field by field.
    mismatches = differences(expected, golden_view(live))
    assert mismatches == [], f"{team}: score differs from the golden file:\n" + "\n".join(
        mismatches
    )
    assert run.exit_code == (0 if expected["passed"] else 1), run.output

    # Re-scoring the journal gives the live score, prose and evidence included.
    rescored = gameday("score", run.run_dir, "--json")
    assert rescored.returncode == run.exit_code, rescored.stderr
    assert json.loads(rescored.stdout) == live
