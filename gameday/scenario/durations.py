"""Durations as scenario authors write them: `90s`, `15m`, `1h30m`, `400d`."""

from __future__ import annotations

import re

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
DURATION_PATTERN = r"^(\d+(\.\d+)?[wdhms])+$"


def parse_duration(value: object) -> float:
    """Seconds in a duration string (`1h30m`) or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration — write it like 90s, 15m, 1h30m or 400d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value} is negative — durations count forward from zero")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration — write it like 90s, 15m, 1h30m or 400d")
    text = value.strip().replace(" ", "")
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"'{value}' is not a duration — write it like 90s, 15m, 1h30m or 400d")
    return float(sum(float(n) * _UNITS[u] for n, u in _PART.findall(text)))


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
