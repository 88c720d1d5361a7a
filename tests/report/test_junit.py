"""junit.xml, read back the way CI reads it: with junitparser, and against the structure of
the JUnit XML schema (testsuites > testsuite > properties, testcase*, system-out, system-err)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gameday.report import write_reports
from gameday.report.content import build_run_report
from gameday.report.junit import RunJunit
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

from .runs import JournalBuilder


@pytest.fixture()
def junitparser() -> Any:
    """junitparser (PyPI), the reader CI dashboards use; the structural tests below need none."""
    return pytest.importorskip("junitparser")


@pytest.fixture()
def junit_path(
    tmp_path: Path, scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> Path:
    write_reports(tmp_path, scenario, *careless)
    return tmp_path / "junit.xml"


def test_junitparser_reads_one_case_per_step_and_penalty(
    junit_path: Path, scenario: Scenario, junitparser: Any
) -> None:
    xml = junitparser.JUnitXml.fromfile(str(junit_path))
    (suite,) = list(xml)
    cases = list(suite)
    assert suite.name == scenario.id
    # every step, every penalty (the scenario's and collateral damage), the pass mark
    assert len(cases) == len(scenario.steps) + len(scenario.penalties) + 1 + 1
    assert suite.tests == len(cases)
    assert suite.failures == 5 + 1 + 3 + 1  # steps failed, step pending, penalties, pass mark
    assert suite.errors == 0 and suite.skipped == 0
    assert suite.time == 7200.0
    assert {case.classname for case in cases} == {scenario.id}
    by_name = {case.name: case for case in cases}
    for expected in scenario.steps:
        assert f"{expected.id}: {expected.title}" in by_name


def test_failed_and_pending_steps_carry_the_reason(junit_path: Path, junitparser: Any) -> None:
    suite = next(iter(junitparser.JUnitXml.fromfile(str(junit_path))))
    by_id = {case.name.split(":", 1)[0]: case for case in suite}
    (failure,) = by_id["remove-attacker-leftovers"].result
    assert isinstance(failure, junitparser.Failure)
    assert failure.message == "2 instances still running in ap-southeast-3"
    assert failure.type == "failed"
    (manual,) = by_id["root-password"].result
    assert manual.message == "waiting for the facilitator"
    # A step met late passes, and says so.
    late = by_id["disable-leaked-key"]
    assert late.is_passed
    assert "met 13m 10s after detection" in late.system_out
    assert "17.9 of 20 points" in late.system_out
    assert by_id["delete-leaked-key"].is_passed
    assert by_id["delete-leaked-key"].time == 1090.0


def test_penalties_fail_when_incurred_and_the_pass_mark_fails_with_the_run(
    junit_path: Path,
    junitparser: Any,
) -> None:
    suite = next(iter(junitparser.JUnitXml.fromfile(str(junit_path))))
    by_name = {case.name: case for case in suite}
    evidence = by_name[
        "penalty evidence-destroyed: The leaky repository was deleted — the evidence went with it"
    ]
    (failure,) = evidence.result
    assert failure.message == "incurred at T+33:20: -10 points"
    reused = "penalty leaked-key-reused: A responder used the leaked key themselves"
    assert by_name[reused].is_passed
    pass_mark = next(case for case in suite if case.name.startswith("pass-mark"))
    (failure,) = pass_mark.result
    assert "Score 12.9 is below the pass mark of 70." in failure.message
    collateral = next(case for case in suite if case.name.startswith("penalty collateral-damage"))
    (failure,) = collateral.result
    assert failure.message == "incurred at T+31:40: -5 points"


def test_properties_carry_the_score(junit_path: Path, junitparser: Any) -> None:
    suite = next(iter(junitparser.JUnitXml.fromfile(str(junit_path))))
    properties = {p.name: p.value for p in suite.properties()}
    assert properties["score"] == "12.9"
    assert properties["pass_mark"] == "70"
    assert properties["passed"] == "false"
    assert properties["team"] == "blue"
    assert properties["outage_s"] == "600"
    assert properties["time_to_contain_s"] == "790"
    assert "time_to_eradicate_s" not in properties  # never reached: no value to give
    assert properties["marker"] == "SIMULATION — game day exercise"


def test_a_passing_run_has_a_passing_pass_mark_case(
    scenario: Scenario, careful: tuple[list[dict[str, Any]], Score]
) -> None:
    root = ElementTree.fromstring(RunJunit().render(build_run_report(scenario, *careful)))
    case = next(c for c in root.iter("testcase") if c.get("name", "").startswith("pass-mark"))
    assert case.find("failure") is None
    assert root.get("failures") == "1"  # only rotate-workload-key


def test_the_document_follows_the_junit_schema_structure(junit_path: Path) -> None:
    root = ElementTree.parse(junit_path).getroot()
    assert root.tag == "testsuites"
    (suite,) = list(root)
    assert suite.tag == "testsuite"
    for attribute in ("name", "tests", "failures", "errors", "time", "timestamp", "hostname"):
        assert suite.get(attribute), attribute
    assert suite.get("timestamp") == "2026-03-02T12:33:12"  # xs:dateTime without a zone
    assert root.get("tests") == suite.get("tests")
    assert root.get("failures") == suite.get("failures")
    tags = [child.tag for child in suite]
    assert tags[0] == "properties"
    assert tags[-2:] == ["system-out", "system-err"]
    assert set(tags[1:-2]) == {"testcase"}
    assert int(suite.get("tests", "")) == tags.count("testcase")
    assert int(suite.get("failures", "")) == sum(
        1 for case in suite.iter("testcase") if case.find("failure") is not None
    )
    for case in suite.iter("testcase"):
        assert set(case.attrib) == {"classname", "name", "time"}
        float(case.get("time", ""))
        for failure in case.iter("failure"):
            assert failure.get("message") and failure.get("type")


def test_control_characters_from_the_journal_do_not_break_the_xml(
    scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> None:
    events, score = careless
    steps = [replace(s, reason="bad\x1b[31m byte\x00") for s in score.steps]
    j = JournalBuilder()
    j.events = list(events)
    text = RunJunit().render(build_run_report(scenario, j.events, replace(score, steps=steps)))
    root = ElementTree.fromstring(text)
    assert "bad\ufffd[31m byte\ufffd" in {f.get("message") for f in root.iter("failure")}


def test_a_step_still_open_fails_as_pending(
    scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> None:
    """A run still going (re-scored mid-run) has steps whose deadline has not passed."""
    events, score = careless
    steps = [
        replace(s, status="pending", reason="") if s.id in ("root-password", "reply-to-case") else s
        for s in score.steps
    ]
    root = ElementTree.fromstring(
        RunJunit().render(build_run_report(scenario, events, replace(score, steps=steps)))
    )
    failures = {
        c.get("name", "").split(":", 1)[0]: c.find("failure") for c in root.iter("testcase")
    }
    manual, open_step = failures["root-password"], failures["reply-to-case"]
    assert manual is not None and open_step is not None
    assert (manual.get("type"), manual.get("message")) == (
        "pending",
        "not marked done by the facilitator before the run ended",
    )
    assert (open_step.get("type"), open_step.get("message")) == (
        "pending",
        "still open when the run ended",
    )
