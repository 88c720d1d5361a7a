"""A registry of named units (report writers, recommendations): ids are unique, lookups of
an unknown id suggest the closest known one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from gameday.errors import UserError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Units of one kind, in the order they were registered."""

    def __init__(self, kind: str, key: Callable[[T], str]) -> None:
        self.kind = kind
        self._key = key
        self._units: dict[str, T] = {}

    def register(self, unit: T) -> T:
        name = self._key(unit)
        if name in self._units:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._units[name] = unit
        return unit

    def get(self, name: str) -> T:
        try:
            return self._units[name]
        except KeyError:
            raise UserError(
                f"unknown {self.kind} '{name}' — {did_you_mean(name, self._units)}"
            ) from None

    def names(self) -> list[str]:
        return list(self._units)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._units.values()))

    def __len__(self) -> int:
        return len(self._units)

    def __contains__(self, name: object) -> bool:
        return name in self._units
