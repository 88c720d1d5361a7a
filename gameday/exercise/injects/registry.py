"""The registry of inject channels: inject type name → `Channel`.

Each channel module registers its one record when imported; the package imports them all.
The catalogue in docs/injects.md is generated from this registry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gameday.errors import UserError, did_you_mean
from gameday.exercise.injects.base import Channel

AnyChannel = Channel[Any, Any]


class Registry:
    """Channels by inject type; duplicates are refused, unknown names get a suggestion."""

    def __init__(self) -> None:
        self._channels: dict[str, AnyChannel] = {}

    def register(self, channel: AnyChannel) -> AnyChannel:
        if channel.type in self._channels:
            raise ValueError(f"inject type '{channel.type}' is already registered")
        self._channels[channel.type] = channel
        return channel

    def get(self, name: str) -> AnyChannel:
        try:
            return self._channels[name]
        except KeyError:
            raise UserError(
                f"unknown inject type '{name}' — {did_you_mean(name, self._channels)}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._channels)

    def __contains__(self, name: object) -> bool:
        return name in self._channels

    def __iter__(self) -> Iterator[AnyChannel]:
        return iter(sorted(self._channels.values(), key=lambda c: c.type))

    def catalogue(self) -> str:
        """The Markdown catalogue of channels, as docs/injects.md embeds it."""
        lines = ["| type | what happens | `data` it reveals | default template |",
                 "|---|---|---|---|"]  # fmt: skip
        for channel in self:
            reveals = ", ".join(f"`{key}`" for key in channel.reveals)
            template = f"`{channel.template}`" if channel.template else "—"
            lines.append(f"| `{channel.type}` | {channel.summary} | {reveals} | {template} |")
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
