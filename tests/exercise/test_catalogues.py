"""docs/techniques.md is generated from the technique registry, and the registry and the
scenario format name exactly the same techniques."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from gameday.exercise.attacker import TECHNIQUES
from gameday.exercise.attacker.catalogue import render
from gameday.scenario import model

DOCS = Path(__file__).resolve().parents[2] / "docs" / "techniques.md"


def technique_ids_in_the_scenario_format() -> set[str]:
    """Every `technique:` literal of the scenario model's Technique union."""
    union = typing.get_args(model.Technique)[0]
    ids: set[str] = set()
    for member in typing.get_args(union):
        ids.update(typing.get_args(member.model_fields["technique"].annotation))
    return ids


def test_docs_techniques_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), (
        "docs/techniques.md is stale — run "
        "`python -m gameday.exercise.attacker.catalogue > docs/techniques.md`"
    )


def test_every_technique_of_the_scenario_format_is_registered_and_vice_versa() -> None:
    in_format = technique_ids_in_the_scenario_format()
    assert len(in_format) == 13
    assert in_format == TECHNIQUES.ids()


def test_the_catalogue_lists_every_technique_with_its_parameters() -> None:
    text = render()
    for technique in TECHNIQUES:
        assert f"## `{technique.id}`" in text
        assert technique.detection in text
    assert "| `relaunch_every` | `600.0` |" in text
    assert "| `regions` | required |" in text


def test_an_unknown_technique_gets_a_suggestion() -> None:
    with pytest.raises(KeyError, match=re.escape("did you mean 'aws.impact.ec2-mining'")):
        TECHNIQUES.get("aws.impact.ec2-minning")
