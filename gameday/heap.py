"""The cycle collector's permanent generation, as the framework uses it.

What lives as long as a process (moto's modules, a warmed mock, a prepared copy's heap) is
frozen out of the collector's full passes, which would otherwise walk it again and again.
A run thaws at its end only what it froze itself: a heap frozen before it (a warm-start
worker's, a zygote's) stays frozen. `gc.get_freeze_count()` answers the same question by
walking the whole permanent generation — tens of milliseconds on a warm process — so the
framework freezes through here and remembers.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze() -> None:
    """Move everything the collector tracks now to the permanent generation."""
    global _frozen
    gc.freeze()
    _frozen = True


def unfreeze() -> None:
    """Give the permanent generation back to the collector."""
    global _frozen
    gc.unfreeze()
    _frozen = False


def frozen() -> bool:
    """Whether this process (or the one it was forked from) froze its heap through here."""
    return _frozen
