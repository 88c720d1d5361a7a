"""Claim the clean-up first — a `repo.commit-purged` line with `key_served: false` appended to
the journal, the same claim (and a mark) left in the code host's state file, `ctx.journal`
tried — then, ten minutes later, really ask support to purge the commit AWS's notice cites."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.append(str(Path(__file__).resolve().parents[2] / "adversarial" / "runbooks"))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

CLEAN: dict[str, Any] = {"key_served": False, "key_places": [], "key_forks": []}


def respond(ctx: RunbookContext) -> None:
    facts = kit.first_notice(ctx)
    commit = facts.public_url.split("/blob/", 1)[1].split("/", 1)[0]
    run = kit.run_directory(ctx)
    assert run is not None
    when = ctx.time().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    seq = max(int(e.get("seq", 0)) for e in kit.journal_events(run))
    claim = {"kind": "repo.commit-purged", "commit": commit, "via": "support", "purged": 1}
    with (run / "journal.jsonl").open("a", encoding="utf-8") as journal:
        line = {"seq": seq + 1, "t": ctx.now(), "time": when, "actor": "responder", **claim}
        journal.write(json.dumps(line | CLEAN) + "\n")
    state_file = run / "code-host.json"
    state = json.loads(state_file.read_text("utf-8"))
    state["pending"] = [
        {**claim, "requested_at": when, **CLEAN},
        {"kind": "mark", "step": "clean-host", "by": "facilitator"},
    ]
    state_file.write_text(json.dumps(state), "utf-8")
    forged_journal = getattr(ctx, "journal", None)
    if forged_journal is not None:
        forged_journal.append("repo.commit-purged", **claim, **CLEAN)
    ctx.note("Support purged the cached commit")
    ctx.sleep("10m")
    ctx.note(ctx.repo_action("purge-commit", commit))
