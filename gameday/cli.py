"""The `gameday` command line: parse, call, map errors to exit codes — no logic of its own.

User errors (`UserError`) print their message and exit 2; anything else is a bug: its
traceback shows and the exit code is 3.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from gameday.errors import ExitCode, ScenarioError, UserError
from gameday.scenario import load_scenario
from gameday.scenario.durations import format_duration
from gameday.scenario.library import DEFAULT_LIBRARY, load_library, scenario_files
from gameday.scenario.model import Scenario

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gameday")
def cli() -> None:
    """Incident-response game days for leaked AWS credentials, against a mock AWS account."""


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
                f"[red]{entry.path.name}[/red]", "(invalid: run `gameday validate` on it)", "", ""
            )
            continue
        s = entry.scenario
        table.add_row(s.id, s.title, s.difficulty, format_duration(s.duration))
    stdout.print(table)
    if broken:
        stderr.print(f"{broken} scenario file(s) in {folder} do not validate")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check scenario files (or folders of them); every problem as `path:line:col: message`."""
    problems: list[str] = []
    count = 0
    for path in scenario_files(paths):
        count += 1
        try:
            load_scenario(path)
        except ScenarioError as error:
            problems.extend(str(p) for p in error.problems)
    if problems:
        for line in problems:
            click.echo(line, err=True)
        sys.exit(ExitCode.USER_ERROR)
    click.echo(f"{count} scenario(s) valid")


@cli.command()
def schema() -> None:
    """The JSON Schema of the scenario format, for editors that validate YAML as you type."""
    document = Scenario.model_json_schema(mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "gameday scenario"
    click.echo(json.dumps(document, indent=2))


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
    click.echo(f"leak commit: {built.leak_commit}  ({built.leak_path})")
    click.echo(f"public URL:  {built.public_url}")
    click.echo(
        f"leaked key:  {built.credential.access_key_id}  (SIMULATION — live only in the mock)"
    )


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
