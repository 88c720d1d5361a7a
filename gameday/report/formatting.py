"""How the reports write times, durations and points — one spelling for every format."""

from __future__ import annotations

from datetime import datetime

from gameday.scoring.moments import run_time

MISSING = "—"


def clock(t: float | None) -> str:
    """A moment on the run clock, counted from T0 (the push): `T+4:05`, `T+1:02:03`,
    `T+2d 03:04:05` (a run lasts up to a week)."""
    if t is None:
        return MISSING
    return run_time(t)


def span(seconds: float | None) -> str:
    """A length of time for people: `45s`, `12m 5s`, `1h 30m`, `2d 4h`."""
    if seconds is None:
        return MISSING
    total = round(abs(seconds))
    sign = "-" if seconds < 0 and total else ""
    if total < 60:
        return f"{sign}{total}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h" if hours else f"{sign}{days}d"
    if hours:
        return f"{sign}{hours}h {minutes}m" if minutes else f"{sign}{hours}h"
    return f"{sign}{minutes}m {secs}s" if secs else f"{sign}{minutes}m"


def points(value: float) -> str:
    """Points with at most one decimal, and none when whole: `20`, `12.5`."""
    rounded = round(value, 1)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.1f}"


def moment(value: datetime | None) -> str:
    """A UTC time of day and date: `2026-03-02 12:34:19 UTC`."""
    if value is None:
        return MISSING
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def day(value: datetime | None) -> str:
    if value is None:
        return MISSING
    return value.strftime("%Y-%m-%d")


def after_notice(seconds: float | None) -> str:
    """A time counted from detection, said so: `10 min after the first notice`,
    `3 min 20 s after the first notice`, `1 h 50 min after the first notice`."""
    if seconds is None:
        return MISSING
    return f"{minutes(seconds)} after the first notice"


def minutes(seconds: float) -> str:
    """A length of time in words that cannot be mistaken for bare seconds: `40 s`, `10 min`,
    `3 min 20 s`, `1 h 50 min`, `2 d 4 h`."""
    total = round(abs(seconds))
    sign = "-" if seconds < 0 and total else ""
    if total < 60:
        return f"{sign}{total} s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h" if hours else f"{sign}{days} d"
    if hours:
        return f"{sign}{hours} h {mins} min" if mins else f"{sign}{hours} h"
    return f"{sign}{mins} min {secs} s" if secs else f"{sign}{mins} min"


def usd(value: float | None, cents: bool = False) -> str:
    """An amount of US dollars: `$587`, `$46.51` with cents, `$4,700`."""
    if value is None:
        return MISSING
    return f"${value:,.2f}" if cents else f"${value:,.0f}"
