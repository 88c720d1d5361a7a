"""Shared pieces of the benchmarks: figures, and timing two things side by side."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One measured value, with the baseline it is compared against (None: no baseline)."""

    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""

    def line(self) -> str:
        value = f"{self.value:.4g} {self.unit}"
        if self.baseline is None:
            return f"{self.name:58} {value:>12} {'':>12} {'':>8}"
        base = f"{self.baseline:.4g} {self.unit}"
        ratio = self.value / self.baseline if self.baseline else float("inf")
        return f"{self.name:58} {value:>12} {base:>12} {ratio:>7.3g}x  (vs {self.baseline_name})"


def interleaved(
    subject: Callable[[], object], baseline: Callable[[], object], rounds: int
) -> tuple[float, float]:
    """Median seconds of `subject` and `baseline`, run alternately so noise hits both alike."""
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        for run, times in ((subject, ours), (baseline, theirs)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)
