"""The HTML reports as a browser shows them: headless Chromium loads each page from disk,
takes a screenshot, and reports anything the page wrote to the console (a blocked fetch, a
script error). The report pages must render with no console output at all.

Chromium is the Debian `chromium` package; CI installs it. Without it these tests skip on a
developer machine, and fail under CI (env CI set), where it must be there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from needs import not_installed

from gameday.report import load_run, write_reports, write_training_report
from gameday.report.drill import STAGES, CellOutcome, DrillCell, DrillReport, drill_file
from gameday.scenario.model import Scenario

from .runs import T0, careful_run, careless_run, save_run

pytestmark = pytest.mark.slow

# Chromium logs a page's console messages as `[pid:tid:time:LEVEL:CONSOLE:line] "text", source: …`
# (older builds: `CONSOLE(line)`), whatever their level.
CONSOLE_LINE = re.compile(r":CONSOLE[:(]")


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


@pytest.fixture(scope="module")
def browser() -> Callable[..., tuple[str, list[str]]]:
    binary = chromium_path()
    if binary is None:
        not_installed("chromium", "apt-get install chromium")

    def run(page: Path, profile: Path, *mode: str) -> tuple[str, list[str]]:
        """Load `page`; return what Chromium printed and the page's console lines."""
        done = subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                *mode,
                page.as_uri(),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout, [line for line in done.stderr.splitlines() if CONSOLE_LINE.search(line)]

    return run


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, scenario: Scenario) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("browser")
    events, score = careless_run(scenario)
    run_dir = save_run(root, "report-fixture-blue-20260302T123312Z", events, score)
    _keep_a_drill(run_dir)
    write_reports(run_dir, scenario, events, score)
    runs = [
        run_dir,
        save_run(root, "report-fixture-red-20260303T123312Z",
                 *careful_run(scenario, "red", T0 + timedelta(days=1))),
        save_run(root, "report-fixture-blue-20260316T123312Z",
                 *careful_run(scenario, "blue", T0 + timedelta(days=14), speed=1.5)),
    ]  # fmt: skip
    (training,) = (
        p
        for p in write_training_report([load_run(r) for r in runs], root / "training")
        if p.suffix == ".html"
    )
    return {"run": run_dir / "report.html", "training": training}


def _keep_a_drill(run_dir: Path) -> None:
    """The drill a run with a drill phase keeps (a scanner's name is the scenario's text)."""
    outcomes: tuple[CellOutcome, ...] = ("caught", "caught", "missed", "nothing")
    cells = [DrillCell("git-secrets", s, o) for s, o in zip(STAGES, outcomes, strict=True)]
    cells += [DrillCell("<script>alert(2)</script>", s, "skipped", "not installed") for s in STAGES]
    drill_file(run_dir).parent.mkdir(parents=True, exist_ok=True)
    drill_file(run_dir).write_text(json.dumps(DrillReport("dotenv", tuple(cells)).file_json()))


def test_the_console_check_sees_what_a_page_logs(
    browser: Callable[..., tuple[str, list[str]]], tmp_path: Path
) -> None:
    page = tmp_path / "noisy.html"
    page.write_text("<!doctype html><title>noisy</title><script>console.error('boom')</script>")
    _, console = browser(page, tmp_path / "profile", "--dump-dom")
    assert any('"boom"' in line for line in console), console


@pytest.mark.parametrize("name", ["run", "training"])
def test_the_report_renders_with_no_console_output(
    browser: Callable[..., tuple[str, list[str]]],
    pages: dict[str, Path],
    tmp_path: Path,
    name: str,
) -> None:
    shot = tmp_path / f"{name}.png"
    _, console = browser(
        pages[name], tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,2000"
    )
    assert console == []
    assert shot.is_file()
    assert png_size(shot) == (1400, 2000)
    # A blank or unstyled page compresses to a few kilobytes; the report is far richer.
    assert shot.stat().st_size > 60_000


def test_the_run_reports_timeline_is_in_the_rendered_dom(
    browser: Callable[..., tuple[str, list[str]]], pages: dict[str, Path], tmp_path: Path
) -> None:
    dom, console = browser(pages["run"], tmp_path / "profile", "--dump-dom")
    assert console == []
    svg = re.search(r'<svg[^>]*id="timeline"[^>]*>(.*?)</svg>', dom, flags=re.S)
    assert svg is not None, dom[:2000]
    for lane in ("aws", "attacker", "responders", "workload"):
        assert f"lane-{lane}" in svg.group(1)
    assert 'class="detection"' in svg.group(1)
    assert svg.group(1).count('class="step step-') == 9
    drill = dom.split('<h2 id="drill">Detection drill</h2>', 1)[1].split("<h2", 1)[0]
    assert "git-secrets would have refused the commit (pre-commit)." in drill
    assert drill.count("<tr>") == 3  # the heading, and a row per scanner
    assert "SIMULATION — game day exercise" in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "<script" not in dom


def test_the_training_reports_charts_are_in_the_rendered_dom(
    browser: Callable[..., tuple[str, list[str]]], pages: dict[str, Path], tmp_path: Path
) -> None:
    dom, console = browser(pages["training"], tmp_path / "profile", "--dump-dom")
    assert console == []
    assert dom.count('class="step-times-row"') == 9
    assert dom.count('class="trend-team"') == 2


# ── the debrief sections, on a golden run of the seed scenario ──────────────────────────

SHOTS = Path(os.environ.get("GAMEDAY_SHOTS", "/tmp/debrief-shots"))


@pytest.fixture(scope="module")
def hasty_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html as `gameday run` wrote it for the hasty golden team (tests/golden)."""
    from golden.runs import shared_golden_runs

    return shared_golden_runs(tmp_path_factory).get("hasty").run_dir / "report.html"


def webdriver_or_skip(profile: Path) -> Any:
    """Headless Chromium driven by selenium (chromium-driver), or a skip (a failure in CI)."""
    binary = chromium_path()
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
    )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None  # type: ignore[assignment]
    if binary is None or driver is None or webdriver is None:
        not_installed(
            "chromium, chromium-driver or selenium",
            "apt-get install chromium chromium-driver; pip install selenium",
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_the_debrief_sections_show_in_the_browser(hasty_report: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = webdriver_or_skip(tmp_path / "profile")
    try:
        driver.set_window_size(1400, 1200)
        driver.get(hasty_report.as_uri())
        SHOTS.mkdir(parents=True, exist_ok=True)
        shots = {}
        for section_id in ("what-changed", "debrief-guide"):
            section = driver.find_element(By.ID, section_id)
            driver.execute_script("arguments[0].scrollIntoView()", section)
            assert section.is_displayed()
            assert section.size["height"] > 150, section_id
            shots[section_id] = SHOTS / f"hasty-{section_id}.png"
            section.screenshot(str(shots[section_id]))
        changed = driver.find_element(By.ID, "what-changed")
        rows = changed.find_elements(By.CSS_SELECTOR, "table.changes tbody tr")
        assert len(rows) == 2
        first = [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]
        assert first[0].startswith("aws.impact.ec2-mining")
        assert first[1] == "T+6:00"
        assert first[3] in ("T+3:47", "T+2:30")
        assert any("deactivated svc-backup-admin's key" in row.text for row in rows)
        costs = changed.find_elements(By.CSS_SELECTOR, "table.costs tbody tr")
        kinds = [row.find_element(By.TAG_NAME, "td").text.split()[0] for row in costs]
        assert kinds == ["user", "access-key"]
        moments = driver.find_elements(By.CSS_SELECTOR, "#debrief-guide ol.debrief-guide > li")
        assert 5 <= len(moments) <= 8
        for moment in moments:
            assert moment.find_element(By.CSS_SELECTOR, "p.question").text.startswith(
                "Ask the room:"
            )
        assert "The outage" in driver.find_element(By.ID, "debrief-guide").text
        tiles = driver.find_element(By.CSS_SELECTOR, "dl.metrics").text
        assert "Missed" in tiles and "after the first notice" in tiles
        driver.set_window_size(1400, 900)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(SHOTS / "hasty-top.png"))
        steps = driver.find_element(By.CSS_SELECTOR, "table.steps")
        driver.execute_script("arguments[0].scrollIntoView()", steps)
        steps.screenshot(str(SHOTS / "hasty-steps.png"))
        logs = [e for e in driver.get_log("browser") if e.get("level") != "INFO"]
        assert logs == []
    finally:
        driver.quit()
    for shot in shots.values():
        assert png_size(shot)[0] > 600


def test_the_leftovers_cost_shows_in_the_browser(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from golden.runs import shared_golden_runs
    from selenium.webdriver.common.by import By

    page = shared_golden_runs(tmp_path_factory).get("key-only").run_dir / "report.html"
    driver = webdriver_or_skip(tmp_path / "profile")
    try:
        driver.set_window_size(1400, 1200)
        driver.get(page.as_uri())
        section = driver.find_element(By.ID, "what-changed")
        driver.execute_script("arguments[0].scrollIntoView()", section)
        SHOTS.mkdir(parents=True, exist_ok=True)
        section.screenshot(str(SHOTS / "key-only-what-changed.png"))
        rows = section.find_elements(By.CSS_SELECTOR, "table.costs tbody tr")
        priced = [row.text for row in rows if "a day" in row.text]
        assert len(priced) == 8 and all("$588 a day" in text for text in priced)
        callout = section.find_element(By.CSS_SELECTOR, "p.callout").text
        assert callout.startswith("Estimate: about $") and "$4,700 a day" in callout
    finally:
        driver.quit()
