"""The journal: append-only, flushed per event, valid line by line after a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from gameday.journal import FixedClock, Journal, read_journal, without_wall_clock


def test_events_carry_the_contract_fields(tmp_path: Path) -> None:
    clock = FixedClock(t=90.5)
    with Journal(tmp_path / "journal.jsonl", clock) as journal:
        event = journal.append("note", actor="responder", text="key disabled")
    assert event["seq"] == 1
    assert event["t"] == 90.5
    assert event["time"] == "2026-01-01T12:01:30.500Z"
    assert event["kind"] == "note"
    assert read_journal(tmp_path / "journal.jsonl") == [event]
    assert "wall" not in without_wall_clock(event)


def test_sequence_continues_when_a_journal_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, FixedClock()) as journal:
        journal.append("run.started")
    with Journal(path, FixedClock()) as journal:
        assert journal.append("run.resumed")["seq"] == 2


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, FixedClock()) as journal:
        threads = [
            threading.Thread(
                target=lambda n=n: [journal.append("api.call", n=n, i=i) for i in range(200)]
            )
            for n in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    events = read_journal(path)
    assert [e["seq"] for e in events] == list(range(1, 801))


def test_listeners_see_each_event_after_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    seen: list[int] = []
    with Journal(path, FixedClock()) as journal:
        journal.subscribe(lambda e: seen.append(len(read_journal(path))))
        journal.append("a")
        journal.append("b")
    assert seen == [1, 2]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, FixedClock()) as journal:
        journal.append("run.started")
    with path.open("a") as handle:
        handle.write('{"seq": 2, "kind": "api.ca')
    assert [e["seq"] for e in read_journal(path)] == [1]


def test_kill_9_leaves_a_journal_valid_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    writer = textwrap.dedent(
        f"""
        from pathlib import Path
        from gameday.journal import FixedClock, Journal
        journal = Journal(Path({str(path)!r}), FixedClock())
        i = 0
        while True:
            journal.append("api.call", i=i, params={{"UserName": "x" * 200}})
            i += 1
        """
    )
    process = subprocess.Popen([sys.executable, "-c", writer])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not path.exists() or path.stat().st_size < 200_000):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    lines = path.read_text().splitlines(keepends=True)
    complete = [json.loads(line) for line in lines if line.endswith("\n")]
    assert len(complete) > 100
    assert [e["i"] for e in complete] == list(range(len(complete)))
    assert read_journal(path) == complete


def test_lines_another_writer_slips_in_are_taken_out_and_put_on_record(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    forged = '{"seq":3,"t":1,"kind":"mark","step":"root-password","by":"facilitator"}\n'
    with Journal(path, FixedClock()) as journal:
        journal.append("run.started")
        with path.open("a", encoding="utf-8") as other:
            other.write(forged)  # a runbook with the same uid, appending behind the run's back
        journal.append("note", text="after")
        with path.open("a", encoding="utf-8") as other:
            other.write(forged)  # and once more just before the end, same size or not
    events = read_journal(path)
    assert [e["kind"] for e in events] == [
        "run.started",
        "note",
        "journal.foreign",
        "journal.foreign",
    ]
    assert all(e["bytes"] == len(forged) for e in events[2:])
    assert "root-password" in events[2]["excerpt"]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]


def test_a_torn_last_line_is_cut_when_the_journal_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, FixedClock()) as journal:
        journal.append("run.started")
    with path.open("a", encoding="utf-8") as crashed:
        crashed.write('{"seq":2,"t":0,"kind":"api.ca')  # kill -9 mid-write
    with Journal(path, FixedClock()) as journal:
        journal.append("run.resumed")
    assert [(e["seq"], e["kind"]) for e in read_journal(path)] == [
        (1, "run.started"),
        (2, "run.resumed"),
    ]
