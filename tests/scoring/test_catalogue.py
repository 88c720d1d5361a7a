"""docs/checks.md is generated from the registry and must be regenerated when it changes."""

from __future__ import annotations

from pathlib import Path

from gameday.scoring.catalogue import describe_topic, render
from gameday.scoring.checks import CHECKS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_docs_checks_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/checks.md is stale — run `python -m gameday.scoring.catalogue > docs/checks.md`"
    )


def test_the_catalogue_lists_every_check_with_its_parameters() -> None:
    text = render()
    for check in CHECKS:
        assert f"## `{check.name}`" in text
    assert "| `all_regions` | `False` | called in every region |" in text


def test_topics_read_as_words() -> None:
    assert describe_topic("api:iam") == "successful mutating `iam` calls"
    assert describe_topic("kind:workload.probe") == "`workload.probe` events"
    assert describe_topic("leaked-key:responder") == (
        "calls the responder signed with the leaked key"
    )
