"""`python -m gameday` is the `gameday` command."""

from __future__ import annotations

from gameday.launch import entry

entry()
