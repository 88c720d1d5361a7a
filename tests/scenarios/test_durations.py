"""Durations as authors write them: parsing, formatting, and the schema pattern agreeing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.scenario.durations import (
    DURATION_PATTERN,
    LONGEST,
    format_duration,
    parse_duration,
)

UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h30m", 5400),
        ("400d", 400 * 86400),
        ("2w", 14 * 86400),
        ("1.5h", 5400),
        ("0s", 0),
        ("1h 30m", 5400),
        ("  45m ", 2700),
        ("1m1m", 120),
        ("30s1h", 3630),
    ],
)
def test_parse_duration_reads_author_spellings(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("number", [0, 90, 3600.5])
def test_a_plain_number_is_seconds(number: float) -> None:
    assert parse_duration(number) == float(number)


@pytest.mark.parametrize(
    ("value", "starts"),
    [
        ("2 hours", "'2 hours' is not a duration"),
        ("-5m", "'-5m' is not a duration"),
        ("5x", "'5x' is not a duration"),
        ("1h30", "'1h30' is not a duration"),
        ("", "'' is not a duration"),
        ("m", "'m' is not a duration"),
        ("1:30", "'1:30' is not a duration"),
        (-5, "-5 is negative"),
        (True, "True is not a duration"),
        (None, "None is not a duration"),
        ([90], "[90] is not a duration"),
    ],
)
def test_parse_duration_rejects_with_a_hint(value: object, starts: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    message = str(caught.value)
    assert message.startswith(starts)
    assert " — " in message  # every message says how to fix it


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (5400, "1h30m"),
        (7200, "2h"),
        (86400, "1d"),
        (90061, "1d1h1m1s"),
        (14 * 86400, "14d"),
        (89.6, "1m30s"),
    ],
)
def test_format_duration_is_the_shortest_spelling(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10 * 365 * 86400))
def test_format_then_parse_is_the_identity_on_whole_seconds(seconds: int) -> None:
    text = format_duration(seconds)
    assert re.fullmatch(DURATION_PATTERN, text)
    assert parse_duration(text) == seconds


@given(st.integers(min_value=0, max_value=10 * 365 * 86400))
def test_format_duration_uses_each_unit_once_largest_first(seconds: int) -> None:
    units = re.findall(r"[a-z]", format_duration(seconds))
    assert units == sorted(units, key="dhms".index)
    assert len(units) == len(set(units))


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1))
def test_parse_duration_sums_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{count}{unit}" for count, unit in parts)
    total = sum(count * UNITS[unit] for count, unit in parts)
    if total <= LONGEST:
        assert parse_duration(text) == total
    else:
        with pytest.raises(ValueError, match="longer than any duration"):
            parse_duration(text)


@given(st.text(max_size=20))
def test_parse_duration_accepts_exactly_what_the_schema_pattern_accepts(text: str) -> None:
    # editors check against DURATION_PATTERN; the loader must agree with them (spaces aside)
    squeezed = text.strip().replace(" ", "")
    try:
        seconds = parse_duration(text)
    except ValueError as error:
        assert not re.fullmatch(DURATION_PATTERN, squeezed) or "longer than any" in str(error)
    else:
        assert re.fullmatch(DURATION_PATTERN, squeezed)
        assert seconds >= 0


@settings(max_examples=40, deadline=None)
@given(st.from_regex(DURATION_PATTERN, fullmatch=True))
def test_every_string_the_pattern_allows_parses(text: str) -> None:
    try:
        assert 0 <= parse_duration(text) <= LONGEST
    except ValueError as error:
        assert "longer than any duration gameday uses" in str(error)


@pytest.mark.parametrize(
    "value",
    [float("inf"), float("nan"), 1e308, "9" * 400 + "d", "99999999999999999999w", -1e-9],
)
def test_a_duration_is_finite_and_bounded(value: object) -> None:
    with pytest.raises(ValueError, match=" — "):
        parse_duration(value)


@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_format_duration_rounds_to_the_nearest_second(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == round(seconds)


@pytest.mark.parametrize(
    "typed, hint",
    [
        ("1:20", "1m20s for 1 minute 20 seconds, 1h20m for 1 hour 20 minutes"),
        ("0:45", "45s for 45 seconds, 45m for 45 minutes"),
        ("2:00:30", "2h30s for 2 hours 30 seconds"),
        ("1:75", "1m30s for a minute and a half, 1h30m for an hour and a half"),
    ],
)
def test_a_clock_time_gets_its_own_spelling_as_a_hint(typed: str, hint: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(typed)
    assert str(caught.value) == f"'{typed}' is not a duration — write the units out: {hint}"
