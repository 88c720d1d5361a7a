"""The bounded sandbox: a template cannot spin the CPU, fill the memory or flood the output.

Each hostile template must fail fast (well under a second), with a located error that says
which bound it hit, and leave the process about the size it was.
"""

from __future__ import annotations

import resource
import sys
import time

import pytest

from gameday.exercise.injects.rendering import Renderer, RenderError
from gameday.exercise.injects.sandbox import Watchdog, check_binop, shared_budget, weight
from gameday.scenario.limits import RENDER_OUTPUT

LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}"
DOUBLING = (
    "{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}"
)
NESTED_LISTS = (
    "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = [ns.l, ns.l] %}"
    "{% endfor %}{{ ns.l }}"
)
HOSTILE = {
    "nested-range": (LOOP, "steps"),
    "huge-power": ("{{ 9 ** (9 ** 10) }}", "bits"),
    "repeated-text": ("{{ 'A' * 3000000000 }}", "repeating a value"),
    "repeated-list": ("{{ [1] * 3000000000 }}", "repeating a value"),
    "doubling-text": (DOUBLING, "over 1,000,000 characters"),
    "doubling-lists": (NESTED_LISTS, "too much for a template"),
    "doubling-mappings": (NESTED_LISTS.replace("[ns.l, ns.l]", "dict(a=ns.l, b=ns.l)"), "too much"),
    "endless-macro": ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "recurses"),
    "exponential-macro": (
        "{% macro m(n) %}{% if n %}{{ m(n-1) }}{{ m(n-1) }}{% endif %}{% endmacro %}{{ m(40) }}",
        "steps",
    ),
    "center": ("{{ 'a'|center(3000000000) }}", "a width of 3,000,000,000"),
    "percent-width": ("{{ '%3000000000d'|format(1) }}", "%-format width"),
    "percent-star": ("{{ '%*d' % (3000000000, 1) }}", "'*' width"),
    "brace-width": ("{{ '{:>3000000000}'.format('a') }}", "format width"),
    "ljust": ("{{ 'a'.ljust(3000000000) }}", "a width of"),
    "static-text-loop": ("{% for i in range(100000) %}" + "x" * 10000 + "{% endfor %}", "text of"),
    "join-of-references": ("{% set s = 'x' * 1000000 %}{{ ([s] * 1000)|join }}", "over"),
    "replace-everywhere": ("{{ ('a' * 100000).replace('', 'b' * 1000) }}", "replacement"),
    "lipsum": ("{{ lipsum(100000) }}", "lipsum()"),
    "batch": ("{{ [1]|batch(3000000000, 'x')|list }}", "'|batch'"),
    "striptags": ("{{ ('<' * 1000000)|striptags }}", "'|striptags'"),
    "indent": ("{{ ('a\n' * 100000)|indent(10000) }}", "indenting"),
    "tojson-indent": ("{{ [1, [2]]|tojson(indent=100000000) }}", "an indent of"),
    "translate": ("{{ ('a' * 100000).translate({97: 'b' * 100000}) }}", "translating"),
    "expandtabs": ("{{ ('\t' * 100000).expandtabs(100000) }}", "expanding tabs"),
    "wordwrap": ("{{ ('a ' * 100000)|wordwrap(1, wrapstring='x' * 10000) }}", "wrap string"),
    "sum-of-lists": ("{{ ([[1]] * 100000)|sum(start=[]) }}", "too much"),
    "deep-parentheses": ("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}", "nests too deeply"),
}


def peak_mb() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // (1024 * 1024) if sys.platform == "darwin" else peak // 1024


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_template_is_stopped_fast_with_the_bound_it_hit(name: str) -> None:
    source, expected = HOSTILE[name]
    before = peak_mb()
    started = time.monotonic()
    with pytest.raises(RenderError) as caught:
        Renderer().render_string(source, {}, what="inject 'x' text")
    assert time.monotonic() - started < 3
    assert peak_mb() - before < 200
    message = str(caught.value)
    assert message.startswith("inject 'x' text"), message
    assert expected in message, message
    assert " — " in message
    assert caught.value.source == source


def test_a_hostile_template_file_names_its_file_and_line(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path)) / "templates" / "emails"
    folder.mkdir(parents=True)
    (folder / "slow.txt.j2").write_text("{% set subject = 'x' %}\nline\n" + LOOP + "\n")
    with pytest.raises(RenderError, match=r"slow\.txt\.j2:3: too much for a template") as caught:
        Renderer(folder.parent).render("emails/slow.txt.j2", {})
    assert caught.value.template == "emails/slow.txt.j2"


def test_python_errors_in_expressions_are_template_mistakes() -> None:
    for source, text in (
        ("{{ 1 / 0 }}", "division by zero"),
        ("{{ 'a' - 1 }}", "unsupported operand"),
        ("{{ [1][5] }}", "has no element 5"),
    ):
        with pytest.raises(RenderError, match=text):
            Renderer().render_string(source, {}, what="inject 'x' text")


def test_ordinary_templates_still_render() -> None:
    source = (
        "{% set ns = namespace(n=0) %}{% for r in regions %}{% set ns.n = ns.n + 1 %}"
        "{{ r|upper }}{{ ', ' if not loop.last }}{% endfor %} ({{ ns.n }}) "
        "{{ '%-6s|' % 'ab' }}{{ '{:>4}'.format(7) }} {{ 'x' * 3 }} {{ 2 ** 10 }} "
        "{{ [1, 2] + [3] }} {{ {'a': 1}|tojson }} {{ 'a b'|center(7) }}"
    )
    text = Renderer().render_string(source, {"regions": ["eu-west-1", "us-east-1"]}, what="t")
    assert text == ('EU-WEST-1, US-EAST-1 (2) ab    |   7 xxx 1024 [1, 2, 3] {"a": 1}   a b  ')


def test_weight_counts_shared_references_each_time() -> None:
    text = "x" * 1000
    assert weight([text] * 10) == 1 + 10 * 1000
    nested: list[object] = [1]
    for _ in range(40):
        nested = [nested, nested]
    assert weight(nested) > RENDER_OUTPUT  # stops counting, never walks 2**40 items


def test_binary_operators_are_checked_before_they_run() -> None:
    check_binop("*", "ab", 3)
    check_binop("**", 2, 100)
    with pytest.raises(Exception, match="bits"):
        check_binop("**", 10, 10**6)
    with pytest.raises(Exception, match="repeating"):
        check_binop("*", 10**7, "ab")


def test_the_watchdog_restores_the_previous_trace_function() -> None:
    def tracer(*args: object) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with Watchdog(steps=10**6):
            sum(range(10))
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


def test_renders_in_a_shared_budget_stop_once_it_is_spent() -> None:
    renderer = Renderer()
    with shared_budget(steps=500_000, seconds=30) as budget:
        for expected in ("ran over 400,000 steps", "all the scenario's templates"):
            with pytest.raises(RenderError, match=expected):
                renderer.render_string(LOOP, {}, what="t")
        assert budget.steps < 0
        with pytest.raises(RenderError, match="all the scenario's templates"):
            renderer.render_string("{{ 1 }}", {}, what="t")
    assert renderer.render_string("{{ 1 }}", {}, what="t") == "1"  # outside, a fresh bound
