"""The JUnit XML report, so CI shows a runbook's game day like a test suite.

One `<testsuite>` named after the scenario; one `<testcase>` per expected step (classname
the scenario id, name the step id and title), failing when the step was not met; one per
penalty the scenario defines, failing when it was incurred (and one per penalty the score
applied beyond those); and a last case for the pass mark, so the suite fails exactly when
the run does. The score and timings are the suite's `<properties>`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from gameday.report.content import PenaltyRow, RunReport, StepRow
from gameday.report.formatting import clock, points, span

# Characters XML 1.0 cannot carry at all; journal text could contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class RunJunit:
    name = "junit"
    filename = "junit.xml"

    def render(self, report: RunReport) -> str:
        suite = _suite(report)
        suites = ElementTree.Element(
            "testsuites",
            _attributes(
                name="gameday",
                tests=suite.get("tests"),
                failures=suite.get("failures"),
                errors="0",
                skipped="0",
                time=suite.get("time"),
            ),
        )
        suites.append(suite)
        ElementTree.indent(suites)
        body = ElementTree.tostring(suites, encoding="unicode")
        return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def _suite(report: RunReport) -> ElementTree.Element:
    score = report.score
    cases = [_step_case(report, step) for step in report.steps]
    cases += [_penalty_case(report, penalty) for penalty in report.penalties]
    cases.append(_pass_mark_case(report))
    failures = sum(1 for case in cases if case.find("failure") is not None)
    attributes = _attributes(
        name=report.scenario.id,
        tests=len(cases),
        failures=failures,
        errors=0,
        skipped=0,
        time=_seconds(report.end_s),
        timestamp=report.info.t0.strftime("%Y-%m-%dT%H:%M:%S") if report.info.t0 else None,
        hostname="gameday",
        id=0,
        package=f"gameday.{report.scenario.id}",
    )
    suite = ElementTree.Element("testsuite", attributes)
    properties = ElementTree.SubElement(suite, "properties")
    metrics = score.metrics
    for name, value in (
        ("marker", report.marker),
        ("scenario", score.scenario),
        ("team", score.team),
        ("score", points(score.score)),
        ("pass_mark", score.pass_mark),
        ("passed", "true" if score.passed else "false"),
        ("detected_at_s", _number(report.detected_s)),
        ("ended_at_s", _number(report.end_s)),
        ("time_to_acknowledge_s", _number(metrics.time_to_acknowledge_s)),
        ("time_to_contain_s", _number(metrics.time_to_contain_s)),
        ("time_to_eradicate_s", _number(metrics.time_to_eradicate_s)),
        ("time_to_recover_s", _number(metrics.time_to_recover_s)),
        ("outage_s", _number(metrics.outage_s)),
        ("penalty_points", points(report.penalty_points)),
        ("seed", report.info.seed),
        ("responder", report.info.responder or None),
    ):
        if value is not None:
            ElementTree.SubElement(properties, "property", name=name, value=_text(value))
    suite.extend(cases)
    ElementTree.SubElement(suite, "system-out").text = _text(
        f"{report.marker}. {report.scenario.title} — team {score.team}: "
        f"{report.verdict}, score {points(score.score)} / pass mark {score.pass_mark}."
    )
    ElementTree.SubElement(suite, "system-err")
    return suite


def _case(report: RunReport, name: str, time: float) -> ElementTree.Element:
    return ElementTree.Element(
        "testcase", _attributes(classname=report.scenario.id, name=name, time=_seconds(time))
    )


def _step_case(report: RunReport, step: StepRow) -> ElementTree.Element:
    result = step.result
    case = _case(report, f"{step.id}: {result.title}", step.taken_s or 0.0)
    window = f"target {span(result.target_s)}, deadline {span(result.deadline_s)} after detection; "
    if step.met:
        done = f"met {span(step.taken_s)} after detection ({clock(step.satisfied_t)}); "
    else:
        done = "not met; "
    out = ElementTree.SubElement(case, "system-out")
    out.text = _text(
        f"{window}{done}{points(result.awarded)} of {result.points} points"
        + (" (critical)" if result.critical else "")
    )
    if not step.met:
        failure = ElementTree.Element(
            "failure", _attributes(message=_step_failure(step), type=result.status)
        )
        failure.text = _text(result.reason or _step_failure(step))
        case.insert(0, failure)
    return case


def _step_failure(step: StepRow) -> str:
    if step.result.reason:
        return step.result.reason
    if step.status == "pending":
        if step.result.manual:
            return "not marked done by the facilitator before the run ended"
        return "still open when the run ended"
    return f"not done by the deadline ({span(step.result.deadline_s)} after detection)"


def _penalty_case(report: RunReport, penalty: PenaltyRow) -> ElementTree.Element:
    case = _case(report, f"penalty {penalty.id}: {penalty.title}", 0.0)
    if penalty.incurred:
        when = f" at {clock(penalty.at_t)}" if penalty.at_t is not None else ""
        message = f"incurred{when}: -{points(penalty.points)} points"
        failure = ElementTree.SubElement(
            case, "failure", _attributes(message=message, type="penalty")
        )
        failure.text = _text(penalty.reason or penalty.title)
    return case


def _pass_mark_case(report: RunReport) -> ElementTree.Element:
    score = report.score
    case = _case(report, f"pass-mark: score reaches {score.pass_mark} with every critical step", 0)
    if not score.passed:
        message = " ".join(report.verdict_reasons)
        failure = ElementTree.SubElement(
            case, "failure", _attributes(message=message, type="score")
        )
        failure.text = _text(message)
    return case


def _attributes(**values: object) -> dict[str, str]:
    return {key: _text(value) for key, value in values.items() if value is not None}


def _text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _number(value: float | None) -> str | None:
    """Seconds as a property value: `833`, `12.5` (None stays None: the property is left out)."""
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"
