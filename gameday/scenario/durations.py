"""Durations as scenario authors write them: `90s`, `15m`, `1h30m`, `400d`."""

from __future__ import annotations

import math
import re

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
DURATION_PATTERN = r"^(\d+(\.\d+)?[wdhms])+$"


# Longer than anything gameday times (a run, a key's age): past this a duration is a typo,
# and datetime arithmetic with it would overflow. Each field has its own, tighter bound.
LONGEST = 1000 * 365 * 86400.0


def parse_duration(value: object) -> float:
    """Seconds in a duration string (`1h30m`) or a plain number of seconds.

    Always finite, never negative and at most `LONGEST`: `.inf`, `.nan` and `1e308` are
    refused, so time arithmetic with the result cannot overflow or never end.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration — write it like 90s, 15m, 1h30m or 400d")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not a finite duration — write it like 90s or 15m")
        if value < 0:
            raise ValueError(f"{value} is negative — durations count forward from zero")
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"[-+]?\d+(:\d+)+(\.\d*)?", text):
            raise ValueError(f"'{value}' is not a duration — write the units out: {_spelt(text)}")
        if not re.fullmatch(DURATION_PATTERN, text):
            raise ValueError(f"'{value}' is not a duration — write it like 90s, 15m, 1h30m or 400d")
        seconds = math.fsum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    else:
        raise ValueError(f"{value!r} is not a duration — write it like 90s, 15m, 1h30m or 400d")
    if not seconds <= LONGEST:  # also catches inf and nan from a string of many digits
        shown = f"'{value[:40]}'" if isinstance(value, str) else str(value)
        raise ValueError(f"{shown} is longer than any duration gameday uses — shorten it")
    return seconds


def _spelt(clock: str) -> str:
    """How to write a clock-style time (`1:20`, `1:30:00`) as a duration."""
    parts = clock.split(":")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        first, second = (int(p) for p in parts)
        if second < 60:
            return (
                f"{format_duration(first * 60 + second)} for "
                f"{_said(first, 'minute', second, 'second')}, "
                f"{format_duration(first * 3600 + second * 60)} for "
                f"{_said(first, 'hour', second, 'minute')}"
            )
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        hours, minutes, seconds = (int(p) for p in parts)
        if minutes < 60 and seconds < 60:
            spelt = format_duration(hours * 3600 + minutes * 60 + seconds)
            return f"{spelt} for {_said(hours, 'hour', minutes, 'minute', seconds, 'second')}"
    return "1m30s for a minute and a half, 1h30m for an hour and a half"


def _said(*counts: int | str) -> str:
    """`1, 'hour', 30, 'minute'` → `1 hour 30 minutes` (zero parts left out)."""
    words = [
        f"{count} {unit}{'' if count == 1 else 's'}"
        for count, unit in zip(counts[::2], counts[1::2], strict=True)
        if count
    ]
    return " ".join(words) or "no time at all"


def format_duration(seconds: float) -> str:
    """The shortest author-style spelling of a number of seconds (`5400` → `1h30m`)."""
    remaining = round(seconds)
    if remaining == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
