"""`gameday score` on a terminal: the tables show what score.json says."""

from __future__ import annotations

from rich.console import Console

from gameday.scoring.score import score_journal
from gameday.scoring.table import render_score

from .journals import northwind
from .stories import careless, well_drilled


def rendered(events: list[dict[str, object]]) -> str:
    console = Console(record=True, width=140, color_system=None)
    render_score(score_journal(northwind(), events), console)
    return console.export_text()


def test_a_passing_run_shows_its_steps_and_timings() -> None:
    text = rendered(well_drilled().events())
    assert "northwind-scoring — team red: 100/100 (pass mark 70) PASSED" in text
    assert "disable-leaked-key *" in text
    assert "acknowledge (manual)" in text
    assert "time to contain" in text and "6m10s" in text


def test_a_failing_run_shows_its_penalties() -> None:
    text = rendered(careless().events())
    assert "0/100 (pass mark 70) FAILED" in text
    assert "evidence-destroyed" in text and "−10" in text
    assert "30 minute(s)" in text


def test_a_run_still_going_says_so() -> None:
    events = [e for e in well_drilled().events() if e["kind"] != "run.ended"]
    assert "the run is still going" in rendered(events)


def test_who_did_each_step_and_each_item_of_collateral_damage_show() -> None:
    text = rendered(careless().events())
    assert "disable-leaked-key *" in text and "team" in text
    assert "access-key" in text and "(alvarez-cli) of j.alvarez — by team" in text
