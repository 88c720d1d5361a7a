"""git for the decoy repository and its code host, isolated from the machine's configuration."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
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


# The framework's own git does no housekeeping of its own accord. Left to itself, git starts
# `gc --auto` or `maintenance run --auto` after a command that writes: a few processes each
# time, which pack or repack nothing a run looks at. These settings travel in the
# environment of the framework's own commands only (`run_git`), not in `git_environment`,
# which the drill's scanners also run with: a responder's git, in the team's clone, keeps
# git's usual behaviour. Git drops them when it starts the other side of a push to a
# repository on disk (`receive-pack` runs with the remote's own configuration), so the code
# host's repository carries its own (`HOST_CONFIG`).
QUIET_HOUSEKEEPING = {"gc.auto": "0", "maintenance.auto": "false"}

# A code host's repository: it repacks and prunes when its operators say (a support purge),
# never because a push happened to bring the count of packs over a threshold.
HOST_CONFIG = {"receive.autogc": "false", **QUIET_HOUSEKEEPING}


def _config_value(value: str) -> str:
    """A value as `git config` writes it: quoted when whitespace at an end, a comment
    character, a quote or a backslash would otherwise change it."""
    if value == value.strip() and not any(c in value for c in '#;"\\\n\t'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


def add_config(config: Path, settings: Mapping[str, str]) -> None:
    """Append `settings` (`section.key` or `section.sub.section.key`: value) to the git
    config file `config` in one write, as one `git config NAME VALUE` for each would.

    A repository's settings are written once when it is built; a git process for each
    of them cost more than the rest of the build's bookkeeping.
    """
    text: list[str] = []
    header = ""
    for name, value in settings.items():
        section, _, rest = name.partition(".")
        subsection, _, key = rest.rpartition(".")
        if not section or not key or "\n" in subsection or "\0" in value + subsection:
            raise ValueError(f"{name!r} = {value!r} cannot be written to a git config")
        quoted = subsection.replace("\\", "\\\\").replace('"', '\\"')
        wanted = f'[{section} "{quoted}"]\n' if subsection else f"[{section}]\n"
        if wanted != header:
            text.append(wanted)
            header = wanted
        text.append(f"\t{key} = {_config_value(value)}\n")
    with config.open("a", encoding="utf-8") as handle:
        handle.write("".join(text))


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
    for number, (name, value) in enumerate(QUIET_HOUSEKEEPING.items()):
        env[f"GIT_CONFIG_KEY_{number}"] = name
        env[f"GIT_CONFIG_VALUE_{number}"] = value
    env["GIT_CONFIG_COUNT"] = str(len(QUIET_HOUSEKEEPING))
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
