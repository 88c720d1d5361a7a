"""Many runs' JUnit reports as one: a shard's runs (`run-many --junit`), or the shards' files.

Each run writes its own `junit.xml` (`gameday.report.junit`): a `<testsuites>` holding the
scenario's `<testsuite>`. A merged report is one `<testsuites>` holding every suite of its
sources, in the order given, each as it was written; the totals (tests, failures, errors,
skipped, time) are counted again from the test cases, and the suites numbered again. A
merged file merges again like any other, so shards can be merged in stages.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import UserError


@dataclass(frozen=True)
class Totals:
    suites: int
    tests: int
    failures: int
    errors: int
    skipped: int
    time: float

    def __str__(self) -> str:
        return (
            f"{self.suites} suite(s), {self.tests} test(s), {self.failures} failure(s), "
            f"{self.errors} error(s), {self.skipped} skipped"
        )


def junit_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files named, and every `*.xml` file under the folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.xml") if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise UserError(f"{path}: no such file or folder — give JUnit XML files or folders")


def merge_junit(sources: Iterable[Path], target: Path) -> Totals:
    """Write to `target` one JUnit report holding every suite of `sources`; its totals."""
    suites = [suite for source in sources for suite in _suites(source)]
    cases = [case for suite in suites for case in suite.findall("testcase")]
    totals = Totals(
        suites=len(suites),
        tests=len(cases),
        failures=_having("failure", cases),
        errors=_having("error", cases),
        skipped=_having("skipped", cases),
        time=sum(_seconds(suite) for suite in suites),
    )
    for number, suite in enumerate(suites):
        suite.set("id", str(number))
    root = ElementTree.Element(
        "testsuites",
        {
            "name": "gameday",
            "tests": str(totals.tests),
            "failures": str(totals.failures),
            "errors": str(totals.errors),
            "skipped": str(totals.skipped),
            "time": f"{totals.time:.3f}",
        },
    )
    root.extend(suites)
    ElementTree.indent(root)
    body = ElementTree.tostring(root, encoding="unicode")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n', encoding="utf-8")
    return totals


def _suites(source: Path) -> list[ElementTree.Element]:
    try:
        root = ElementTree.parse(source).getroot()
    except ElementTree.ParseError as error:
        line, column = error.position
        raise UserError(f"{source}:{line}:{column + 1}: not XML — {error}") from None
    except OSError as error:
        raise UserError(f"{source}: cannot be read — {error.strerror}") from None
    if root.tag == "testsuite":
        return [root]
    if root.tag == "testsuites":
        return root.findall("testsuite")
    raise UserError(f"{source}: not a JUnit report (its root is <{root.tag}>, not <testsuites>)")


def _having(tag: str, cases: list[ElementTree.Element]) -> int:
    return sum(1 for case in cases if case.find(tag) is not None)


def _seconds(suite: ElementTree.Element) -> float:
    try:
        return max(float(suite.get("time") or 0.0), 0.0)
    except ValueError:
        return 0.0
