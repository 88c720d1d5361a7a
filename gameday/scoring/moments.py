"""How a moment on the run clock is written in prose: `T+4:05` counted from T0, the push.

The scorer's reasons and every report say a moment the same way, so a reason quoted in a
report never mixes bare seconds with the report's own times. Lengths of time (`12m 5s`) and
targets ("10 min after the first notice") are the reports' business
(gameday.report.formatting).
"""

from __future__ import annotations


def run_time(t: float) -> str:
    """`T+4:05`, `T+1:02:03`, `T+2d 03:04:05` (a run lasts up to a week); `T-0:30` before T0."""
    sign = "-" if t < 0 else "+"
    total = round(abs(t))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"T{sign}{days}d {hours:02d}:{minutes:02d}:{seconds:02d}"
    if hours:
        return f"T{sign}{hours}:{minutes:02d}:{seconds:02d}"
    return f"T{sign}{minutes}:{seconds:02d}"
