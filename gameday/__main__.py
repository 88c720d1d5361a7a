"""`python -m gameday` is the `gameday` command."""

from __future__ import annotations

from gameday.cli import entry

entry()
