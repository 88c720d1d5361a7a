"""`make bench`: every figure is a measurement set beside a baseline run side by side.

Each module `bench/bench_*.py` exposes `figures() -> Iterable[Figure]`; they run in name
order and print one line each, so the numbers can be pasted into a note as they are.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from bench.common import Figure


def main() -> int:
    here = Path(__file__).parent
    selected = set(sys.argv[1:])
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    print(f"{'figure':58} {'value':>12} {'baseline':>12} {'ratio':>8}")
    for name in names:
        if selected and name.removeprefix("bench_") not in selected:
            continue
        module = importlib.import_module(f"bench.{name}")
        figure: Figure
        for figure in module.figures():
            print(figure.line(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
