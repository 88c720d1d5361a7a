"""PDF reports: the HTML report printed by headless Chromium, so a facilitator can mail it.

The PDF is the same page as report.html (or training.html) — one template, one content —
printed with Chromium's own print engine (`--headless --print-to-pdf`), in a throwaway
profile so two prints at once never share state. Nothing is fetched: the page is
self-contained and its Content-Security-Policy refuses the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from gameday.errors import UserError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_VARIABLE = "GAMEDAY_CHROMIUM"
PRINT_TIMEOUT_S = 120


def find_browser() -> str:
    """The Chromium to print with: $GAMEDAY_CHROMIUM, else the first of BROWSERS on PATH."""
    given = os.environ.get(BROWSER_VARIABLE)
    if given:
        return given
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise UserError(
        "--pdf needs headless Chromium and none was found — install it (Debian/Ubuntu: "
        f"apt-get install chromium) or name it in {BROWSER_VARIABLE}"
    )


def print_pdf(html: Path, pdf: Path, browser: str | None = None) -> Path:
    """Print the HTML file `html` to `pdf` with headless Chromium; the PDF's path."""
    command = browser or find_browser()
    pdf.parent.mkdir(parents=True, exist_ok=True)
    partial = pdf.with_name(f".{pdf.name}.partial")
    with tempfile.TemporaryDirectory(prefix="gameday-pdf-") as profile:
        try:
            done = subprocess.run(
                [
                    command,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-pdf-header-footer",
                    f"--user-data-dir={profile}",
                    f"--print-to-pdf={partial}",
                    html.resolve().as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=PRINT_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError:
            raise UserError(f"{command}: no such browser — set {BROWSER_VARIABLE}") from None
        except subprocess.TimeoutExpired:
            raise UserError(f"{command} did not print {html} in {PRINT_TIMEOUT_S} s") from None
    if not partial.is_file() or partial.read_bytes()[:5] != b"%PDF-":
        partial.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"{command} could not print {html} to PDF: {last}")
    os.replace(partial, pdf)
    return pdf
