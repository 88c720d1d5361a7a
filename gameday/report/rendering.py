"""The Jinja environments the report templates (templates/report/) render in.

Both are sandboxed with strict undefined: scenario text and journal text are data, never
code. The HTML environment autoescapes; the Markdown environment escapes every `{{ … }}`
value for Markdown through `finalize`, so a note containing `|` or `<script>` cannot break
a table or inject markup into a wiki page. Filters that build Markdown on purpose (`code`)
return `MarkdownText`, which is left as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from gameday.paths import TEMPLATES
from gameday.report import formatting

REPORT_TEMPLATES = TEMPLATES / "report"

# Characters that mean something anywhere in a line; block markers (`#`, `-`, `1.` …) only
# mean something at its start, which `escape_markdown` handles apart.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_BLOCK_START = re.compile(r"^(\d{1,9}(?=[.)](\s|$))|[-+#=*_]+(?=\s|$))")
_CODE_SPAN = re.compile(r"`([^`]+)`")


class MarkdownText(str):
    """Markdown written on purpose by a filter: not escaped again."""


def escape_markdown(value: object) -> MarkdownText:
    """Text as Markdown that shows it literally, on one line (so it fits a table cell)."""
    if isinstance(value, MarkdownText):
        return value
    return MarkdownText(_escape_line_start(_escape_inline(_one_line(str(value)))))


def _one_line(text: str) -> str:
    # Runs of whitespace (newlines included) become one space; edges are kept, so a
    # separator like ", " survives.
    return re.sub(r"\s+", " ", text)


def _escape_inline(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _escape_line_start(text: str) -> str:
    marker = _BLOCK_START.match(text)
    if marker and marker.group(0).isdigit():
        return f"{marker.group(0)}\\{text[marker.end() :]}"  # "1. x" → "1\. x"
    if marker:
        return f"\\{text}"
    return text


def code(value: object) -> MarkdownText:
    """An inline code span, fenced with more backticks than the text contains."""
    text = _one_line(str(value)).strip().replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return MarkdownText(f"{fence}{padded}{fence}")


def _pieces(text: str) -> list[tuple[bool, str]]:
    """Text split into (is code, piece) around its `backtick` spans."""
    pieces: list[tuple[bool, str]] = []
    for index, piece in enumerate(_CODE_SPAN.split(text)):
        if piece:
            pieces.append((index % 2 == 1, piece))
    return pieces


def richtext_html(value: object) -> Markup:
    """Prose whose `backtick` spans are code: escaped, with the spans as <code>."""
    return Markup("").join(
        Markup("<code>{}</code>").format(piece) if is_code else escape(piece)
        for is_code, piece in _pieces(str(value))
    )


def richtext_markdown(value: object) -> MarkdownText:
    """Prose whose `backtick` spans are code: escaped for Markdown, spans kept as code."""
    pieces = _pieces(_one_line(str(value)).strip())
    text = "".join(code(piece) if is_code else _escape_inline(piece) for is_code, piece in pieces)
    return MarkdownText(_escape_line_start(text))


def _finalize_markdown(value: Any) -> Any:
    if isinstance(value, MarkdownText | int | float):
        return value
    return escape_markdown(value)


def _environment(*, markdown: bool) -> SandboxedEnvironment:
    environment = SandboxedEnvironment(
        loader=FileSystemLoader(REPORT_TEMPLATES),
        undefined=StrictUndefined,
        autoescape=not markdown,
        finalize=_finalize_markdown if markdown else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        clock=formatting.clock,
        span=formatting.span,
        points=formatting.points,
        moment=formatting.moment,
        day=formatting.day,
        usd=formatting.usd,
        after_notice=formatting.after_notice,
        minutes=formatting.minutes,
    )
    if markdown:
        environment.filters.update(code=code, richtext=richtext_markdown)
    else:
        environment.filters["richtext"] = richtext_html
    return environment


@lru_cache(maxsize=2)
def environment(markdown: bool = False) -> SandboxedEnvironment:
    return _environment(markdown=markdown)


def render(template: str, **context: Any) -> str:
    """Render one template of templates/report/; `.md.j2` templates render as Markdown."""
    return (
        environment(markdown=template.endswith(".md.j2")).get_template(template).render(**context)
    )
