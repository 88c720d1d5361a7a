"""A scenario's own templates: the `templates/` folder beside the scenario file, through the
real CLI — searched by `validate`, `render` and `run` before gameday's own, and confined to
that folder like the others. And a template that exists nowhere stops `run` before the room
starts. All run in this process (`gameday_here`, the same `python -m gameday`), the runs on
the worker's warm mock."""

from __future__ import annotations

import mailbox
import subprocess
from pathlib import Path

from gameday_cli import gameday_here

from . import REPO_ROOT, SMALL_SCENARIO

NUDGE = """\
{% set subject = "Reminder from the security team about account " ~ account_id %}
Our own reminder: the key {{ access_key_id }} of {{ user_name }} was found in public.
"""
WITH_NUDGE = SMALL_SCENARIO.replace(
    "  - {id: support-case, type: support-case, at: 2m}\n",
    "  - {id: support-case, type: support-case, at: 2m}\n"
    "  - {id: nudge, type: email, at: 3m, template: emails/nudge}\n",
)


def scenario_with_templates(folder: Path, scenario: str = WITH_NUDGE) -> Path:
    (folder / "templates" / "emails").mkdir(parents=True)
    (folder / "templates" / "emails" / "nudge.txt.j2").write_text(NUDGE, encoding="utf-8")
    path = folder / "nudge.yaml"
    path.write_text(scenario, encoding="utf-8")
    return path


def test_validate_finds_a_template_in_the_folder_beside_the_scenario(tmp_path: Path) -> None:
    path = scenario_with_templates(tmp_path)
    result = gameday_here("validate", "--strict", str(path))
    assert (result.returncode, result.stderr) == (0, "")


def test_render_uses_the_scenarios_own_template(tmp_path: Path) -> None:
    path = scenario_with_templates(tmp_path)
    result = gameday_here("render", str(path))
    assert result.returncode == 0, result.stderr
    assert "Reminder from the security team about account 491826357014" in result.stdout
    assert "Our own reminder: the key AKIA" in result.stdout


def test_the_scenarios_own_template_comes_before_gameday_s(tmp_path: Path) -> None:
    path = scenario_with_templates(tmp_path)
    (tmp_path / "templates" / "cases").mkdir()
    own = tmp_path / "templates" / "cases" / "account-compromised.txt.j2"
    own.write_text('{% set subject = "Our wording" %}\nOur own case notice.\n', encoding="utf-8")
    result = gameday_here("render", str(path))
    assert result.returncode == 0, result.stderr
    assert "Our own case notice." in result.stdout


def test_without_its_folder_the_template_is_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nudge.yaml"
    path.write_text(WITH_NUDGE, encoding="utf-8")
    result = gameday_here("validate", str(path))
    assert result.returncode == 2
    line = f"{path}:30:48: inject 'nudge': template 'emails/nudge.txt.j2' not found in "
    assert result.stderr.startswith(line)
    assert "gameday schema" not in result.stderr


def test_a_symlink_out_of_the_scenarios_folder_is_refused(tmp_path: Path) -> None:
    path = scenario_with_templates(tmp_path)
    secret = tmp_path / "elsewhere.txt.j2"
    secret.write_text("{% set subject = 'x' %}not a template of the scenario\n", encoding="utf-8")
    link = tmp_path / "templates" / "emails" / "nudge.txt.j2"
    link.unlink()
    link.symlink_to(secret)
    result = gameday_here("validate", str(path))
    assert result.returncode == 2
    assert "inject 'nudge': template 'emails/nudge.txt.j2' resolves to " in result.stderr
    assert "outside the template folders" in result.stderr


def test_a_symlink_into_gameday_s_own_templates_is_refused_too(tmp_path: Path) -> None:
    # confined to its own folder: not even another template folder may be reached through it
    path = scenario_with_templates(tmp_path)
    link = tmp_path / "templates" / "emails" / "nudge.txt.j2"
    link.unlink()
    link.symlink_to(REPO_ROOT / "templates" / "emails" / "follow-up.txt.j2")
    result = gameday_here("validate", str(path))
    assert result.returncode == 2
    assert "outside the template folders" in result.stderr


def test_a_name_climbing_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    path = scenario_with_templates(
        tmp_path, WITH_NUDGE.replace("template: emails/nudge", "template: ../nudge")
    )
    result = gameday_here("validate", str(path))
    assert result.returncode == 2
    assert "template '../nudge' is outside the template folders" in result.stderr


def run_reference(path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`gameday run` of a scenario with the reference runbook in virtual time, into `out`."""
    reference = str(REPO_ROOT / "runbooks" / "reference.py")
    options = ("--clock", "virtual", "--responder", reference, "--out", str(out))
    return gameday_here("run", str(path), *options, timeout=600)


def test_run_sends_the_scenarios_own_email_and_keeps_its_templates(tmp_path: Path) -> None:
    path = scenario_with_templates(tmp_path / "scenario")
    out = tmp_path / "run"
    result = run_reference(path, out)
    assert result.returncode in (0, 1), result.stderr
    bodies = [m.get_payload(decode=True) for m in mailbox.Maildir(out / "mail", create=False)]
    assert any(b is not None and b"Our own reminder: the key AKIA" in b for b in bodies)
    # a recovery plays the run again from its own copy: the templates travel with it
    assert (out / "templates" / "emails" / "nudge.txt.j2").read_text(encoding="utf-8") == NUDGE


def test_run_refuses_a_missing_template_before_the_room_starts(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(
        WITH_NUDGE.replace("template: emails/nudge", "template: emails/followup"),
        encoding="utf-8",
    )
    out = tmp_path / "run"
    result = run_reference(path, out)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{path}:30:48: inject 'nudge': template 'emails/followup.txt.j2' not found in "
        "gameday's templates — did you mean 'emails/follow-up.txt.j2'?"
    ]
    assert result.stdout == ""
    assert not out.exists()
