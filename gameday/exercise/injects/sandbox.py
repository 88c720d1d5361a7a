"""A Jinja sandbox that cannot exhaust the machine.

Jinja's own sandbox stops templates from reaching Python's internals, but not from asking
for `{{ 'A' * 3000000000 }}`, `{{ 9 ** (9 ** 10) }}` or two nested `range(100000)` loops.
`BoundedSandbox` adds bounds, each checked before the work is done where one step could
be huge, and after it everywhere else:

- every value a template builds (text, a list, a mapping, a number) has a *weight* — the
  characters it prints as, roughly — of at most `RENDER_OUTPUT`; repetition (`*`), powers
  (`**`), padding widths (`center`, `'%9999d'`, `'{:>9999}'`), `replace`, `join`, `indent`,
  `batch`… are refused when their result would exceed it, before it is built;
- integers stay below `RENDER_NUMBER_BITS` bits;
- the text a template (or a macro, or a `{% set %}` block) produces stays below
  `RENDER_OUTPUT` characters;
- a render runs at most `RENDER_STEPS` Python lines and `RENDER_SECONDS` seconds, and may
  not grow the process by more than `RENDER_MEMORY` bytes: a trace function counts the
  lines and stops the render (`Watchdog`).

A bound that trips raises `RenderLimitError` (a Jinja `TemplateError`), which the renderer
reports with the template's name and line like any other template mistake.
"""

from __future__ import annotations

import functools
import math
import os
import re
import string
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Namespace
from markupsafe import Markup

from gameday.scenario.limits import (
    RENDER_ITEMS,
    RENDER_MEMORY,
    RENDER_NUMBER_BITS,
    RENDER_OUTPUT,
    RENDER_SECONDS,
    RENDER_STEPS,
)

MAX_WIDTH = 10_000  # a padding width or precision in a format, a filter's width
MAX_INDENT = 64  # `tojson(indent=…)`
MAX_PATTERN_TEXT = 10_000  # `striptags` backtracks on long text: it is meant for snippets
MAX_LIPSUM = 20  # paragraphs of `lipsum()`


class RenderLimitError(TemplateError):
    """A template asked for more than a render may use."""


# ── weights ───────────────────────────────────────────────────────────────────────────────


def weight(value: Any, limit: int = RENDER_OUTPUT) -> int:
    """About how many characters `value` prints as; counting stops past `limit`.

    Shared references count each time they are reached (a list of one long text repeated
    a thousand times prints a thousand texts), so nesting lists in lists cannot hide size.
    """
    total = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | bytes | bytearray):
            total += max(1, len(item))
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 3
        elif isinstance(item, dict):
            total += 1
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            pending.extend(item)
        elif isinstance(item, Namespace):
            total += 1
            pending.extend(object.__getattribute__(item, "_Namespace__attrs").values())
        elif isinstance(item, Cycler):
            total += 1
            pending.extend(item.items)
        else:
            total += 1
        if total > limit:
            break
    return total


def _limit(message: str) -> RenderLimitError:
    return RenderLimitError(f"{message} — templates stay small: shorten or simplify it")


def checked(value: Any, what: str = "a value") -> Any:
    """`value`, if its weight is within `RENDER_OUTPUT`."""
    if weight(value) > RENDER_OUTPUT:
        raise _limit(f"{what} over {RENDER_OUTPUT:,} characters")
    return value


def _count(value: Any) -> int | None:
    """A repetition count, or None when `value` is not one."""
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int) else None


def _check_repeat(sequence: Any, times: int) -> None:
    if times > 0 and weight(sequence) * times > RENDER_OUTPUT:
        raise _limit(f"repeating a value {times:,} times makes over {RENDER_OUTPUT:,} characters")
    if isinstance(sequence, list | tuple) and len(sequence) * max(times, 0) > RENDER_ITEMS:
        raise _limit(f"repeating a list {times:,} times makes over {RENDER_ITEMS:,} items")


def _check_bits(bits: float) -> None:
    if bits > RENDER_NUMBER_BITS:
        raise _limit(f"a number of about {int(bits):,} bits (at most {RENDER_NUMBER_BITS:,})")


_SEQUENCES = (str, bytes, list, tuple)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left <operator> right` before computing it, when the result would be huge."""
    if operator == "*":
        if isinstance(left, _SEQUENCES) and (times := _count(right)) is not None:
            _check_repeat(left, times)
        elif isinstance(right, _SEQUENCES) and (times := _count(left)) is not None:
            _check_repeat(right, times)
        elif isinstance(left, int) and isinstance(right, int):
            _check_bits(abs(left).bit_length() + abs(right).bit_length())
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _check_bits(right * math.log2(abs(left)))
    elif operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if weight(left) + weight(right) > RENDER_OUTPUT:
            raise _limit(f"joining two values into over {RENDER_OUTPUT:,} characters")
    elif operator == "%" and isinstance(left, str | bytes):
        _check_percent_format(left if isinstance(left, str) else left.decode("latin-1"))


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_percent_format(text: str) -> None:
    for match in _PERCENT_SPEC.finditer(text):
        for part in match.groups():
            if part == "*":
                raise _limit("a '*' width in a %-format")
            if part is not None and (len(part) > 5 or int(part) > MAX_WIDTH):
                raise _limit(f"a %-format width or precision over {MAX_WIDTH:,}")


def _check_brace_format(text: str) -> None:
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:
            raise _limit("a nested '{…}' inside a format specification")
        for number in re.findall(r"\d+", spec):
            if len(number) > 5 or int(number) > MAX_WIDTH:
                raise _limit(f"a format width or precision over {MAX_WIDTH:,}")


def _width(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_WIDTH:
        raise _limit(f"a width of {value:,} (at most {MAX_WIDTH:,})")


def _text_arg(value: Any, what: str, multiplier: int) -> None:
    if isinstance(value, str | bytes) and len(value) * multiplier > RENDER_OUTPUT:
        raise _limit(f"{what} repeated into over {RENDER_OUTPUT:,} characters")


# ── methods of text that can multiply their input ─────────────────────────────────────────


def _check_method(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # the sandbox hands `str.format` over wrapped: the method is the wrapped one
    method = getattr(method, "__wrapped__", method)
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(owner, str | bytes):
        return
    size = len(owner)
    if name in ("center", "ljust", "rjust", "zfill"):
        _width(args[0] if args else kwargs.get("width"))
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        if isinstance(tabsize, int) and tabs * max(tabsize, 0) > RENDER_OUTPUT:
            raise _limit(f"expanding tabs into over {RENDER_OUTPUT:,} characters")
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        places = size + 1 if not isinstance(count, int) or count < 0 else min(count, size + 1)
        _text_arg(args[1], "a replacement", places)
    elif name == "join" and args and isinstance(args[0], list | tuple):
        _text_arg(owner, "a separator", len(args[0]))
        checked(args[0], "joined text")
    elif name in ("format", "format_map") and isinstance(owner, str):
        _check_brace_format(owner)
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str | bytes)), default=1)
        if size * longest > RENDER_OUTPUT:
            raise _limit(f"translating into over {RENDER_OUTPUT:,} characters")


# ── filters and globals with a size argument ──────────────────────────────────────────────


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (a Jinja filter) with its size arguments checked and its result weighed."""
    passes_first = getattr(function, "jinja_pass_arg", None) is not None

    first = 1 if passes_first else 0

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if name == "join" and len(args) > first:
            args = (*args[:first], _materialized(args[first]), *args[first + 1 :])
        _check_filter(name, args[first:], kwargs)
        return checked(function(*args, **kwargs), f"the result of '|{name}'")

    return wrapper


def _materialized(value: Any) -> Any:
    """An iterable as a list (so its size can be checked before it is joined)."""
    if isinstance(value, str | bytes | list | tuple | dict) or not hasattr(value, "__iter__"):
        return value
    items = []
    for item in value:
        items.append(item)
        if len(items) > RENDER_ITEMS:
            raise _limit(f"joining over {RENDER_ITEMS:,} items")
    return items


def _argument(given: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return given[index] if len(given) > index else kwargs.get(name)


def _check_filter(name: str, given: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    value = given[0] if given else None
    if name == "center":
        _width(_argument(given, kwargs, 1, "width"))
    elif name == "indent":
        width = _argument(given, kwargs, 1, "width")
        lines = str(value).count("\n") + 1 if value is not None else 1
        if isinstance(width, int):
            _width(width)
            if width * lines > RENDER_OUTPUT:
                raise _limit(f"indenting into over {RENDER_OUTPUT:,} characters")
        else:
            _text_arg(width, "an indent", lines)
    elif name == "format" and isinstance(value, str):
        _check_percent_format(value)
    elif name == "replace":
        new = _argument(given, kwargs, 2, "new")
        count = _argument(given, kwargs, 3, "count")
        size = len(str(value)) + 1
        _text_arg(new, "a replacement", size if not isinstance(count, int) else min(count, size))
    elif name == "join" and isinstance(value, list | tuple):
        _text_arg(_argument(given, kwargs, 1, "d"), "a separator", len(value))
        checked(value, "joined text")
    elif name in ("batch", "slice"):
        count = _argument(given, kwargs, 1, "linecount" if name == "batch" else "slices")
        if isinstance(count, int) and count > RENDER_ITEMS:
            raise _limit(f"'|{name}' into {count:,} parts (at most {RENDER_ITEMS:,})")
    elif name == "wordwrap":
        width = _argument(given, kwargs, 1, "width")
        wrapstring = _argument(given, kwargs, 3, "wrapstring")
        if isinstance(width, int) and width < 1:
            raise _limit("a wrap width below 1")
        _text_arg(wrapstring, "a wrap string", len(str(value)))
    elif name == "tojson":
        indent = _argument(given, kwargs, 1, "indent")
        if isinstance(indent, int) and indent > MAX_INDENT:
            raise _limit(f"an indent of {indent:,} (at most {MAX_INDENT})")
        if isinstance(indent, str) and len(indent) > MAX_INDENT:
            raise _limit(f"an indent of {len(indent):,} characters (at most {MAX_INDENT})")
    elif name in ("striptags", "urlize"):
        if isinstance(value, str) and len(value) > MAX_PATTERN_TEXT:
            raise _limit(f"'|{name}' on over {MAX_PATTERN_TEXT:,} characters")
        for option in ("target", "rel", "extra_schemes"):
            _text_arg(kwargs.get(option), f"the '{option}' of '|urlize'", len(str(value)))
    elif name == "sum":
        start = _argument(given, kwargs, 2, "start")
        if start is not None and not isinstance(start, int | float):
            raise _limit("'|sum' adds numbers only — use '|join' for text")
    elif name == "truncate":
        _text_arg(_argument(given, kwargs, 3, "end"), "the end of '|truncate'", 1)


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Markup | str:
    from jinja2.utils import generate_lorem_ipsum

    for value in (n, min, max):
        if not isinstance(value, int) or value > 200:
            raise _limit("lipsum() with more than 200 words or paragraphs")
    if n > MAX_LIPSUM:
        raise _limit(f"lipsum() with more than {MAX_LIPSUM} paragraphs")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


# ── compiled code: literals and `~` are weighed ───────────────────────────────────────────


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, weighing list, tuple and dict literals and `~` operands."""

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.checked_literal(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment target: `{% for a, b in … %}`
            super().visit_Tuple(node, frame)
            return
        self.write("environment.checked_literal(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.checked_literal(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.checked_text(")
        super().visit_Concat(node, frame)
        self.write(")")


# ── the environment ───────────────────────────────────────────────────────────────────────


def _bounded_concat(pieces: Iterable[str]) -> str:
    """`"".join(pieces)` for a template's output, refused past `RENDER_OUTPUT` characters."""
    parts = list(pieces)
    if sum(map(len, parts)) > RENDER_OUTPUT:
        raise _limit(f"a text of over {RENDER_OUTPUT:,} characters")
    return "".join(parts)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with every size and time bound of this module."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator
    concat = staticmethod(_bounded_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.filters = {
            name: _bounded_filter(name, function) for name, function in self.filters.items()
        }
        self.globals["lipsum"] = _bounded_lipsum

    @staticmethod
    def _finalize(value: Any) -> Any:
        return checked(value, "a printed value")

    def checked_literal(self, value: Any) -> Any:
        return checked(value, "a list or mapping")

    def checked_text(self, value: Any) -> Any:
        return checked(value, "a joined text")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return checked(super().call_binop(context, operator, left, right), "a computed value")

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "__name__", "") == "join" and args:
            args = (_materialized(args[0]), *args[1:])
        _check_method(__obj, args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        return checked(result, "the result of a call")


# ── the watchdog: lines, seconds and memory of one render ─────────────────────────────────


class RenderInterrupted(BaseException):
    """Raised inside a render by the watchdog; a BaseException so no template catches it."""


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


try:
    _PAGE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):
    _PAGE = 4096


@dataclass
class Budget:
    """Steps and seconds shared by many renders (all the injects `gameday validate` renders)."""

    steps: int
    seconds: float


_budget: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextmanager
def shared_budget(steps: int, seconds: float) -> Iterator[Budget]:
    """Within the block, renders together run at most `steps` lines and `seconds` seconds."""
    budget = Budget(steps, seconds)
    token = _budget.set(budget)
    try:
        yield budget
    finally:
        _budget.reset(token)


class Watchdog:
    """Counts the Python lines a render runs, and stops it past its bounds.

    A trace function (`sys.settrace`, this thread only) sees every line of the compiled
    template and of the filters it calls, so a loop that would run for hours is stopped
    after `steps` lines; every so many lines it also looks at the clock and the memory.
    The previous trace function (a debugger's, coverage's) is restored afterwards. Inside
    `shared_budget`, what is left of the budget bounds the render too.
    """

    CHECK_EVERY = 2048

    def __init__(
        self,
        *,
        steps: int = RENDER_STEPS,
        seconds: float = RENDER_SECONDS,
        memory: int = RENDER_MEMORY,
    ) -> None:
        self.steps, self.seconds, self.memory = steps, seconds, memory
        self.count = 0
        self.reason = ""
        self._next_check = self.CHECK_EVERY
        self._deadline = 0.0
        self._baseline = 0
        self._started = 0.0
        self._shared: Budget | None = None
        self._shared_steps = self._shared_seconds = False
        self._previous: Any = None

    def __enter__(self) -> Watchdog:
        self._shared = _budget.get()
        if self._shared is not None:
            self._shared_steps = self._shared.steps < self.steps
            self._shared_seconds = self._shared.seconds < self.seconds
            self.steps = max(0, min(self.steps, self._shared.steps))
            self.seconds = max(0.0, min(self.seconds, self._shared.seconds))
        self._started = time.monotonic()
        self._next_check = min(self.CHECK_EVERY, self.steps + 1)
        self._previous = sys.gettrace()
        self._deadline = self._started + self.seconds
        self._baseline = _resident_bytes()
        sys.settrace(self._trace)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        sys.settrace(self._previous)
        if self._shared is not None:
            self._shared.steps -= self.count
            self._shared.seconds -= time.monotonic() - self._started

    def _trace(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        self.count += 1
        if self.count >= self._next_check:
            self._check()
        return self._trace

    def _check(self) -> None:
        self._next_check = self.count + self.CHECK_EVERY
        together = "ran over the {} all the scenario's templates may take together"
        if self.count > self.steps and self._shared_steps:
            self.reason = together.format("steps")
        elif self.count > self.steps:
            self.reason = f"ran over {self.steps:,} steps"
        elif time.monotonic() > self._deadline and self._shared_seconds:
            self.reason = together.format("time")
        elif time.monotonic() > self._deadline:
            self.reason = f"ran over {self.seconds:g} seconds"
        elif _resident_bytes() - self._baseline > self.memory:
            self.reason = f"used over {self.memory // (1024 * 1024)} MB of memory"
        else:
            return
        self._next_check = self.count + 1  # if the render goes on anyway, stop it again
        raise RenderInterrupted(self.reason)


def guarded(render: Callable[[], Any]) -> Any:
    """Run `render` under a `Watchdog` (which raises `RenderInterrupted` past its bounds)."""
    with Watchdog():
        return render()


def bounded_stream(stream: Iterator[str]) -> list[str]:
    """The pieces of a template's output, refused once they pass `RENDER_OUTPUT` characters."""
    pieces: list[str] = []
    total = 0
    for piece in stream:
        total += len(piece)
        if total > RENDER_OUTPUT:
            raise _limit(f"a text of over {RENDER_OUTPUT:,} characters")
        pieces.append(piece)
    return pieces
