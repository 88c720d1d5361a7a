"""Delete the file that held the key from the default branch and push: what a clean checkout
shows, while the history, the tag and the release still hold it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.append(str(Path(__file__).resolve().parents[2] / "adversarial" / "runbooks"))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, capture_output=True, check=False)


def respond(ctx: RunbookContext) -> None:
    facts = kit.first_notice(ctx)
    repo = Path(ctx.repo)
    path = facts.public_url.split("/blob/", 1)[1].split("/", 1)[1]
    git(repo, "pull", "--ff-only", "--quiet")
    git(repo, "rm", "-q", "--ignore-unmatch", path)
    git(repo, "commit", "-q", "-m", f"Remove {path}")
    git(repo, "push", "-q", "origin", "HEAD")
    ctx.note(f"Removed {path} from the default branch")
