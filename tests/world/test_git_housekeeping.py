"""The repositories a run builds: their settings written in one go (`add_config`), and
git's automatic housekeeping off for the framework's own git and the code host's
repository, never for the team's own commands in its clone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from gameday.scenario.model import Scenario
from gameday.world.git import add_config, git_environment, git_text, run_git
from gameday.world.repo import build_repository

from .test_codehost import SCENARIO


def test_add_config_writes_what_git_config_reads_back(tmp_path: Path) -> None:
    run_git(["init", "-q", str(tmp_path / "r")], tmp_path)
    config = tmp_path / "r" / ".git" / "config"
    values = {
        "user.name": ' O\'Brien "Jo" \\ #1; ',
        "user.email": "jo@example.com",
        "branch.release.1.merge": "refs/heads/release.1",
        "branch.release.1.remote": "origin",
        'remote.we"ird.url': "../remote.git",
        "core.comment": "tab\there",
    }
    add_config(config, values)
    for name, value in values.items():
        read = run_git(["config", "--get", name], tmp_path / "r").stdout.decode()
        assert read == value + "\n", name
    with pytest.raises(ValueError, match="cannot be written"):
        add_config(config, {"user.name": "a\0b"})


def test_housekeeping_is_off_for_the_framework_and_the_host_only(tmp_path: Path) -> None:
    scenario = Scenario.model_validate(yaml.safe_load(SCENARIO))
    built = build_repository(scenario, tmp_path / "run", seed=3)
    host = {
        "receive.autogc": "false",
        "gc.auto": "0",
        "maintenance.auto": "false",
        "receive.unpackLimit": "1",
        "fastimport.unpackLimit": "1",
        "uploadpack.allowAnySHA1InWant": "true",
    }
    for name, value in host.items():
        found = subprocess.run(
            ["git", "config", "--file", "config", "--get", name],
            cwd=built.remote, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert found.stdout.strip() == value
    # the team's clone: git's own housekeeping, the developer's identity and upstream
    clone = ["git", "config", "--file", ".git/config", "--get"]
    for name in ("gc.auto", "maintenance.auto"):
        assert subprocess.run([*clone, name], cwd=built.repo, check=False).returncode == 1
    env = git_environment()
    assert not any(k.startswith("GIT_CONFIG_KEY") for k in env)
    assert git_text(["config", "--get", "gc.auto"], built.repo) == "0"  # the framework's own
    assert git_text(["rev-parse", "--abbrev-ref", "@{upstream}"], built.repo) == "origin/main"
    assert git_text(["config", "user.name"], built.repo) == "Jordan Alvarez"
    assert git_text(["rev-parse", "refs/remotes/origin/main"], built.repo) == git_text(
        ["rev-parse", "main"], built.remote
    )
    assert os.listdir(built.remote / "refs" / "tags") == os.listdir(built.repo / ".git/refs/tags")
