"""Where the project's own folders are: templates/ and scenarios/ beside the package."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "templates"
SCENARIOS = PROJECT_ROOT / "scenarios"
