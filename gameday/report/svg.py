"""Writing SVG by hand, safely: every text and attribute value is escaped on the way in.

Charts in the reports are inline SVG built from small elements; going through `element`
means a scenario title or a journal note can never break out of the markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup, escape

# Also the stack the HTML page uses, so text measures the same inside and outside the charts.
FONT = "'Segoe UI', 'Helvetica Neue', Arial, 'Liberation Sans', 'DejaVu Sans', sans-serif"
CHAR_WIDTH = 0.6  # of the font size: a generous average, so estimated labels rarely overlap

Child = Markup | str


def element(name: str, /, *children: Child | Iterable[Child], **attributes: object) -> Markup:
    """`<name attr="…">children</name>`; a str child is text, a Markup child is markup.

    Attribute names are written Python-style: `class_` → `class`, `font_size` → `font-size`;
    None and False leave the attribute out.
    """
    attrs = "".join(
        f' {_attribute_name(key)}="{escape(_value(value))}"'
        for key, value in attributes.items()
        if value is not None and value is not False
    )
    body = Markup("").join(_flatten(children))
    if not body:
        return Markup(f"<{name}{attrs}/>")
    return Markup(f"<{name}{attrs}>") + body + Markup(f"</{name}>")


def group(*children: Child | Iterable[Child], **attributes: object) -> Markup:
    return element("g", *children, **attributes)


def text_width(text: str, size: float) -> float:
    """An estimate of how wide `text` is drawn at font size `size`."""
    return len(text) * size * CHAR_WIDTH


def svg(
    *children: Child | Iterable[Child],
    width: float,
    height: float,
    title: str,
    **attributes: object,
) -> Markup:
    """A whole SVG picture that scales to its container's width."""
    return element(
        "svg",
        element("title", title),
        *children,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {_value(width)} {_value(height)}",
        role="img",
        font_family=FONT,
        preserveAspectRatio="xMinYMin meet",
        **attributes,
    )


def _flatten(children: Iterable[Child | Iterable[Child]]) -> Iterable[Markup]:
    for child in children:
        if isinstance(child, str):  # Markup is a str: kept as is; plain text is escaped
            yield escape(child)
        else:
            yield from _flatten(child)


def _attribute_name(key: str) -> str:
    return key.rstrip("_").replace("_", "-")


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return str(value)
