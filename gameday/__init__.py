"""gameday: incident-response game days for leaked AWS credentials, run offline."""

from __future__ import annotations

__version__ = "0.1.0"
