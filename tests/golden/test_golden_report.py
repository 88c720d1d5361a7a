"""The reports of the golden runs tell one consistent story (issue: the debrief).

Each test reads the report.md and report.html that `gameday run` itself wrote for a golden
run of the seed scenario (tests/golden/runs.py plays each team once per session), and pins
one thing that used to be wrong: the Acknowledged tile against the acknowledge step, bare
seconds in prose, evidence that showed the final state twice instead of the moment, a
"without an outage" step met after an outage, two unlabelled time bases, penalties avoided
that read as if they happened, a training report dated by the scenario's fictional day —
and the sections that tell cause and effect and guide the debrief.
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from needs import not_installed
from pypdf import PdfReader

from gameday.errors import UserError
from gameday.report.pdf import find_browser

from .runs import GoldenRuns, gameday

TEAMS = ("well-drilled", "key-only", "careless", "hasty")
# A moment written as bare seconds ("at 1980s", "since 480s"); lengths like "40 s" or
# "3m 20s" are not moments, and are never three digits of seconds.
BARE_SECONDS = re.compile(r"\b(?:at|since|until|from) \d+(?:\.\d+)?s\b|\b\d{3,}(?:\.\d+)?s\b")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("style", "svg")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "svg")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def reports(golden_runs: GoldenRuns, team: str) -> tuple[str, str]:
    run_dir = golden_runs.get(team).run_dir
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    return md, text_of((run_dir / "report.html").read_text(encoding="utf-8"))


def step_row(md: str, step_id: str) -> str:
    return next(line for line in md.splitlines() if f"`{step_id}`" in line and line.startswith("|"))


def section(md: str, title: str) -> str:
    start = md.index(f"## {title}\n")
    end = md.find("\n## ", start + 1)
    return md[start : end if end != -1 else None]


# ── what was wrong ───────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("team", ["hasty", "careless"])
def test_the_acknowledged_tile_says_what_the_acknowledge_step_says(
    golden_runs: GoldenRuns, team: str
) -> None:
    md, html = reports(golden_runs, team)
    # The hasty team called AWS at T+1:10, before any notice: no acknowledgement either.
    assert "| Missed |" in step_row(md, "acknowledge-case")
    lines = md.splitlines()
    header = lines.index(
        "| Acknowledged | Contained | Eradicated | Recovered | Outage | Penalties |"
    )
    tiles = lines[header + 2]
    assert tiles.startswith("| Missed (step acknowledge-case) |")
    assert "Acknowledged Missed step acknowledge-case" in html


@pytest.mark.parametrize("team", TEAMS)
def test_no_moment_is_written_as_bare_seconds(golden_runs: GoldenRuns, team: str) -> None:
    md, html = reports(golden_runs, team)
    for text in (md, html):
        assert BARE_SECONDS.findall(text) == []
    if team == "careless":
        # the scorer's own reasons, quoted by the report, say T+ too
        assert "the workload's probes have failed since T+7:00" in md
        assert "the quarantine was removed at T+3:10 while the leaked key worked" in md


def test_evidence_is_the_moment_the_step_was_met_said_once(golden_runs: GoldenRuns) -> None:
    md, _ = reports(golden_runs, "careless")
    row = step_row(md, "disable-leaked-key")
    key = golden_runs.get("careless").journal()[0]["leaked_access_key_id"]
    # who, which call, when — the deletion that also deactivated it, not "is deleted" twice
    assert f"Met at T+5:10: the team called iam:DeleteAccessKey on {key}." in row
    assert row.count(key) == 1
    assert "(deploy-key): " not in row


def test_evidence_says_when_and_by_whom_a_step_broke(golden_runs: GoldenRuns) -> None:
    md, html = reports(golden_runs, "hasty")
    row = step_row(md, "rotate-workload-key")
    assert "Its check held from T+7:00: the workload's probe worked" in row
    assert (
        "Its window's condition broke at T+5:00: the workload's probe failed "
        "(InvalidClientTokenId)" in row
    )
    assert "which the team had stopped at T+4:30 (iam:UpdateAccessKey" in row
    assert "Its window's condition broke at T+5:00" in html


def test_rotation_without_an_outage_is_not_met_after_an_outage(golden_runs: GoldenRuns) -> None:
    run = golden_runs.get("hasty")
    [rotation] = [s for s in run.score()["steps"] if s["id"] == "rotate-workload-key"]
    assert (rotation["status"], rotation["awarded"]) == ("failed", 0.0)
    assert run.score()["metrics"]["outage_s"] == 120.0
    md, _ = reports(golden_runs, "hasty")
    assert "| Missed | 0 / 5 |" in step_row(md, "rotate-workload-key")
    assert "billing-api was down for 2m: T+5:00–T+7:00." in md


@pytest.mark.parametrize("team", ["well-drilled", "careless"])
def test_one_time_base_labelled_everywhere(golden_runs: GoldenRuns, team: str) -> None:
    md, html = reports(golden_runs, team)
    for text in (md, html):
        assert "Every time in this report is T+ from the push of the leaky commit (T0)" in text
        assert "Done after" not in text
    row = step_row(md, "disable-leaked-key")
    cells = [cell.strip() for cell in row.split("|")]
    # targets count from the first notice and say so; the moment it was done is T+
    assert cells[3:6] == [
        "10 min after the first notice",
        "40 min after the first notice",
        "T+5:10 (3 min 20 s after the first notice)" if team == "careless"
        else "T+3:10 (1 min 20 s after the first notice)",
    ]  # fmt: skip


def test_penalties_avoided_read_as_avoided(golden_runs: GoldenRuns) -> None:
    md, html = reports(golden_runs, "well-drilled")
    for text in (md, html):
        assert (
            "Penalties avoided — none of these happened: “The leaky repository was deleted — "
            "the evidence went with it” (up to −10)" in text
        )
        assert "Avoided: The" not in text


def test_the_training_report_is_dated_when_the_runs_were_played(
    golden_runs: GoldenRuns, tmp_path: Path
) -> None:
    runs = [golden_runs.get(team) for team in ("well-drilled", "careless")]
    played = runs[0].journal()[0]["wall"][:10]
    assert runs[0].journal()[0]["t0"].startswith("2026-03-02")  # the scenario's own day
    done = gameday("report", *(str(r.run_dir) for r in runs), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    md = (tmp_path / "training.md").read_text(encoding="utf-8")
    html = (tmp_path / "training.html").read_text(encoding="utf-8")
    summary = json.loads((tmp_path / "training.json").read_text(encoding="utf-8"))
    assert played in md and played in html
    assert "2026-03-02" not in md and "2026-03-02" not in html
    assert all(run["started"].startswith(played) for run in summary["runs"])


# ── what is new ──────────────────────────────────────────────────────────────────────────


def test_what_the_actions_changed_links_each_failure_to_its_cause(
    golden_runs: GoldenRuns,
) -> None:
    md, html = reports(golden_runs, "hasty")
    changed = section(md, "What your actions changed")
    [mining] = [
        line for line in changed.splitlines() if "svc-backup-admin's key" in line and "|" in line
    ]
    cells = [cell.strip() for cell in mining.split("|")]
    assert cells[1].startswith(
        "`aws.impact.ec2-mining`: ec2:DescribeRegions refused with AuthFailure"
    )
    assert cells[2] == "T+6:00"
    assert cells[3].startswith("deactivated svc-backup-admin's key")
    assert "`iam:UpdateAccessKey`, 2 min 13 s before" in cells[3]
    assert cells[4] == "T+3:47"
    assert "What your actions changed" in html and "deactivated svc-backup-admin's key" in html


def test_what_the_leftovers_cost_is_an_estimate(golden_runs: GoldenRuns) -> None:
    md, html = reports(golden_runs, "key-only")
    costs = section(md, "What your actions changed").split("### What the leftovers still cost")[1]
    instances = [line for line in costs.splitlines() if line.startswith("| instance")]
    assert len(instances) == 8
    # 8 × p3.16xlarge at $24.48 an hour
    assert all("$588 a day (p3.16xlarge at about $24.48 an hour)" in line for line in instances)
    assert "$4,700 a day while the instances run — on-demand list price per hour" in costs
    assert "Estimate:" in costs and "a real bill may differ" in costs
    assert "Estimate: about" in html


@pytest.mark.parametrize("team", TEAMS)
def test_the_debrief_guide_has_five_to_eight_moments_with_questions(
    golden_runs: GoldenRuns, team: str
) -> None:
    md, html = reports(golden_runs, team)
    guide = section(md, "Debrief guide")
    moments = re.findall(r"^\d+\. \*\*(.+?) — (.+?)\.\*\*", guide, re.M)
    assert 5 <= len(moments) <= 8
    assert guide.count("*Ask the room:*") == len(moments)
    titles = [title for _, title in moments]
    assert "Containment" in titles and "What was left behind" in titles
    assert any(title.startswith("What AWS asked for") for title in titles)
    assert md.rstrip().endswith("journal events.")  # the guide closes the report
    assert md.index("## Debrief guide") > md.index("## Recommendations")
    assert "Debrief guide" in html and html.count("Ask the room:") == len(moments)
    if team == "hasty":
        assert titles[:4] == [
            "Acting before AWS's notice", "Containment", "What an action stopped", "The outage",
        ]  # fmt: skip
        assert "It followed the team's iam:UpdateAccessKey" in guide


# ── the PDF: the same page, printed ──────────────────────────────────────────────────────

RUN_FILES = ("scenario.yaml", "journal.jsonl", "score.json")


def _copy_run(golden_runs: GoldenRuns, team: str, root: Path) -> Path:
    """The files a report is made from, in a run folder of the test's own."""
    source = golden_runs.get(team).run_dir
    target = root / f"exported-keys-in-script-{team}"
    target.mkdir(parents=True)
    for name in RUN_FILES:
        shutil.copy(source / name, target / name)
    return target


@pytest.fixture
def printer() -> str:
    """The Chromium `--pdf` prints with; CI installs it, elsewhere its absence skips."""
    try:
        return find_browser()
    except UserError:
        not_installed("chromium", "apt-get install chromium")


def pdf_text(path: Path) -> str:
    assert path.read_bytes()[:5] == b"%PDF-"
    pages = PdfReader(path).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in pages))


def test_the_run_report_prints_to_pdf_with_every_section(
    golden_runs: GoldenRuns, tmp_path: Path, printer: str
) -> None:
    run_dir = _copy_run(golden_runs, "hasty", tmp_path)
    done = gameday("report", str(run_dir), "--pdf")
    assert done.returncode == 0, done.stderr
    assert str(run_dir / "report.pdf") in done.stdout
    text = pdf_text(run_dir / "report.pdf")
    for heading in (
        "SIMULATION — game day exercise",
        "Expected steps",
        "Penalties and outage",
        "What the attacker did",
        "What your actions changed",
        "What the leftovers still cost",
        "Recommendations",
        "Debrief guide",
    ):
        assert heading in text, heading
    assert "deactivated svc-backup-admin's key" in text
    assert "Ask the room:" in text
    assert "Every time in this report is T+ from the push" in text


def test_the_training_report_prints_to_pdf(
    golden_runs: GoldenRuns, tmp_path: Path, printer: str
) -> None:
    runs = [_copy_run(golden_runs, team, tmp_path / "runs") for team in ("hasty", "key-only")]
    out = tmp_path / "training"
    done = gameday("report", *map(str, runs), "--out", str(out), "--pdf")
    assert done.returncode == 0, done.stderr
    text = pdf_text(out / "training.pdf")
    assert "game day training report" in text.lower()
    assert "SIMULATION — game day exercise" in text
    played = golden_runs.get("hasty").journal()[0]["wall"][:10]
    assert played in text and "2026-03-02" not in text
