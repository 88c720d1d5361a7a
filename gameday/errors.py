"""The exception tree and exit codes.

    GamedayError
     └── UserError              something the user can fix; the CLI prints it, exit 2
          ├── ScenarioError     one or more `path:line:col: message — hint` problems
          └── RunDirError       a run directory that is missing or not a run

Anything else that escapes is a bug: the CLI lets its traceback show and exits 3.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the run finished but missed its pass mark
    USER_ERROR = 2
    INTERNAL_ERROR = 3


class GamedayError(Exception):
    """Base of every error gameday raises on purpose."""


class UserError(GamedayError):
    """A problem with the user's input or environment, with a way to fix it."""


class RunDirError(UserError):
    """A run directory that does not exist or holds no run."""


# Characters a message must not carry to a terminal or a log: controls (a line break would
# split one problem over two lines, an escape sequence would recolour the terminal) and the
# bidirectional overrides. Scenario text quoted in a message is shown with them escaped.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control and bidirectional character escaped (`\\n`, `\\x1b`, `\\u202e`).

    With `lines`, line breaks and tabs are kept (for text shown as a block).
    """

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if lines and char in "\n\t":
            return char
        if char in _ESCAPES:
            return _ESCAPES[char]
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape, text)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a file, located at a YAML node.

    A `warning` is something a valid file does that would likely spoil its use (shown as
    `path:line:col: warning: message`); it fails `gameday validate` only with `--strict`.
    """

    path: str
    line: int
    column: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return printable(f"{self.path}:{self.line}:{self.column}: {kind}{self.message}")


class ScenarioError(UserError):
    """A scenario file with one or more problems, all reported at once."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`— did you mean 'x'?` for the closest known name, or the list of names."""
    choices = sorted(set(known))
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    if len(choices) <= 24:
        return "expected one of: " + ", ".join(choices)
    return "see `gameday schema` for the names allowed here"
