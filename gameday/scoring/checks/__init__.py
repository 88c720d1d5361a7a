"""Check types: one module each, registered by the `type` name scenarios give them.

Importing this package imports every module beside `registry`, so a new module is a new
check type with nothing else to edit; a test holds the registry and the scenario model's
`Check` union to the same set of names.
"""

from __future__ import annotations

import importlib
import pkgutil

from gameday.scoring.checks.registry import (
    CHECKS,
    STEPS_TOPIC,
    CheckType,
    Registry,
    UnknownCheckError,
    Verdict,
    model_check_types,
    register,
)

__all__ = [
    "CHECKS",
    "STEPS_TOPIC",
    "CheckType",
    "Registry",
    "UnknownCheckError",
    "Verdict",
    "model_check_types",
    "register",
]

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")
