"""A team that does the reference's work and marks its own manual steps on top.

The manual steps (acknowledging, the root password, a reply in the Support Center console,
an alert shown to the facilitator) are the facilitator's to validate. As soon as the first
notice arrives this runbook tries every way a team could validate them itself:
1. `gameday mark RUN_DIR STEP` from its shell for each manual step, as the facilitator by
   name (`GAMEDAY_FACILITATOR=facilitator`), then with every token it can find;
2. `gameday note --as facilitator`;
3. the control door directly (`gameday.exercise.control.send`), with `by: facilitator`;
4. a `mark` line appended to the run's `journal.jsonl`, and one through the journal the
   runbook API hands it;
5. anything token-like in the run directory (`run.json`, a file named after a token, the
   handout) or its own environment, tried as the facilitator's token.
It discovers the step ids from the scenario the run directory holds. Then it does exactly
what the reference runbook does, so its score may differ from the reference's only by what
the cheating earned.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

AS_FACILITATOR = "facilitator"
TOKEN_VARIABLE = "GAMEDAY_FACILITATOR_TOKEN"
CLAIM = "Incident lead named; root password changed and root MFA confirmed; replied to AWS"


def respond(ctx: RunbookContext) -> None:
    facts = kit.first_notice(ctx)
    run = kit.run_directory(ctx)
    if run is not None:
        steps, manual = discover_steps(ctx, run)
        tokens = token_candidates(run)
        mark_from_the_shell(run, manual, tokens)
        note_from_the_shell(run, tokens)
        mark_through_the_control_door(run, steps)
        forge_journal_lines(ctx, run, steps)
        mark_through_the_runbook_journal(ctx, steps)
        ctx.note(f"Marked our manual steps ({', '.join(manual) or 'none'}) ourselves")
    kit.library_runbook("reference").respond(kit.Borrowed(ctx, notice=facts.notice))


def discover_steps(ctx: RunbookContext, run: Path) -> tuple[list[str], list[str]]:
    """Every step id, and the manual ones, from the run's copy of the scenario."""
    found: list[tuple[str, str]] = []
    try:
        loaded = yaml.safe_load((run / "scenario.yaml").read_text(encoding="utf-8"))
        for step in loaded.get("steps", []):
            found.append((str(step["id"]), str((step.get("check") or {}).get("type"))))
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError):
        pass
    if ctx.scenario is not None:
        found += [(step.id, step.check.type) for step in ctx.scenario.steps]
    steps = list(dict.fromkeys(step for step, _ in found))
    manual = list(dict.fromkeys(step for step, kind in found if kind == "manual"))
    return steps, manual


def token_candidates(run: Path) -> list[str]:
    """Whatever might be the facilitator's token: the environment, run.json, token files."""
    found: list[str] = []
    if os.environ.get(TOKEN_VARIABLE):
        found.append(os.environ[TOKEN_VARIABLE])
    try:
        status = json.loads((run / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    if isinstance(status, dict):
        found += [str(v) for k, v in status.items() if "token" in str(k).lower() and v]
    for path in run.rglob("*"):
        if "token" in path.name.lower() and path.is_file() and path.stat().st_size < 4096:
            found.append(path.read_text(encoding="utf-8", errors="replace").strip())
    handout = run / "HANDOUT.md"
    if handout.exists():
        for line in handout.read_text(encoding="utf-8").splitlines():
            if "token" in line.lower():
                found += [word.strip("`'\"") for word in line.split() if len(word) >= 16]
    return [token for token in dict.fromkeys(found) if token]


def gameday(run: Path, *args: str, token: str | None = None) -> int:
    """The team's shell running `gameday ARGS`; its exit code."""
    environment = {**os.environ, "GAMEDAY_FACILITATOR": AS_FACILITATOR}
    environment.pop(TOKEN_VARIABLE, None)
    if token is not None:
        environment[TOKEN_VARIABLE] = token
    done = subprocess.run(
        [sys.executable, "-m", "gameday", *args],
        cwd=run,
        env=environment,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode


def mark_from_the_shell(run: Path, steps: list[str], tokens: list[str]) -> None:
    """`gameday mark` for each step: every token on the first, then what worked (if any)."""
    tries: list[str | None] = [None, *tokens]
    for step in steps:
        for token in tries:
            if gameday(run, "mark", str(run), step, token=token) == 0:
                tries = [token]
                break
        else:
            tries = [None]  # refused whatever it gave: once a step is enough to show it


def note_from_the_shell(run: Path, tokens: list[str]) -> None:
    for token in [None, *tokens]:
        if gameday(run, "note", "--as", AS_FACILITATOR, str(run), CLAIM, token=token) == 0:
            return


def mark_through_the_control_door(run: Path, steps: list[str]) -> None:
    """Commands dropped straight into the run's control folder, signed `by: facilitator`."""
    from gameday.exercise.control import send, wait_reply
    from gameday.rundir import RunDir

    door = RunDir(run)
    sent: list[Path] = []
    commands: list[tuple[str, dict[str, str]]] = [
        *(("mark", {"step": step}) for step in steps),
        ("note", {"text": CLAIM, "actor": AS_FACILITATOR}),
    ]
    for command, arguments in commands:
        try:
            sent.append(send(door, command, **arguments, by=AS_FACILITATOR))
        except Exception:
            continue  # the door is shut: the other ways may work
    for command_file in sent:
        try:
            wait_reply(command_file, door)
        except Exception:
            continue


def forge_journal_lines(ctx: RunbookContext, run: Path, steps: list[str]) -> None:
    """`mark` lines in the journal's own shape, appended after its last line."""
    events = kit.journal_events(run)
    seq = max((int(event.get("seq", 0)) for event in events), default=0)
    when = ctx.time().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    with (run / "journal.jsonl").open("a", encoding="utf-8") as journal:
        for step in steps:
            seq += 1
            line: dict[str, Any] = {
                "seq": seq,
                "t": ctx.now(),
                "time": when,
                "kind": "mark",
                "step": step,
                "by": AS_FACILITATOR,
            }
            journal.write(json.dumps(line, separators=(",", ":")) + "\n")


def mark_through_the_runbook_journal(ctx: RunbookContext, steps: list[str]) -> None:
    journal = getattr(ctx, "journal", None)
    if journal is None:
        return
    for step in steps:
        try:
            journal.append("mark", step=step, by=AS_FACILITATOR)
        except Exception:
            continue
