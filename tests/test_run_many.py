"""`gameday run-many` on a pool of workers, sharded between machines, its JUnit merged.

End to end through the command line, as a CI matrix runs it: a library of five scenario
files (copies of the library's quickest scenario, so every run must come to the very same
journal), the first of two shards played on two worker processes, beside a run of the same
scenario played alone by `gameday run`; the shard's JUnit merged with another report.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from exercise.test_run_e2e import REFERENCE_RUNBOOK, gameday

from gameday.errors import UserError
from gameday.exercise.pool import Shard
from gameday.journal import Event, read_journal, without_wall_clock
from gameday.paths import SCENARIOS
from gameday.report.junit_merge import junit_files, merge_junit
from gameday.rundir import RunDir

SCENARIO = SCENARIOS / "false-alarm-inactive-key.yaml"  # the library's quickest
LINE = re.compile(r"^(passed|FAILED) +(\d+\.\d)/100 \(pass (\d+)\)  (\S+)  (\S+)$")


def test_a_shard_takes_every_nth_scenario_from_the_kth() -> None:
    names = list("abcdefg")
    shards = [Shard.parse(f"{k}/3").select(names) for k in (1, 2, 3)]
    assert shards == [["a", "d", "g"], ["b", "e"], ["c", "f"]]
    assert Shard.parse(" 2 / 3 ") == Shard(2, 3)
    for wrong in ("0/3", "4/3", "3", "a/b", "1/0", "-1/2"):
        with pytest.raises(UserError, match="--shard"):
            Shard.parse(wrong)


def journal_of(run: Path) -> list[Event]:
    return [without_wall_clock(e) for e in read_journal(run / "journal.jsonl")]


@pytest.mark.slow
def test_run_many_on_a_pool_sharded_and_merged(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    for name in "abcde":
        shutil.copyfile(SCENARIO, library / f"{name}.yaml")
    runs, alone = tmp_path / "runs", tmp_path / "alone"
    shard_junit = tmp_path / "shard-1.xml"

    with ThreadPoolExecutor(2) as both:  # the first of two shards, and a run alone beside it
        shard_running = both.submit(
            gameday, "run-many", library, "--responder", REFERENCE_RUNBOOK, "--seed", "7",
            "--out", runs, "--jobs", "2", "--shard", "1/2", "--junit", shard_junit, cwd=tmp_path,
        )  # fmt: skip
        alone_done = gameday("run", library / "a.yaml", "--clock", "virtual", "--responder",
                             REFERENCE_RUNBOOK, "--seed", "7", "--team", "ci", "--out", alone,
                             "--plain", cwd=tmp_path)  # fmt: skip
        done = shard_running.result()

    # the shard: a, c and e of the five, in the list's order, a line each, totals, its JUnit
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    names = "ace"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(names) + 2, done.stdout
    matches = [LINE.match(line) for line in lines[: len(names)]]
    assert all(matches), done.stdout
    assert [m.group(4) for m in matches if m] == list(names)
    assert [Path(m.group(5)) for m in matches if m] == [runs / n for n in names]
    for m in matches:
        assert m and m.group(1) == "passed" and float(m.group(2)) >= int(m.group(3))
    assert lines[len(names)] == f"{len(names)} passed, 0 failed"
    assert lines[-1] == f"junit: {shard_junit}"
    assert sorted(p.name for p in runs.iterdir()) == list(names)

    # the pool: two worker processes, each with one mock kept for its runs
    statuses = {name: RunDir(runs / name).status() for name in names}
    assert len({s["pid"] for s in statuses.values()}) == 2, statuses
    endpoints: dict[int, set[str]] = {}
    for status in statuses.values():
        endpoints.setdefault(status["pid"], set()).add(status["endpoint"])
    assert all(len(e) == 1 for e in endpoints.values()), endpoints
    # the third run was a worker's second: it played on a mock that had played a run before
    assert statuses["e"]["pid"] in (statuses["a"]["pid"], statuses["c"]["pid"])

    # deterministic: a fresh worker's mock, a reused one, or a run alone — one seed, one journal
    assert alone_done.returncode == 0, alone_done.stdout + alone_done.stderr
    reference = journal_of(alone)
    assert reference[-1]["kind"] == "run.ended"
    for name in names:
        assert journal_of(runs / name) == reference, f"{name}'s journal differs from the alone run"

    # the shard's JUnit holds its runs' suites, in order; merged with another report (the run
    # alone's own), it holds both, numbered again, the totals counted again
    def suites(path: Path) -> list[ElementTree.Element]:
        root = ElementTree.parse(path).getroot()
        assert root.tag == "testsuites"
        return root.findall("testsuite")

    per_run = {n: suites(runs / n / "junit.xml")[0] for n in names}
    per_run["alone"] = suites(alone / "junit.xml")[0]
    assert [_text(s, i) for i, s in enumerate(suites(shard_junit))] == [
        _text(per_run[n], i) for i, n in enumerate(names)
    ]
    merged_path = tmp_path / "report" / "junit.xml"
    merged = gameday("junit-merge", merged_path, shard_junit, alone, cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    root = ElementTree.parse(merged_path).getroot()
    order = [*names, "alone"]
    assert [_text(s, i) for i, s in enumerate(root.findall("testsuite"))] == [
        _text(per_run[n], i) for i, n in enumerate(order)
    ]
    tests = sum(int(per_run[n].get("tests", "0")) for n in order)
    failures = sum(int(per_run[n].get("failures", "0")) for n in order)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == (
        str(tests),
        str(failures),
        "0",
    )
    assert f"4 suite(s), {tests} test(s), {failures} failure(s)" in merged.stdout
    assert "from 2 file(s)" in merged.stdout  # the folder given: its one *.xml, junit.xml


def _text(suite: ElementTree.Element, number: int) -> bytes:
    """The suite as the `number`th of a report (what follows it in its file left out)."""
    suite.set("id", str(number))
    suite.tail = None
    return ElementTree.tostring(suite)


def test_junit_merge_refuses_what_is_not_junit(tmp_path: Path) -> None:
    (tmp_path / "notes.xml").write_text("<notes/>", encoding="utf-8")
    (tmp_path / "torn.xml").write_text("<testsuites><testsuite>", encoding="utf-8")
    target = tmp_path / "out.xml"
    for name, message in (
        ("notes.xml", "not a JUnit report (its root is <notes>, not <testsuites>)"),
        ("torn.xml", "torn.xml:1:24: not XML — no element found"),
    ):
        with pytest.raises(UserError, match=re.escape(message)):
            merge_junit(junit_files([tmp_path / name]), target)
    done = gameday("junit-merge", target, tmp_path / "missing.xml", cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "missing.xml: no such file or folder" in done.stderr
    assert "Traceback" not in done.stderr
    assert not target.exists()


def test_a_pools_scenario_mistakes_are_reported_as_a_run_alone_reports_them(
    tmp_path: Path,
) -> None:
    for name in ("first", "second"):
        (tmp_path / f"{name}.yaml").write_text(f"id: {name}\ntitle: {name}\n", encoding="utf-8")
    done = gameday("run-many", tmp_path / "first.yaml", tmp_path / "second.yaml",
                   "--responder", REFERENCE_RUNBOOK, "--jobs", "2", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # the first in the order, every problem a line of its own, as `gameday validate` gives them
    lines = done.stderr.strip().splitlines()
    assert lines and all(line.startswith(f"{tmp_path / 'first.yaml'}:1:1: ") for line in lines)
    assert f"{tmp_path / 'first.yaml'}:1:1: missing field 'leak' — add it here" in lines
