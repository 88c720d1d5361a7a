"""Fixtures shared by the whole suite: the seed scenario and one warm mock AWS account.

Starting the mock (moto behind the gateway, managed policies loaded, backends warmed) takes
seconds, so each test process starts it once (`mock_server`) and every test that needs it
gets it emptied and re-bootstrapped on its own clock and journal (`mock_account`); other
moto servers in the process keep their state. The process keeps its mock warm between runs
(`keep_warm`), so a run played in-process without an account of its own — `gameday`
invoked in this process, a deep validation — takes the same mock instead of starting one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.pathlib import LOCK_TIMEOUT, cleanup_numbered_dir

from gameday import warm_start
from gameday.exercise import runbook_zygote
from gameday.journal import FixedClock, Journal
from gameday.paths import SCENARIOS
from gameday.scenario import Scenario, load_scenario
from gameday.world import service_models
from gameday.world.account import MockAccount, acquire_mock, keep_warm, release_mock
from gameday.world.estate import SeededEstate, seed_estate

SEED_SCENARIO = SCENARIOS / "exported-keys-in-script.yaml"
SEED = 7

# pytest rewrites each test module's asserts as it imports it, in every worker, and keeps the
# result in __pycache__ (tagged "-pytest-") unless bytecode writing is off: where
# PYTHONDONTWRITEBYTECODE is set, every worker of every run rewrote them all again (≈4 s of
# processor time each). The suite's own processes keep them, as `make bytecode` keeps the
# package's; the processes the tests start inherit the environment as it is.
sys.dont_write_bytecode = False


# ── the suite's warm start ────────────────────────────────────────────────────────────────
#
# A `gameday run --clock virtual` the tests start as a subprocess is served as a user's is:
# by a warm-start server (gameday/warm_start.py), forked ready to play rather than importing
# and warming a mock of its own (≈2 s of processor time against ≈5 s for the seed scenario
# with the reference runbook, measured on the machine as a whole). The server is the
# suite's, not the user's: the controller starts it in a cache folder of the session's
# (sharing the user's service models, which it only reads), every worker inherits that
# folder in its environment, and the controller stops the servers in it and removes it when
# the session ends. tests/test_warm_start.py holds a served run to the run a fresh process
# plays, with servers of its own. `GAMEDAY_WARM_START=off` in the caller's environment keeps
# every run in a process of its own.

_SUITE_WARM = pytest.StashKey[Path]()
_SUITE_IDLE_S = "300"  # a session killed before its end leaves servers that end by themselves


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: its environment is the controller's, set below
    started = _start_suite_warm_start()
    if started is not None:
        config.stash[_SUITE_WARM] = started


def _start_suite_warm_start() -> Path | None:
    if not warm_start.enabled():
        return None
    models = service_models.cache_folder()
    root = Path(tempfile.mkdtemp(prefix="gdsuite-", dir="/tmp"))
    if models is not None and models.parent.is_dir():
        (root / "service-models").symlink_to(models.parent, target_is_directory=True)
    os.environ[warm_start.CACHE_VARIABLE] = str(root)
    os.environ[warm_start.IDLE_VARIABLE] = _SUITE_IDLE_S
    if not warm_start.spawn(warm_start.place()):
        os.environ[warm_start.SWITCH_VARIABLE] = "off"
        shutil.rmtree(root, ignore_errors=True)
        return None
    return root


_EARLY_CLEANUP = pytest.StashKey[threading.Thread]()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove the sessions' temporary folders pytest would remove once this one is over, now.

    pytest keeps the last `tmp_path_retention_count` sessions' folders and removes the older
    ones as the session ends: a whole suite's folder (tens of thousands of files: clones,
    runs, reports) takes seconds of disk waits, with every test done and both cores idle.
    The same cleanup (pytest's own, with its locks), in a thread while the tests run, finds
    them gone by then.
    """
    config = session.config
    if hasattr(config, "workerinput") or config.option.basetemp:
        return  # a worker's folder is in the session's; a --basetemp is the user's to keep
    basetemp = session.config._tmp_path_factory.getbasetemp()
    keep = int(config.getini("tmp_path_retention_count"))
    if config.getini("tmp_path_retention_policy") == "none":
        keep = 0
    stale_before = basetemp.stat().st_mtime - LOCK_TIMEOUT
    cleanup = threading.Thread(
        target=cleanup_numbered_dir,
        args=(basetemp.parent, "pytest-", keep, stale_before),
        name="old tmp_path folders",
        daemon=True,
    )
    cleanup.start()
    config.stash[_EARLY_CLEANUP] = cleanup


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    cleanup = session.config.stash.get(_EARLY_CLEANUP, None)
    if cleanup is not None:
        cleanup.join()


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # a pytest-xdist worker, its tests done and reported
        atexit.register(_exit_without_freeing_the_heap)
    root = config.stash.get(_SUITE_WARM, None)
    if root is not None:
        # the suite's server, and any a test's run started in the folder (another
        # environment is another server: `HOME` or `PYTHON*` set for the test, say)
        for where, _ in warm_start.servers():
            warm_start.stop(where)
        shutil.rmtree(root, ignore_errors=True)


def _exit_without_freeing_the_heap() -> None:
    """End a test process as the interpreter would, but for its heap's teardown.

    A worker that has played hundreds of tests holds millions of objects (moto's backends,
    journals, scenarios); the interpreter's exit frees them one by one, seconds during which
    `pytest -n` waits for the worker and the other core is idle. Registered last, this runs
    first: it runs the other exit handlers (a zygote's stop, a kept mock's), flushes the
    streams and ends the process as the heap stands.
    """
    atexit.unregister(_exit_without_freeing_the_heap)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@pytest.fixture(scope="session")
def seed_scenario() -> Scenario:
    """The library's seed scenario (an enterprise-support account with a rich estate)."""
    return load_scenario(SEED_SCENARIO)


@pytest.fixture(scope="session", autouse=True)
def _kept_mock() -> Iterator[None]:
    keep_warm(True)
    # a test process plays run after run, as a pool's worker does
    runbook_zygote.expect_many_runs()
    try:
        yield
    finally:
        keep_warm(False)


@pytest.fixture(scope="session")
def mock_server(seed_scenario: Scenario) -> MockAccount:
    """One warm mock account per test process; use `mock_account` for a clean one.

    It is the process's kept mock (`keep_warm`): a run played in this process without an
    account of its own — `gameday` invoked in-process, a deep validation — takes it too,
    rather than starting and warming another.
    """
    account = acquire_mock(
        seed_scenario.account.id,
        FixedClock(),
        regions=seed_scenario.account.regions,
        support_plan=seed_scenario.account.support_plan,
        seed=SEED,
    )
    release_mock(account)
    return account


@pytest.fixture
def run_clock() -> FixedClock:
    """A clock standing at T0; a test moves it by setting `.t`."""
    return FixedClock()


@pytest.fixture
def journal(tmp_path: Path, run_clock: FixedClock) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.jsonl", run_clock, durable=False) as opened:
        yield opened


@pytest.fixture
def mock_account(
    mock_server: MockAccount, seed_scenario: Scenario, run_clock: FixedClock, journal: Journal
) -> MockAccount:
    """The shared mock, emptied, on this test's clock and journal, with only its principals."""
    mock_server.reset(
        clock=run_clock,
        journal=journal,
        account_id=seed_scenario.account.id,
        regions=seed_scenario.account.regions,
        support_plan=seed_scenario.account.support_plan,
        seed=SEED,
    )
    return mock_server


@pytest.fixture
def estate(mock_account: MockAccount, seed_scenario: Scenario) -> SeededEstate:
    """The seed scenario's estate, seeded into the clean mock account."""
    return seed_estate(mock_account, seed_scenario, seed=SEED)
