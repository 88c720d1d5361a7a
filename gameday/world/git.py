"""git for the decoy repository and its code host, isolated from the machine's configuration."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

from gameday.errors import UserError


def git_environment() -> dict[str, str]:
    """The environment git runs in: no system or global config, no inherited GIT_* state.

    A caller's GIT_DIR (set when tests run inside a hook) or a developer's global hooks,
    signing and templates would otherwise change what gets built or where.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
    )
    return env


def run_git(
    args: list[str],
    cwd: Path,
    *,
    stdin: bytes | None = None,
    check: bool = True,
    at: datetime | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """`git ARGS` in `cwd`; `at` dates what git writes of its own (reflog entries, a commit
    it makes) on the run clock instead of the wall clock."""
    env = git_environment()
    if at is not None:
        stamp = f"@{int(at.timestamp())} +0000"
        env.update(GIT_COMMITTER_DATE=stamp, GIT_AUTHOR_DATE=stamp)
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=stdin,
            env=env,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as error:
        raise UserError("git is not installed (or not on PATH) — install git first") from error
    if check and result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"git {args[0]} failed in {cwd}: {message}")
    return result


def git_text(args: list[str], cwd: Path) -> str:
    return run_git(args, cwd).stdout.decode().strip()
