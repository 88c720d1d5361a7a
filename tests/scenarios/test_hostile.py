"""Hostile inputs too big or too odd to keep as files, through the real `gameday validate`.

Each runs in a subprocess with 500 MB of address space and 10 seconds of CPU — the bounds a
hostile file gets — and must be refused with located problems (exit 2), never a traceback.
The organisation's own templates (`--templates`) are checked as strictly as the scenario.
What is hostile only in its contents, not its size (a symlink, escapes, infinities), is
validated in this process (`gameday_here`, the same `python -m gameday`).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from gameday_cli import gameday_here

from . import SMALL_SCENARIO
from .test_bad_scenarios import VALIDATE_SECONDS, gameday

PROBLEM = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+):(?P<column>\d+): (?P<message>.+ — .+)$")
INJECTS = "  - {id: support-case, type: support-case, at: 2m}\n"


def validate_refuses(*args: str | Path, bounded: bool = True) -> list[str]:
    """The problems `gameday validate ARGS` reports: in a bounded subprocess, or in-process
    where the input is small."""
    started = time.monotonic()
    if bounded:
        result = gameday("validate", *map(str, args), seconds=VALIDATE_SECONDS)
    else:
        result = gameday_here("validate", *map(str, args), timeout=VALIDATE_SECONDS)
    assert time.monotonic() - started < VALIDATE_SECONDS
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines
    for line in lines:
        assert PROBLEM.match(line), line
    return lines


def scenario_file(tmp_path: Path, text: str, name: str = "hostile.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def with_inject(line: str) -> str:
    return SMALL_SCENARIO.replace(INJECTS, INJECTS + line + "\n")


@pytest.mark.slow
def test_a_file_of_megabytes_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    text = SMALL_SCENARIO + "summary2: '" + "x" * 3_000_000 + "'\n"
    [line] = validate_refuses(scenario_file(tmp_path, text))
    assert line.endswith("the file is over 524,288 bytes, over the 512 KB a scenario may be — "
                         "the largest scenario of the library is 13 KB; split long texts out "
                         "or shorten them")  # fmt: skip


@pytest.mark.slow
def test_a_flow_list_of_a_hundred_thousand_values_is_refused(tmp_path: Path) -> None:
    text = SMALL_SCENARIO + "tags: [" + ", ".join(["x"] * 100_000) + "]\n"
    [line] = validate_refuses(scenario_file(tmp_path, text))
    assert "the file holds over 20,000 values" in line


@pytest.mark.slow
def test_a_text_of_seventy_thousand_characters_is_refused(tmp_path: Path) -> None:
    text = SMALL_SCENARIO.replace(
        "summary: A developer pushes a script that exports an access key.",
        "summary: '" + "x" * 70_000 + "'",
    )
    [line] = validate_refuses(scenario_file(tmp_path, text))
    assert ":3:10: a text of 70,000 characters, over the 65,536" in line


@pytest.mark.slow
def test_more_than_a_thousand_instances_are_refused(tmp_path: Path) -> None:
    groups = "".join(
        f"      - {{region: us-east-1, name: web-{n}, count: 50}}\n" for n in range(21)
    )
    text = SMALL_SCENARIO.replace("  estate:\n", "  estate:\n    instances:\n" + groups)
    [line] = validate_refuses(scenario_file(tmp_path, text))
    assert "the estate runs 1,050 instances, over the 1,000" in line


def probed_for_a_week(every: str) -> str:
    """The small scenario lasting a week (the longest run), its workload probed `every`."""
    text = (
        SMALL_SCENARIO.replace("duration: 1h", "duration: 7d")
        .replace(
            "          - {id: deploy-key, age: 30d}\n",
            "          - {id: deploy-key, age: 30d}\n          - {id: api-key, age: 60d}\n"
            "    secrets:\n      - {name: api/aws, from_key: api-key}\n",
        )
        .rstrip("\n")
    )
    return text + (
        "\nworkload: {name: api, user: deployer, key: api-key, secret: api/aws, "
        f"probe_every: {every}}}\n"
    )


@pytest.mark.slow
def test_probing_too_often_for_the_length_of_the_run_is_refused(tmp_path: Path) -> None:
    # a week of probes every 5 minutes: just over the bound
    [line] = validate_refuses(scenario_file(tmp_path, probed_for_a_week("5m")))
    assert "the workload would be probed 2,016 times, over the 2,000" in line


@pytest.mark.slow
def test_a_week_probed_within_the_bound_is_accepted(tmp_path: Path) -> None:
    # every 10 minutes for a week: 1,008 probes, the longest run at half the repeats' bound
    result = gameday("validate", str(scenario_file(tmp_path, probed_for_a_week("10m"))))
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_an_organisation_template_that_spins_is_refused_at_its_inject(tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "emails"
    templates.mkdir(parents=True)
    (templates / "spin.txt.j2").write_text(
        "{% set subject = 'x' %}\n"
        "{% for i in range(100000) %}{% for j in range(100000) %}.{% endfor %}{% endfor %}\n"
    )
    path = scenario_file(
        tmp_path, with_inject("  - {id: mail, type: email, at: 3m, template: spin}")
    )
    [line] = validate_refuses(path, "--templates", tmp_path / "templates")
    assert re.search(
        r":30:47: inject 'mail': \S*emails/spin\.txt\.j2:2: too much for a template", line
    )


def test_a_template_linked_out_of_its_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("{% set subject = 'x' %}not for templates")
    templates = tmp_path / "templates" / "emails"
    templates.mkdir(parents=True)
    (templates / "leak.txt.j2").symlink_to(secret)
    path = scenario_file(
        tmp_path, with_inject("  - {id: mail, type: email, at: 3m, template: leak}")
    )
    [line] = validate_refuses(path, "--templates", tmp_path / "templates", bounded=False)
    assert ":30:47: inject 'mail': template 'emails/leak.txt.j2' resolves to" in line
    assert "outside the template folders" in line


@pytest.mark.slow
def test_a_huge_organisation_template_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "emails"
    templates.mkdir(parents=True)
    (templates / "big.txt.j2").write_text("{% set subject = 'x' %}" + "y" * 300_000)
    path = scenario_file(
        tmp_path, with_inject("  - {id: mail, type: email, at: 3m, template: big}")
    )
    [line] = validate_refuses(path, "--templates", tmp_path / "templates")
    assert "is 300,023 bytes, over the 256 KB a template may be" in line


def test_every_problem_of_every_hostile_file_comes_at_once(tmp_path: Path) -> None:
    first = scenario_file(
        tmp_path, SMALL_SCENARIO.replace("duration: 1h", "duration: .inf"), "a.yaml"
    )
    second = scenario_file(
        tmp_path,
        SMALL_SCENARIO.replace(
            "title: A deploy key pushed to a public repository", 'title: "\\e[31mA deploy key"'
        ).replace("    target: 10m", "    target: .inf"),
        "b.yaml",
    )
    lines = validate_refuses(first, second, bounded=False)
    found = [PROBLEM.match(line) for line in lines]
    assert [(Path(m["path"]).name, m["line"]) for m in found if m] == [
        ("a.yaml", "5"),
        ("b.yaml", "2"),
        ("b.yaml", "41"),
    ]
