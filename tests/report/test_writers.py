"""The run reports: the files written, their content, and escaping of scenario and journal
text in every format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import UserError
from gameday.report import RUN_WRITERS, write_reports
from gameday.report.content import SIMULATION_MARKER, build_run_report
from gameday.report.rendering import code, escape_markdown, richtext_html, richtext_markdown
from gameday.scenario.model import Scenario
from gameday.scoring.model import Metrics, Score, StepResult

from .runs import JournalBuilder


@pytest.fixture()
def written(
    tmp_path: Path, scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> dict[str, str]:
    paths = write_reports(tmp_path, scenario, *careless)
    return {p.name: p.read_text(encoding="utf-8") for p in paths}


def test_every_run_report_is_written_into_the_run_directory(
    tmp_path: Path, scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> None:
    paths = write_reports(tmp_path, scenario, *careless)
    assert [p.name for p in paths] == ["report.html", "report.md", "score.json", "junit.xml"]
    assert all(p.parent == tmp_path and p.stat().st_size > 0 for p in paths)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_score_json_is_the_score_contract(
    written: dict[str, str], careless: tuple[list[dict[str, Any]], Score]
) -> None:
    data = json.loads(written["score.json"])
    assert Score.from_json(data) == careless[1]
    assert set(data) >= {"scenario", "team", "score", "passed", "pass_mark", "steps", "penalties"}
    assert written["score.json"].startswith('{\n  "scenario"')  # indented for people


def test_the_html_report_is_self_contained_and_has_every_section(written: dict[str, str]) -> None:
    html = written["report.html"]
    assert html.count(SIMULATION_MARKER) >= 2
    assert "<script" not in html  # no script at all — including the scenario's title
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched
    assert "default-src 'none'" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'id="timeline"' in html
    for heading in (
        "Timeline",
        "Expected steps",
        "Penalties and outage",
        "What the attacker did",
        "Left behind",
        "What the responders did",
        "Recommendations",
        "Debrief",
    ):
        assert f">{heading}</h" in html, heading
    assert ">FAILED<" in html and "<b>12.9</b> / 100" in html and "pass mark 70" in html
    assert "i-0aaa111122223333a" in html and "a region the company does not use" in html
    # A note written with markup shows as text.
    assert "&lt;b&gt;#inc-42&lt;/b&gt; &amp; `aws` *now*" in html
    # Debrief notes are scenario text: escaped, with `code` spans as code.
    assert "&lt;b&gt;Decide whose&lt;/b&gt;" in html
    assert "<code>aws iam update-access-key --status Inactive</code>" in html
    # The scenario's hint for a step that was missed.
    assert "Hint: Answer on the case itself, with <code>aws support" in html


def test_the_timeline_has_its_lanes_detection_outage_and_every_step(
    written: dict[str, str], scenario: Scenario
) -> None:
    svg = written["report.html"].split('<svg xmlns="http://www.w3.org/2000/svg"', 1)[1]
    svg = svg.split("</svg>", 1)[0]
    for lane in ("aws", "attacker", "responders", "workload"):
        assert f'class="lane lane-{lane}"' in svg
    assert "detected T+1:50" in svg
    assert 'class="outages"' in svg and "Outage T+31:00–T+41:00" in svg
    for expected in scenario.steps:
        assert f">{expected.id}</text>" in svg
    assert svg.count('class="step step-failed"') == 6
    assert svg.count('class="step step-partial"') == 1
    assert svg.count('class="step step-success"') == 2
    assert ">UpdateAccessKey</text>" in svg  # a responder's change, labelled
    assert ">iam-create-backdoor-user</text>" in svg  # an attack technique, labelled


def test_the_markdown_report_escapes_journal_text_and_keeps_tables_intact(
    written: dict[str, str],
) -> None:
    md = written["report.md"]
    assert md.startswith(f"> **{SIMULATION_MARKER}**")
    assert "# Leaked deploy key \\<script\\>alert(1)\\</script\\> \\& friends" in md
    assert "<script>" not in md and "<b>" not in md
    note_row = next(line for line in md.splitlines() if "Incident declared" in line)
    # The note's own `|` is escaped, so the row still has exactly four cells.
    assert len(re.split(r"(?<!\\)\|", note_row)) == 6
    assert "| T+15:00 | responders | UpdateAccessKey | iam:UpdateAccessKey in us-east-1 |" in md
    assert "### \\# Minutes, not hours \\| and \\* pipes" in md
    assert "`aws iam update-access-key --status Inactive`" in md
    assert "hint: Answer on the case itself, with `aws support add-communication-to-case`." in md
    for line in md.splitlines():
        if line.startswith("|"):
            assert line.rstrip().endswith("|"), line


def test_the_same_content_reaches_html_and_markdown(
    written: dict[str, str], scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> None:
    report = build_run_report(scenario, *careless)
    for advice in report.recommendations:
        assert advice.title in written["report.md"]
        assert advice.title.replace("'", "&#39;") in written["report.html"]
    for step in report.steps:
        assert step.result.title in written["report.md"]
        assert step.result.title in written["report.html"]


def test_a_run_with_an_empty_journal_still_reports(tmp_path: Path, scenario: Scenario) -> None:
    steps = [
        StepResult(
            id=s.id,
            title=s.title,
            phase=s.phase,
            status="pending",
            satisfied_at_s=None,
            target_s=s.target,
            deadline_s=s.deadline,
            points=s.points,
            awarded=0,
            critical=s.critical,
        )
        for s in scenario.steps
    ]
    score = Score(scenario.id, "green", 0, False, scenario.pass_mark, steps, [], Metrics())
    paths = write_reports(tmp_path, scenario, [], score)
    html = paths[0].read_text(encoding="utf-8")
    assert "The attacker did nothing in this run." in html
    assert "The responders made no AWS API call." in html
    assert "No penalty" in html
    assert "detected" not in html.split('id="timeline"', 1)[1].split("</svg>", 1)[0]
    assert paths[1].read_text(encoding="utf-8").count("| Not met |") == len(steps)


def test_writers_are_registered_once_and_unknown_ones_are_suggested() -> None:
    assert RUN_WRITERS.names() == ["html", "markdown", "json", "junit"]
    assert RUN_WRITERS.get("html").filename == "report.html"
    with pytest.raises(UserError, match="did you mean 'markdown'"):
        RUN_WRITERS.get("markdwn")


def test_a_rewritten_report_replaces_the_old_one_whole(
    tmp_path: Path, scenario: Scenario, careless: tuple[list[dict[str, Any]], Score]
) -> None:
    (tmp_path / "report.html").write_text("old" * 100000)
    write_reports(tmp_path, scenario, *careless)
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain words", "plain words"),
        ("a | b", "a \\| b"),
        ("<b>x</b> & y", "\\<b\\>x\\</b\\> \\& y"),
        ("*bold* _it_ [link](u)", "\\*bold\\* \\_it\\_ \\[link\\](u)"),
        ("`code` ~s~", "\\`code\\` \\~s\\~"),
        ("# title", "\\# title"),
        ("- item", "\\- item"),
        ("1. first", "1\\. first"),
        ("17.9", "17.9"),
        ("-5m", "-5m"),
        ("two\nlines  here", "two lines here"),
        (", ", ", "),
    ],
)
def test_markdown_escaping(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def test_code_spans_and_rich_text() -> None:
    assert code("a|b") == "`a\\|b`"
    assert code("uses `tick`") == "`` uses `tick` ``"
    assert richtext_markdown("run `git secrets --scan` <now>") == (
        "run `git secrets --scan` \\<now\\>"
    )
    assert str(richtext_html("run `a<b>` & <i>")) == "run <code>a&lt;b&gt;</code> &amp; &lt;i&gt;"


def test_a_journal_note_cannot_close_the_svg(tmp_path: Path, scenario: Scenario) -> None:
    j = JournalBuilder()
    j.note(30, "</svg><script>alert(2)</script>")
    j.add("mark", 40, step='x"><script>', by="<i>facilitator</i>")
    score = Score(scenario.id, "t", 0, False, 70, [], [], Metrics(), ended_at_s=60)
    html = write_reports(tmp_path, scenario, j.events, score)[0].read_text(encoding="utf-8")
    assert "<script" not in html
    assert html.count("</svg>") == html.count("<svg ")


def test_the_reports_list_collateral_damage_and_who_did_each_step(
    written: dict[str, str],
) -> None:
    html, md = written["report.html"], written["report.md"]
    assert ">Collateral damage</h3>" in html and "### Collateral damage" in md
    assert "| T+31:40 | bucket fixture-web-assets | team |" in md
    assert "<td>bucket fixture-web-assets</td><td>team</td>" in html
    assert "<th>Done by</th>" in html and "| Done at | Done by | Status |" in md
    # The leaked key was deactivated by the team; the manual step nobody marked is no one's.
    assert re.search(
        r"Deactivate the leaked key from another principal \(critical\) — .*\| team \|", md
    )
    assert re.search(r"Change the root password and confirm root MFA — .*\| — \| Missed \|", md)


def test_a_run_that_damaged_nothing_says_so(
    tmp_path: Path, scenario: Scenario, careful: tuple[list[dict[str, Any]], Score]
) -> None:
    paths = write_reports(tmp_path, scenario, *careful)
    md = next(p for p in paths if p.name == "report.md").read_text(encoding="utf-8")
    assert "None: nothing that existed before the push was deleted or disabled" in md
