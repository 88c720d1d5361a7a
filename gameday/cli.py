"""The `gameday` command line: parse, call, map errors to exit codes — no logic of its own.

User errors (`UserError`) print their message and exit 2; anything else is a bug: its
traceback shows and the exit code is 3.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gameday.errors import ExitCode, ScenarioError, UserError, printable
from gameday.exercise.facilitator import TOKEN_VARIABLE
from gameday.rundir import RunDir, private_files, resolve_run_dir
from gameday.scenario import load_scenario
from gameday.scenario.durations import format_duration
from gameday.scenario.library import DEFAULT_LIBRARY, load_library, scenario_files
from gameday.scenario.model import Scenario
from gameday.scoring.model import Score

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fresh_consoles() -> None:
    """The consoles again, as a process starting now makes them: a warm-start worker's
    streams, terminal and environment are its client's (`gameday.warm_start`)."""
    global stdout, stderr
    stdout = Console(highlight=False, soft_wrap=True)
    stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gameday")
def cli() -> None:
    """Incident-response game days for leaked AWS credentials, against a mock AWS account."""


def delivery_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options of a live run (`run`, and `recover` giving them back to a crashed one)."""
    options = [
        click.option(
            "--smtp", metavar="HOST:PORT", help="also send the emails to this SMTP server"
        ),
        click.option("--starttls", is_flag=True, help="use STARTTLS with --smtp"),
        click.option("--webhook", "webhook_url", metavar="URL", help="where webhook injects post"),
        click.option(
            "--templates",
            type=click.Path(path_type=Path, file_okay=False),
            help="your own templates",
        ),
        click.option("--plain", is_flag=True, help="plain progress lines even on a terminal"),
        click.option(
            "--dashboard", is_flag=True, help="serve the facilitator's live web page on 127.0.0.1"
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@cli.command("list")
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False))
def list_command(folder: Path | None) -> None:
    """The scenarios in FOLDER (default: the scenario library): id, title, difficulty, duration."""
    folder = folder or DEFAULT_LIBRARY
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder — give a folder of scenario YAML files")
    table = Table(box=None, pad_edge=False)
    for column in ("id", "title", "difficulty", "duration"):
        table.add_column(column, no_wrap=column != "title")
    broken = 0
    for entry in load_library(folder):
        if entry.scenario is None:
            broken += 1
            table.add_row(
                Text(printable(entry.path.name), style="red"),
                "(invalid: run `gameday validate` on it)",
                "",
                "",
            )
            continue
        s = entry.scenario
        # shown as text: a title is never markup, nor bytes for the terminal to obey
        table.add_row(s.id, Text(printable(s.title)), s.difficulty, format_duration(s.duration))
    stdout.print(table)
    if broken:
        stderr.print(f"{broken} scenario file(s) in {folder} do not validate")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False),
    help="your own templates, as `gameday run --templates` will use them",
)
@click.option("--strict", is_flag=True, help="fail (exit 2) on warnings too")
@click.option(
    "--deep",
    is_flag=True,
    help="also play each scenario in virtual time, by nobody and by runbooks/reference.py, "
    "and warn of what only a run shows",
)
def validate(paths: tuple[Path, ...], templates: Path | None, strict: bool, deep: bool) -> None:
    """Check scenario files (or folders of them); every problem as `path:line:col: message`.

    Every inject is rendered too (in the sandbox), so a template mistake is found now, not
    in the middle of a run. What a valid scenario does that would spoil its game day is
    printed as `path:line:col: warning: message`; warnings fail only with --strict.
    With --deep each valid scenario is also played, in seconds: attacker techniques that
    can only fail, steps met before anyone acts or that not even the reference runbook
    meets, injects that reach nobody and a reference run below the pass mark are warnings.
    """
    import contextlib

    from gameday.exercise.preflight import scenario_checks
    from gameday.scenario import validate_scenario
    from gameday.scenario.deep import DeepValidator

    lines: list[str] = []
    count = failed = warned = 0
    with contextlib.ExitStack() as stack:
        player = stack.enter_context(DeepValidator(templates=templates)) if deep else None
        for path in scenario_files(paths):
            count += 1
            try:
                validated = validate_scenario(
                    path,
                    checks=scenario_checks(templates, path),
                    warnings=[player.check(path)] if player is not None else (),
                )
            except ScenarioError as error:
                failed += 1
                lines.extend(str(p) for p in error.problems)
                continue
            warned += len(validated.warnings)
            lines.extend(str(w) for w in validated.warnings)
    for line in lines:
        click.echo(line, err=True)
    if failed or (strict and warned):
        sys.exit(ExitCode.USER_ERROR)
    click.echo(f"{count} scenario(s) valid" + (f", {warned} warning(s)" if warned else ""))


@cli.command()
def schema() -> None:
    """The JSON Schema of the scenario format, for editors that validate YAML as you type."""
    document = Scenario.model_json_schema(mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "gameday scenario"
    click.echo(json.dumps(document, indent=2))


@cli.command()
@click.argument("scenario_paths", metavar="SCENARIO...", nargs=-1, required=True,
                type=click.Path(path_type=Path))  # fmt: skip
@click.option("--scanner", "commands", multiple=True, metavar="'CMD …'",
              help="a scanner of your own (repeatable): the folder to scan is appended, or "
              "replaces {path}; a non-zero exit means it found something")  # fmt: skip
@click.option("--only-mine", is_flag=True, help="skip the built-in scanner profiles")
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("drill"),
              show_default=True, help="where the scanners' output is kept as evidence")  # fmt: skip
@click.option("--seed", default=0, show_default=True, help="same seed, same leak")
def drill(
    scenario_paths: tuple[Path, ...],
    commands: tuple[str, ...],
    only_mine: bool,
    out: Path,
    seed: int,
) -> None:
    """Would our scanners have caught it? Build each scenario's leak and run every scanner
    at pre-commit, pre-receive, on a clone's history and on the release assets.

    Built-in profiles: git-secrets, detect-secrets, trufflehog, gitleaks (each used when
    installed, skipped with a note otherwise). Without --scanner or --only-mine, a scenario
    with a `drill:` section is drilled with its own scanners. Prints the matrix leak ×
    scanner × stage.
    """
    from gameday.drill import drill as run_drill
    from gameday.drill import matrix_text, notes_text
    from gameday.drill.scanners import scanners

    loaded = [load_scenario(path) for path in scenario_paths]
    chosen = scanners(commands, built_in=not only_mine)
    if not chosen:
        raise UserError("no scanner to run — drop --only-mine or add --scanner 'CMD …'")
    if commands or only_mine:
        cells = run_drill(loaded, chosen, out=out, seed=seed)
    else:  # a scenario with a drill phase is drilled with its own scanners, as its run is
        from gameday.drill.scanners import named_scanners

        cells = []
        for scenario in loaded:
            own = named_scanners(scenario.drill.scanners) if scenario.drill else chosen
            cells += run_drill([scenario], own, out=out, seed=seed)
    click.echo(matrix_text(cells), nl=False)
    notes = notes_text(cells)
    if notes:
        click.echo("\nskipped:\n" + notes, nl=False)
    click.echo(f"\nevidence: {out}/<scenario>/<scanner>/<stage>.txt")


@cli.command("build-repo")
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path))
@click.option(
    "--out", "out", required=True, type=click.Path(path_type=Path), help="folder to create"
)
@click.option("--seed", default=0, show_default=True, help="same seed, same commits")
def build_repo(scenario_path: Path, out: Path, seed: int) -> None:
    """Only the decoy repository: OUT/repo (the developer's clone) and OUT/remote.git."""
    from gameday.world.repo import build_repository

    scenario = load_scenario(scenario_path)
    built = build_repository(scenario, out, seed=seed)
    click.echo(f"repository:  {built.repo}")
    click.echo(
        f"remote:      {built.remote}  (stands for https://github.com/"
        f"{scenario.leak.repository.owner}/{scenario.leak.repository.name})"
    )
    click.echo(f"commits:     {built.commits}")
    if built.later:
        first = format_duration(built.later[0].at_s)
        click.echo(
            f"later:       {len(built.later)} commit(s) the developers push during a run, "
            f"the first at T+{first}"
        )
    click.echo(f"leak commit: {built.leak_commit}  ({built.leak_path})")
    click.echo(f"public URL:  {built.public_url}")
    click.echo(
        f"leaked key:  {built.credential.access_key_id}  (SIMULATION — live only in the mock)"
    )


RUN_DIR = click.argument(
    "run_dir", required=False, type=click.Path(path_type=Path, file_okay=False)
)
TOKEN = click.option(
    "--token",
    envvar=TOKEN_VARIABLE,
    show_envvar=True,
    metavar="TOKEN",
    help="the facilitator token `gameday run` printed at the start (better: the variable, "
    "which the process list does not show)",
)


def _forget_the_token() -> None:
    """A run's responders (a runbook's subprocesses) must not inherit a facilitator token."""
    os.environ.pop(TOKEN_VARIABLE, None)


@cli.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path))
@click.option("--team", default="blue", show_default=True, help="the team playing")
@click.option("--out", type=click.Path(path_type=Path), help="run directory (default: runs/…)")
@click.option(
    "--clock",
    "clock_kind",
    type=click.Choice(["virtual", "wall"]),
    default="wall",
    show_default=True,
    help="virtual time needs an automated responder",
)
@click.option("--speed", default=1.0, show_default=True, help="run seconds per real second")
@click.option(
    "--responder", default="human", show_default=True, help="human | PATH.py | replay:FILE"
)
@click.option("--seed", default=0, show_default=True, help="same seed, same run")
@click.option(
    "--console",
    "web_console",
    is_flag=True,
    help="serve the team's web console of the mock account on 127.0.0.1",
)
@delivery_options
def run(
    scenario_path: Path,
    team: str,
    out: Path | None,
    clock_kind: str,
    speed: float,
    responder: str,
    seed: int,
    smtp: str | None,
    starttls: bool,
    webhook_url: str | None,
    templates: Path | None,
    plain: bool,
    dashboard: bool,
    web_console: bool,
) -> None:
    """Play SCENARIO: AWS's side, the attacker, the responders; then score and report.

    The facilitator token is printed once at the start: keep it for mark, end, pause,
    resume and `note --as facilitator`.
    """
    from gameday.exercise.injects import SmtpOptions
    from gameday.exercise.run import RunOptions, run_exercise

    _forget_the_token()
    options = RunOptions(
        team=team,
        out=out,
        clock="virtual" if clock_kind == "virtual" else "wall",
        speed=speed,
        responder=responder,
        seed=seed,
        smtp=SmtpOptions.parse(smtp, starttls=starttls) if smtp else None,
        webhook_url=webhook_url,
        templates=templates,
        live=False if plain else None,
        dashboard=dashboard,
        console=web_console,
    )
    with private_files():
        result = run_exercise(scenario_path, options, stdout)
    _print_score(result.score)
    stdout.print(f"reports: {result.run_dir.path}/report.html, report.md, junit.xml, score.json")
    if not result.score.passed:
        sys.exit(ExitCode.FAILED)


@cli.command("run-many")
@click.argument(
    "scenario_paths",
    metavar="SCENARIO...",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
)
@click.option("--responder", required=True, help="PATH.py | replay:FILE (automated)")
@click.option("--team", default="ci", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="folder for the run directories (default: runs/…)",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="runs at once, one worker process and warm mock each  [default: cores + 1]",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="only shard K of N: the Kth scenario of the list, then every Nth (for a CI matrix)",
)
@click.option(
    "--junit",
    "junit_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="also write one JUnit XML file for all these runs",
)
def run_many(
    scenario_paths: tuple[Path, ...],
    responder: str,
    team: str,
    seed: int,
    out: Path | None,
    jobs: int | None,
    shard: str | None,
    junit_path: Path | None,
) -> None:
    """Run an automated responder through many scenarios in virtual time, on every core.

    CI's way to run a runbook like a test suite: one line per scenario, in the order given,
    exit 1 if any run misses its pass mark. Each worker process starts one mock and reuses it
    for its runs. `--shard K/N` splits the list between machines the same way on each (give
    them the same SCENARIO arguments); `gameday junit-merge` joins the shards' --junit files.
    """
    from gameday.exercise.pool import Shard, default_jobs, run_pool
    from gameday.exercise.run import RunOptions
    from gameday.report.junit_merge import merge_junit
    from gameday.scenario.library import scenario_files

    _forget_the_token()
    paths = list(scenario_files(scenario_paths))
    if shard is not None:
        paths = Shard.parse(shard).select(paths)
    batch = [
        (
            path,
            RunOptions(
                team=team,
                out=(out / path.stem) if out else None,
                clock="virtual",
                responder=responder,
                seed=seed,
                live=False,
            ),
        )
        for path in paths
    ]
    failed = 0
    run_dirs: list[Path] = []
    for path, result in zip(
        paths, run_pool(batch, jobs or default_jobs(), Console(quiet=True)), strict=False
    ):
        verdict = "passed" if result.score.passed else "FAILED"
        failed += not result.score.passed
        run_dirs.append(result.run_dir.path)
        stdout.print(
            f"{verdict:6}  {result.score.score:6.1f}/100 (pass {result.score.pass_mark})  "
            f"{path.stem}  {result.run_dir.path}",
            markup=False,
        )
    stdout.print(f"{len(paths) - failed} passed, {failed} failed")
    if junit_path is not None:
        merge_junit((run / "junit.xml" for run in run_dirs), junit_path)
        stdout.print(f"junit: {junit_path}", markup=False)
    if failed:
        sys.exit(ExitCode.FAILED)


@cli.group("warm")
def warm_group() -> None:
    """The warm start: a background server that plays `gameday run --clock virtual` warm.

    `gameday run --clock virtual` starts one itself once its own run is over; each next
    virtual run is then forked from it, ready to play, rather than importing and warming a
    mock account of its own. GAMEDAY_WARM_START=off turns it off; a server stops after
    GAMEDAY_WARM_START_IDLE seconds (default 1200) without a run.
    """


@warm_group.command("start")
@click.option("--wait", "wait_s", default=60.0, show_default=True, help="seconds to wait for it")
def warm_start_command(wait_s: float) -> None:
    """Start this user's server for this installation (if none runs), and wait until it
    answers."""
    from gameday import warm_start

    where = warm_start.place()
    if where is None:
        raise UserError(
            "the warm start is off here — GAMEDAY_WARM_START or GAMEDAY_CACHE_DIR is 'off', "
            "or this system has no fork and descriptor passing (Linux has both)"
        )
    about = warm_start.ping(where)
    if about is None:
        warm_start.spawn(where)
        about = warm_start.ready(where, wait_s)
    if about is None:
        raise UserError(
            f"the warm-start server did not answer within {wait_s:g} s — its log: {where.log}"
        )
    stdout.print(f"warm-start server {about['pid']}: {where.socket}", markup=False)


@warm_group.command("status")
def warm_status() -> None:
    """This user's servers: the one for this installation marked with *."""
    from gameday import warm_start

    mine = warm_start.place()
    found = warm_start.servers()
    if not found:
        stdout.print("no warm-start server is running")
        return
    for where, about in found:
        marker = "*" if mine is not None and where.socket == mine.socket else " "
        stdout.print(
            f"{marker} pid {about.get('pid')}: {about.get('served', 0)} run(s) served, "
            f"{about.get('running', 0)} under way — {where.socket}",
            markup=False,
        )


@warm_group.command("stop")
def warm_stop() -> None:
    """Stop every server of this user's (runs under way play to their end)."""
    from gameday import warm_start

    found = warm_start.servers()
    for where, about in found:
        warm_start.stop(where)
        stdout.print(f"stopped warm-start server {about.get('pid')}", markup=False)
    if not found:
        stdout.print("no warm-start server is running")


@cli.command("junit-merge")
@click.argument("target", metavar="OUT", type=click.Path(path_type=Path, dir_okay=False))
@click.argument(
    "sources", metavar="JUNIT...", nargs=-1, required=True, type=click.Path(path_type=Path)
)
def junit_merge(target: Path, sources: tuple[Path, ...]) -> None:
    """Join JUnit XML files (or folders of them: every *.xml inside) into OUT.

    The shards of a `run-many --shard K/N --junit FILE` matrix become one report: every
    suite of every file, in the order given (a folder's files sorted by name), totals
    counted again. Exit 0 once OUT is written, failures or not: the shards' own exit codes
    say whether the library passed.
    """
    from gameday.report.junit_merge import junit_files, merge_junit

    files = [f for f in junit_files(sources) if f.resolve() != target.resolve()]
    totals = merge_junit(files, target)
    stdout.print(f"{target}: {totals}, from {len(files)} file(s)", markup=False)


def _print_score(score: Score) -> None:
    from gameday.scoring.table import render_score

    render_score(score, stdout)


@cli.command()
@RUN_DIR
@delivery_options
@TOKEN
def recover(
    run_dir: Path | None,
    smtp: str | None,
    starttls: bool,
    webhook_url: str | None,
    templates: Path | None,
    plain: bool,
    dashboard: bool,
    token: str | None,
) -> None:
    """After a crash: rebuild the mock from the journal and go on from where the run stopped.

    With the run's facilitator token it keeps working; without, a new one is printed.
    """
    from gameday.exercise.injects import SmtpOptions
    from gameday.exercise.recovery import recover_run

    _forget_the_token()
    with private_files():
        result = recover_run(
            resolve_run_dir(run_dir),
            stdout,
            by=_facilitator(),
            smtp=SmtpOptions.parse(smtp, starttls=starttls) if smtp else None,
            webhook_url=webhook_url,
            templates=templates,
            live=False if plain else None,
            dashboard=dashboard,
            token=token or None,
        )
    _print_score(result.score)
    stdout.print(f"reports: {result.run_dir.path}/report.html, report.md, junit.xml, score.json")
    if not result.score.passed:
        sys.exit(ExitCode.FAILED)


@cli.command()
@click.argument("scenario_path", metavar="SCENARIO", type=click.Path(path_type=Path))
@click.option("--seed", default=0, show_default=True)
@click.option("--templates", type=click.Path(path_type=Path, file_okay=False))
def render(scenario_path: Path, seed: int, templates: Path | None) -> None:
    """Preview every inject of SCENARIO, rendered, without running it.

    Each is what a virtual-time run with the same --seed delivers when the inject fires on
    time: the same commit, dates and case number. Injects the support plan rules out are
    left out; those that depend on what the team does are shown with their condition.
    """
    from gameday.exercise.injects import preview, run_facts
    from gameday.exercise.injects.rendering import MARKER, Renderer, template_folders
    from gameday.exercise.preflight import scenario_checks
    from gameday.scenario.durations import format_duration as fmt

    scenario = load_scenario(scenario_path, checks=scenario_checks(templates, scenario_path))
    renderer = Renderer(template_folders(templates, scenario_path))
    guards = {inject.id: _run_conditions(inject) for inject in scenario.timeline}
    for delivered in preview(scenario, run_facts(scenario, seed=seed), renderer=renderer):
        # every preview marked, the quarantine (an act on the account, not a message) too
        title = f"T+{fmt(delivered.t)}  {delivered.kind}  {delivered.id}  ·  {MARKER}"
        if guards[delivered.id]:
            title += f"  ·  {guards[delivered.id]}"
        stdout.print(Text(f"── {title} ──"))  # whole, however narrow the output
        if delivered.subject:
            stdout.print(f"Subject: {delivered.subject}", markup=False)
        stdout.print(delivered.body, markup=False)


def _run_conditions(inject: Any) -> str:
    """The conditions of `inject` that only a run decides, as `gameday render` shows them."""
    from gameday.exercise.conditions import condition

    when = [name for name in inject.when if not condition(name).fixed]
    unless = [name for name in inject.unless if not condition(name).fixed]
    parts = [f"when {', '.join(when)}"] if when else []
    parts += [f"unless {', '.join(unless)}"] if unless else []
    return "; ".join(parts)


@cli.command()
@RUN_DIR
@click.option("--json", "as_json", is_flag=True, help="the score JSON on stdout")
def score(run_dir: Path | None, as_json: bool) -> None:
    """Re-score a run from its journal alone (and rewrite its score.json)."""
    from gameday.report import load_run
    from gameday.report.drill import load_drill
    from gameday.report.json import score_json
    from gameday.scoring.score import score_journal

    run = resolve_run_dir(run_dir)
    loaded = load_run(run.path, score_journal)
    result = score_journal(loaded.scenario, list(loaded.events), loaded.team)
    written = score_json(result, load_drill(run.path))  # the drill phase's outcome stays
    (run.path / "score.json").write_text(json.dumps(written, indent=2), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print_score(result)
        stdout.print(f"re-scored {run.path} (score.json rewritten)", markup=False)
    if not result.passed:
        sys.exit(ExitCode.FAILED)


@cli.command()
@click.argument("run_dirs", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="training report folder"
)
@click.option("--pdf", is_flag=True, help="also print the HTML report to PDF (headless Chromium)")
def report(run_dirs: tuple[Path, ...], out: Path | None, pdf: bool) -> None:
    """The report of one run, or a training report over many (or a folder of runs)."""
    from gameday.report import load_run, write_reports, write_training_report
    from gameday.scoring.score import score_journal

    dirs = _run_dirs(run_dirs)
    if len(dirs) == 1 and out is None:
        run = load_run(dirs[0], score_journal)
        result = score_journal(run.scenario, list(run.events), run.team)
        written = write_reports(dirs[0], run.scenario, list(run.events), result)
    else:
        target = out or Path("training-report")
        runs = [load_run(d, score_journal) for d in dirs]
        written = write_training_report(runs, target)
    if pdf:
        from gameday.report.pdf import print_pdf

        html = next(path for path in written if path.suffix == ".html")
        written.append(print_pdf(html, html.with_suffix(".pdf")))
    for path in written:
        stdout.print(str(path))


def _run_dirs(given: tuple[Path, ...]) -> list[Path]:
    if not given:
        return [resolve_run_dir(None).path]
    dirs: list[Path] = []
    for path in given:
        if _names_a_run(path):
            dirs.append(resolve_run_dir(path).path)
        elif path.is_dir():
            found = sorted(p for p in path.iterdir() if _names_a_run(p))
            if not found:
                raise UserError(f"{path}: no runs in this folder — give run directories")
            dirs.extend(resolve_run_dir(p).path for p in found)
        else:
            raise UserError(f"{path}: not a run directory")
    return dirs


@cli.command()
@RUN_DIR
@TOKEN
def status(run_dir: Path | None, token: str | None) -> None:
    """Where a run stands: its state, clock, and the latest events.

    Without RUN_DIR, the newest live run (or, when none is, the newest run, saying so).
    """
    from gameday.errors import RunDirError
    from gameday.exercise.facilitator import check_token
    from gameday.exercise.team_view import describe_for_team
    from gameday.exercise.view import clock_text, describe
    from gameday.journal import read_journal

    try:
        run = resolve_run_dir(run_dir, live=run_dir is None)
    except RunDirError as none_live:
        if run_dir is not None or "no live run" not in str(none_live):
            raise
        stdout.print(str(none_live).split(";")[0], markup=False)
        run = resolve_run_dir(None)
    state = run.status()
    events = read_journal(run.journal) if run.journal.exists() else []
    # a live wall-clock run's own clock; otherwise the time of its latest event
    now = run.run_time(state)
    last_t = now if now is not None else float(events[-1]["t"]) if events else 0.0
    if state.get("crashed"):
        stdout.print(f"{run.path}: {run.state_text(state)}", markup=False)
        stdout.print(f"  it stopped at {clock_text(last_t)}", markup=False)
    else:
        stdout.print(f"{run.path}: {run.state_text(state)} at {clock_text(last_t)}", markup=False)
    if state.get("alive") and state.get("dashboard"):
        origin = str(state["dashboard"]).rstrip("/")
        if token and check_token(run, token) == "facilitator":
            stdout.print(f"dashboard: {origin}/{token}/", markup=False)
        else:
            stdout.print(
                f"dashboard: {origin}/TOKEN/ — TOKEN is the facilitator token "
                f"(give it, or set {TOKEN_VARIABLE}, to see the whole address)",
                markup=False,
            )
    # while the run plays, its steps and score are the facilitator's: no spoilers without the
    # token (the team's own events, the notices and the run's state are shown to anyone)
    facilitator = not state.get("alive") or check_token(run, token or None) == "facilitator"
    if facilitator:
        _print_insight(run, now)
    else:
        stdout.print(
            "score, steps and the next inject: give the facilitator token "
            f"(--token, or {TOKEN_VARIABLE})",
            markup=False,
        )
    lines = [(e, describe(e) if facilitator else describe_for_team(e)) for e in events]
    for event, described in [x for x in lines if x[1] is not None][-10:]:
        assert described is not None
        stdout.print(
            f"  {clock_text(float(event['t']))}  {described[0]:<11} {described[1]}", markup=False
        )


def _print_insight(run: RunDir, now: float | None) -> None:
    """Score so far, steps met and left, time left and the next inject (`gameday status`)."""
    from gameday.exercise.insight import run_insight
    from gameday.exercise.view import clock_text

    seen = run_insight(run, now)
    score = seen.score
    stdout.print(
        f"score so far: {score.score:g}/100 (pass mark {score.pass_mark})  ·  "
        f"steps met {len(seen.met)}/{len(seen.steps)}, left {len(seen.left)}  ·  "
        f"time left {format_duration(round(seen.time_left))}",
        markup=False,
    )
    if seen.left:
        stdout.print(f"steps left: {', '.join(step.id for step in seen.left)}", markup=False)
    coming = seen.next_inject
    stdout.print(
        f"next inject: {clock_text(coming.t)}  {coming.type} {coming.id}"
        if coming is not None
        else "next inject: none left",
        markup=False,
    )


def _run_to_inspect(run_dir: Path | None) -> RunDir:
    """The run named, or the newest live one, or (saying so) the newest run of all."""
    from gameday.errors import RunDirError

    try:
        return resolve_run_dir(run_dir, live=run_dir is None)
    except RunDirError as none_live:
        if run_dir is not None or "no live run" not in str(none_live):
            raise
        stdout.print(str(none_live).split(";")[0], markup=False)
        return resolve_run_dir(None)


@cli.command()
@RUN_DIR
@TOKEN
def steps(run_dir: Path | None, token: str | None) -> None:
    """The expected steps of a run: id, phase, manual or automatic, status, target, deadline.

    Target and deadline are on the run clock (T+), counted from detection (the first AWS
    notice); before it, as `detection+…`. A live run's steps are the facilitator's: they need
    the facilitator token. Without RUN_DIR, the newest live run.
    """
    from gameday.exercise.facilitator import check_token, refusal_message
    from gameday.exercise.insight import run_insight
    from gameday.exercise.view import clock_text

    run = _run_to_inspect(run_dir)
    state = run.status()
    if state.get("alive"):
        check = check_token(run, token or None)
        if check != "facilitator":
            raise UserError(f"{run.path}: {refusal_message(run, 'steps', check)}")
    seen = run_insight(run, run.run_time(state))
    stdout.print(
        f"{run.path}: {run.state_text(state)} at {clock_text(seen.now)}  ·  "
        f"score so far {seen.score.score:g}/100",
        markup=False,
    )

    def when(at: float | None, relative: float) -> str:
        return clock_text(at) if at is not None else f"detection+{format_duration(relative)}"

    rows = [("step", "phase", "kind", "status", "points", "target", "deadline", "met")]
    for step in seen.steps:
        rows.append(
            (
                step.id,
                step.phase,
                "manual" if step.manual else "automatic",
                step.status,
                f"{step.awarded:g}/{step.points}",
                when(step.target_t, step.target_s),
                when(step.deadline_t, step.deadline_s),
                clock_text(step.satisfied_t) if step.satisfied_t is not None else "—",
            )
        )
    # whole lines, never cut at the terminal's width: ids are what `mark` is given
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        stdout.print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
                     markup=False)  # fmt: skip


@cli.command("console")
@RUN_DIR
@click.option("--port", default=0, show_default=True, help="port on 127.0.0.1 (0: any free one)")
def console_command(run_dir: Path | None, port: int) -> None:
    """Serve the team's web console of a live run's mock account, on 127.0.0.1.

    It signs every action with the team's access key, like the AWS CLI; the team signs in
    with the token in its handout (CONSOLE.txt too). It stops with the run, or Ctrl-C.
    Without RUN_DIR, the newest live run.
    """
    import time

    from gameday.console import serve_console

    run = resolve_run_dir(run_dir, live=run_dir is None)
    server = serve_console(run, port)
    stdout.print(
        f"web console of {run.path}: {server.origin}/ — the team's token is in "
        f"{run.console_link} and the handout (SIMULATION)",
        markup=False,
    )
    try:
        while run.status().get("alive"):
            time.sleep(1.0)
        stdout.print(f"the run ended ({run.path}): console stopped", markup=False)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@cli.command()
@RUN_DIR
@click.option("--plain", is_flag=True, help="plain lines even on a terminal")
def watch(run_dir: Path | None, plain: bool) -> None:
    """The team's view of a live run: the notices as they arrive, the clock, paused or ended.

    For the screen the team sees: no step or score line. Without RUN_DIR, the newest live run.
    """
    from gameday.exercise.team_view import watch_run

    run = resolve_run_dir(run_dir, live=run_dir is None)
    stdout.print(f"watching {run.path}", markup=False)
    watch_run(run, stdout, live=False if plain else None)


def _command(run: RunDir, command: str, token: str | None = None, **arguments: Any) -> str:
    """Send a command to the live run; its reply (a refusal is a `UserError`: exit 2)."""
    from gameday.exercise.control import send, wait_reply

    reply = wait_reply(send(run, command, token=token or None, **arguments), run)
    if not reply.ok:
        message = reply.message
        if not message.startswith(command):
            message = f"{command} refused — {message}"
        raise UserError(f"{run.path}: {message}")
    return reply.message


def _facilitator_command(run_dir: Path | None, command: str, token: str | None) -> None:
    run = resolve_run_dir(run_dir, live=True)
    stdout.print(f"{_command(run, command, token)} ({run.path})", markup=False)


@cli.command()
@RUN_DIR
@TOKEN
def end(run_dir: Path | None, token: str | None) -> None:
    """End a live run now; it scores and reports as usual (the facilitator's)."""
    _facilitator_command(run_dir, "end", token)


@cli.command()
@RUN_DIR
@TOKEN
def pause(run_dir: Path | None, token: str | None) -> None:
    """Stop the run clock (a break, a question from the room; the facilitator's)."""
    _facilitator_command(run_dir, "pause", token)


@cli.command()
@RUN_DIR
@TOKEN
def resume(run_dir: Path | None, token: str | None) -> None:
    """Start the run clock again (the facilitator's)."""
    _facilitator_command(run_dir, "resume", token)


@cli.command("fire-next")
@RUN_DIR
@TOKEN
def fire_next(run_dir: Path | None, token: str | None) -> None:
    """Deliver the next inject still to come now (the facilitator's)."""
    _facilitator_command(run_dir, "fire-next", token)


@cli.command()
@click.argument("args", nargs=-1, required=True)
@click.option(
    "--as",
    "as_",
    type=click.Choice(["team", "facilitator"]),
    default="team",
    show_default=True,
    help="the facilitator's note needs the facilitator token",
)
@TOKEN
def note(args: tuple[str, ...], as_: str, token: str | None) -> None:
    """Journal an out-of-band action: `gameday note [RUN_DIR] TEXT`.

    A note is the team's; `--as facilitator` with the facilitator token makes it yours.
    """
    from gameday.exercise.control import append_after_the_run

    run_dir, text = _split_run_dir(args)
    # the token is sent only with --as facilitator: a team's note is the team's
    given = token if as_ == "facilitator" else None
    run = resolve_run_dir(run_dir, live=run_dir is None)
    whose = "the facilitator's" if as_ == "facilitator" else "the team's"
    if run.status().get("alive"):
        _command(run, "note", given, text=text, **{"as": as_})
        stdout.print(f"note journaled as {whose} ({run.path})", markup=False)
        return
    append_after_the_run(run, "note", token=given, text=text, **{"as": as_})
    stdout.print(
        f"note journaled as {whose}, after the run ({run.path}) — `gameday score` to re-score",
        markup=False,
    )


@cli.command()
@click.argument("args", nargs=-1)
@click.option("--list", "list_steps", is_flag=True, help="the manual steps and what to look for")
@TOKEN
def mark(args: tuple[str, ...], list_steps: bool, token: str | None) -> None:
    """The facilitator validates a manual step: `gameday mark [RUN_DIR] STEP_ID`.

    Needs the facilitator token, as does `gameday mark [RUN_DIR] --list`.
    """
    from gameday.exercise.control import append_after_the_run

    if list_steps:
        if len(args) > 1:
            raise UserError("gameday mark [RUN_DIR] --list — no step id with --list")
        _list_manual_steps(Path(args[0]) if args else None, token)
        return
    run_dir, step = _split_run_dir(args) if args else (None, "")
    if len(args) == 1 and _names_a_run(Path(args[0])):
        run_dir, step = Path(args[0]), ""
    run = resolve_run_dir(run_dir, live=run_dir is None)
    if step not in {s.id for s in load_scenario(run.scenario).steps}:
        _unknown_step(run, step, token)
    if run.status().get("alive"):
        stdout.print(f"{_command(run, 'mark', token, step=step)} ({run.path})", markup=False)
        return
    steps = [s.id for s in load_scenario(run.scenario).steps]
    append_after_the_run(run, "mark", token=token or None, steps=steps, step=step)
    stdout.print(
        f"mark: journaled after the run ({run.path}) — {_what_the_mark_earns(run, step)}; "
        "`gameday score` rewrites score.json",
        markup=False,
    )


def _what_the_mark_earns(run: RunDir, step: str) -> str:
    """A mark after the run counts from the moment it is made: say what that earns, so a
    facilitator does not expect points a deadline long past cannot give."""
    from gameday.report import load_run
    from gameday.scoring.score import score_journal

    loaded = load_run(run.path, score_journal)
    result = score_journal(loaded.scenario, list(loaded.events), loaded.team)
    found = next((r for r in result.steps if r.id == step), None)
    if found is None:
        return "re-score to see what it earns"
    earned = f"{found.awarded:g}/{found.points} points"
    if found.status in ("success", "partial"):
        return f"step '{step}' now earns {earned} ({found.status})"
    return f"step '{step}' earns nothing ({earned}): {found.reason}"


def _unknown_step(run: RunDir, step: str, token: str | None) -> None:
    """A mark with no step, or one the scenario does not have: the manual steps, to choose.

    The list (what the team is scored on) only for the facilitator token's holder; anyone
    else's mark of a step goes on to the run, which refuses it and journals the attempt.
    """
    from gameday.exercise.facilitator import check_token, refusal_message
    from gameday.exercise.insight import closest_manual, run_insight

    check = check_token(run, token or None)
    if check != "facilitator":
        if step:
            return
        raise UserError(f"{run.path}: {refusal_message(run, 'mark', check)}")
    which = f"unknown step '{step}'" if step else "which step?"
    manual = closest_manual(run_insight(run), step)
    raise UserError(f"{run.path}: mark: {which}\n{manual}")


def _list_manual_steps(run_dir: Path | None, token: str | None) -> None:
    from gameday.exercise.facilitator import check_token, refusal_message
    from gameday.scenario.model import Manual

    run = resolve_run_dir(run_dir, live=run_dir is None)
    check = check_token(run, token or None)
    if check != "facilitator":
        # the steps are what the team is scored on: no spoilers without the token
        raise UserError(f"{run.path}: {refusal_message(run, 'mark --list', check)}")
    table = Table(box=None, pad_edge=False)
    for column in ("step", "title", "what to look for"):
        table.add_column(column, no_wrap=column == "step")
    for step in load_scenario(run.scenario).steps:
        if isinstance(step.check, Manual):
            table.add_row(step.id, step.title, step.check.instructions or "—")
    stdout.print(table)


def _split_run_dir(args: tuple[str, ...]) -> tuple[Path | None, str]:
    if len(args) >= 2 and _names_a_run(Path(args[0])):
        return Path(args[0]), " ".join(args[1:])
    return None, " ".join(args)


def _names_a_run(path: Path) -> bool:
    try:
        return (path / "scenario.yaml").exists()
    except PermissionError:
        return True  # someone else's run: resolving it says so


def _facilitator() -> str:
    return os.environ.get("GAMEDAY_FACILITATOR") or os.environ.get("USER") or "facilitator"


# the owners' actions (gameday.world.repo.REPO_ACTIONS), and `places` to look at the host
REPO_COMMANDS = (
    "private", "delete", "delete-branch", "delete-tag", "delete-release", "purge-commit", "places",
)  # fmt: skip
TARGETED = ("delete-branch", "delete-tag", "delete-release", "purge-commit")


@cli.command()
@click.argument("action", type=click.Choice(REPO_COMMANDS))
@click.argument("args", nargs=-1, metavar="[TARGET] [RUN_DIR]")
def repo(action: str, args: tuple[str, ...]) -> None:
    """The code host's actions on the leaky repository, as its owners have them.

    \b
    gameday repo private [RUN_DIR]               take it out of public view
    gameday repo delete [RUN_DIR]                delete it (and the evidence with it)
    gameday repo delete-branch NAME [RUN_DIR]    delete a branch (not the default one)
    gameday repo delete-tag NAME [RUN_DIR]       delete a tag
    gameday repo delete-release TAG [RUN_DIR]    delete a release and its assets
    gameday repo purge-commit SHA [RUN_DIR]      ask support to purge the commits no ref
                                                 reaches, which the host still serves by id
    gameday repo places [RUN_DIR]                every place the host serves, its URL,
                                                 and whether the key is there

    The team's buttons, as on a real code host: no token needed. Each action is journaled.
    """
    from gameday.world.repo import CodeHost

    target: str | None = None
    rest = list(args)
    if action in TARGETED:
        if not rest:
            raise UserError(f"`gameday repo {action}` needs what it acts on — see --help")
        target = rest.pop(0)
    if len(rest) > 1:
        raise UserError(f"`gameday repo {action}` takes one RUN_DIR, not {' '.join(rest)!r}")
    run_dir = Path(rest[0]) if rest else None
    if action == "places":
        _show_places(resolve_run_dir(run_dir))
        return
    run = resolve_run_dir(run_dir, live=run_dir is None)
    if run.status().get("alive"):
        arguments = {"action": action} if target is None else {"action": action, "target": target}
        stdout.print(f"{_command(run, 'repo', **arguments)} ({run.path})", markup=False)
        return
    done = CodeHost(run.remote).act(action, target)
    stdout.print(f"{done} ({run.path})", markup=False)


def _show_places(run: RunDir) -> None:
    from gameday.journal import read_journal
    from gameday.world.repo import CodeHost

    scenario = load_scenario(run.path / "scenario.yaml")
    events = read_journal(run.journal) if run.journal.exists() else []
    started = next((e for e in events if e["kind"] == "run.started"), {})
    key = started.get("leaked_access_key_id")
    host = CodeHost(run.remote, watch_key=str(key) if key else None)
    owner, name = scenario.leak.repository.owner, scenario.leak.repository.name
    # plain lines, never wrapped: the URLs are meant to be copied
    click.echo(f"{'place':<12} {'key':<4} {'public':<7} URL")
    for place in host.places(owner, name):
        holds = "?" if key is None else ("KEY" if place.holds_key else "-")
        public = "yes" if place.public else "no"
        click.echo(f"{place.kind:<12} {holds:<4} {public:<7} {place.url}")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(ExitCode.USER_ERROR)
    except UserError as error:
        click.echo(str(error), err=True)
        sys.exit(ExitCode.USER_ERROR)
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception:
        traceback.print_exc()
        sys.exit(ExitCode.INTERNAL_ERROR)
    sys.exit(ExitCode.OK)


def entry(after: Callable[[object], None] | None = None) -> None:
    """The `gameday` command's process: `main()`, then out without taking the heap apart.

    A run leaves a few hundred thousand objects (moto's backends, botocore's models) that an
    interpreter's own exit frees one by one, about a second after the last report is written.
    Once every non-daemon thread is done, the exit handlers are run (a zygote's stop, open
    logs and temporary folders) and the streams flushed, as the interpreter would, and the
    process ends with the same status. `main()` itself still exits as any function does: a
    test or a caller in the same process gets its SystemExit. `after(status)` is called
    first (`gameday.launch`: the warm start's server, started once a run is over).
    """
    try:
        main()
    except SystemExit as done:
        status = done.code
    else:
        status = ExitCode.OK
    if after is not None:
        with contextlib.suppress(Exception):
            after(status)
    _leave(status)


def _leave(status: object) -> None:
    import atexit
    import threading

    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    if any(not thread.daemon for thread in others):
        raise SystemExit(status)  # the interpreter waits for them, as it always does
    if status is None:
        code = 0
    elif isinstance(status, int):
        code = status
    else:
        print(status, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code & 0xFF)
