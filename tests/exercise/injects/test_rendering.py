"""The sandboxed template environment and the simulation marker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gameday.errors import UserError
from gameday.exercise.injects import MARKER, Renderer, preview, sample_facts
from gameday.exercise.injects.rendering import (
    check_template_name,
    header,
    marked_html,
    marked_subject,
    marked_text,
    project_templates,
    template_base,
)

from .harness import scenario_for

CHANNEL_FOLDERS = ("emails", "calls", "cases", "events", "webhooks")
EVERY_INJECT = [
    {"id": "quarantine", "type": "quarantine", "at": "67s"},
    {"id": "case", "type": "support-case", "at": "2m"},
    {"id": "case-email", "type": "email", "at": "2m"},
    {"id": "health", "type": "health-event", "at": "2m"},
    {"id": "call", "type": "phone-call", "at": "10m"},
    {"id": "chat", "type": "webhook", "after": {"inject": "health", "delay": "30s"}},
    {"id": "follow-up", "type": "email", "at": "1h", "template": "follow-up"},
    {"id": "call-again", "type": "phone-call", "at": "1d", "template": "follow-up"},
    {"id": "newer-case", "type": "support-case", "at": "3m", "template": "access-key-exposed"},
    *({"id": f"event-{n}", "type": "health-event", "at": "2m", "event_type_code": code}
      for n, code in enumerate(["AWS_RISK_CREDENTIALS_COMPROMISED",
                                "AWS_RISK_CREDENTIALS_COMPROMISE_SUSPECTED",
                                "AWS_RISK_CREDENTIALS_EXPOSURE_SUSPECTED",
                                "AWS_RISK_IAM_QUARANTINE"])),
    {"id": "cue", "type": "console", "at": "5m", "text": "cue"},
]  # fmt: skip


def own_templates(tmp_path: Path, files: dict[str, str]) -> Renderer:
    folder = tmp_path / "templates"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return Renderer(folder)


def test_every_project_template_carries_the_marker() -> None:
    root = project_templates()
    templates = [p for folder in CHANNEL_FOLDERS for p in (root / folder).rglob("*.j2")]
    # a part (`emails/parts/…`) is a piece of a message, marked by the templates including it
    parts = [p for p in templates if p.parent.name == "parts"]
    whole = [p for p in templates if p not in parts]
    assert len(whole) >= 14
    for path in whole:
        assert MARKER in path.read_text(), path
    for part in parts:
        name = part.relative_to(root).as_posix()
        including = [p for p in whole if f'{{% include "{name}" %}}' in p.read_text()]
        assert including, f"{name} is included by no template"


def test_every_message_responders_receive_is_marked() -> None:
    scenario = scenario_for("deploy-bot", EVERY_INJECT)
    delivered = preview(scenario, sample_facts(scenario))
    assert [d.id for d in delivered][:3] == ["quarantine", "case", "case-email"]
    for message in delivered:
        if message.kind in ("quarantine", "console"):
            continue  # an action, and a facilitator's cue: responders receive neither
        assert message.subject.startswith(f"[{MARKER}] "), message.id
        assert MARKER in message.body, message.id


def test_undefined_variables_are_errors_with_file_and_line(tmp_path: Path) -> None:
    renderer = own_templates(
        tmp_path, {"emails/broken.txt.j2": "{% set subject = 'x' %}\nline\n{{ no_such_fact }}\n"}
    )
    with pytest.raises(UserError, match=r"broken\.txt\.j2:3: 'no_such_fact' is undefined"):
        renderer.render("emails/broken.txt.j2", {"marker": MARKER})


def test_a_template_from_the_scenario_folder_is_found_first(tmp_path: Path) -> None:
    renderer = own_templates(
        tmp_path, {"emails/case-opened.txt.j2": "{% set subject = 'ours' %}" + MARKER}
    )
    rendered = renderer.render("emails/case-opened.txt.j2", {})
    assert rendered.export("subject") == "ours"
    assert renderer.exists("emails/follow-up.txt.j2")  # the project's, still reachable


@pytest.mark.parametrize(
    "source",
    ["{{ ''.__class__.__mro__[1].__subclasses__() }}",
     "{{ access_key_id.__class__.__base__ }}",
     "{{ cycler.__init__.__globals__ }}",
     "{{ lipsum.__globals__['os'] }}",
     "{{ '{0.__class__}'.format(access_key_id) }}",
     "{% set keys = [] %}{{ keys.append(1) }}"],
)  # fmt: skip
def test_the_sandbox_blocks_attribute_tricks(tmp_path: Path, source: str) -> None:
    renderer = own_templates(tmp_path, {"emails/evil.txt.j2": source})
    with pytest.raises(UserError, match=r"evil\.txt\.j2:1: unsafe template"):
        renderer.render("emails/evil.txt.j2", {"access_key_id": "AKIA"})
    with pytest.raises(UserError, match="inject 'x' subject:1: unsafe template"):
        renderer.render_string(source, {"access_key_id": "AKIA"}, what="inject 'x' subject")


def test_scenario_text_is_rendered_in_the_sandbox_too() -> None:
    scenario = scenario_for(
        "deploy-bot",
        [{"id": "x", "type": "console", "at": "1m", "text": "{{ ''.__class__.__mro__ }}"}],
    )
    with pytest.raises(UserError, match="inject 'x' text"):
        preview(scenario, sample_facts(scenario))


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "/etc/passwd", "emails/../../secrets.txt.j2", "emails\\x.txt.j2",
     ".hidden/x", "emails//x"],
)  # fmt: skip
def test_template_names_cannot_leave_the_template_folders(name: str) -> None:
    with pytest.raises(UserError, match="outside the template folders"):
        check_template_name(name)
    scenario = scenario_for(
        "deploy-bot", [{"id": "mail", "type": "email", "at": "2m", "template": name}]
    )
    with pytest.raises(UserError, match="outside the template folders"):
        preview(scenario, sample_facts(scenario))


def test_a_symlink_out_of_the_template_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for templates")
    renderer = own_templates(tmp_path, {})
    (renderer.folders[0] / "emails").mkdir(parents=True)
    (renderer.folders[0] / "emails" / "leak.txt.j2").symlink_to(secret)
    with pytest.raises(UserError, match="outside the template folders"):
        renderer.render("emails/leak.txt.j2", {})


def test_a_missing_template_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=re.escape("did you mean 'emails/follow-up.txt.j2'")):
        Renderer().render("emails/folow-up.txt.j2", {})


def test_header_fields_reject_line_breaks() -> None:
    assert header("Case 123", "subject") == "Case 123"
    for value in ("a\nBcc: x@example.com", "a\rb", "a\r\nb"):
        with pytest.raises(UserError, match="subject header contains a line break"):
            header(value, "subject")
        with pytest.raises(UserError, match="line break"):
            marked_subject(value)


def test_a_template_subject_with_a_line_break_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "emails").mkdir(parents=True)
    (templates / "emails" / "sneaky.txt.j2").write_text(
        "{% set subject = 'Hi\\nBcc: all@acme.example' %}" + MARKER
    )
    scenario = scenario_for(
        "deploy-bot", [{"id": "mail", "type": "email", "at": "2m", "template": "sneaky"}]
    )
    with pytest.raises(UserError, match="line break"):
        preview(scenario, sample_facts(scenario), templates=templates)


def test_html_is_autoescaped_and_text_is_not(tmp_path: Path) -> None:
    renderer = own_templates(
        tmp_path, {"emails/n.html.j2": "<p>{{ name }}</p>", "emails/n.txt.j2": "{{ name }}"}
    )
    assert renderer.render("emails/n.html.j2", {"name": "<b>Dana</b>"}).text == (
        "<p>&lt;b&gt;Dana&lt;/b&gt;</p>"
    )
    assert renderer.render("emails/n.txt.j2", {"name": "<b>Dana</b>"}).text == "<b>Dana</b>"


def test_markers_are_added_once() -> None:
    assert marked_subject("Hello") == f"[{MARKER}] Hello"
    assert marked_subject(marked_subject("Hello")) == f"[{MARKER}] Hello"
    assert marked_text("Body").startswith(f"[{MARKER}]")
    assert marked_text(marked_text("Body")) == marked_text("Body")
    html = marked_html("<html><body><p>Hi</p></body></html>")
    assert html.index(MARKER) > html.index("<body>")
    assert marked_html(html) == html


def test_template_base_resolves_short_names() -> None:
    assert template_base(None, "emails", "emails/case-opened") == "emails/case-opened"
    assert template_base("follow-up", "emails", "emails/case-opened") == "emails/follow-up"
    assert template_base("emails/follow-up.txt.j2", "emails", "x") == "emails/follow-up"
    assert template_base("org/notice", "emails", "x") == "org/notice"


def test_a_scenario_played_again_is_checked_again_once_a_template_changes(tmp_path: Path) -> None:
    """A process loads a scenario it has checked before without rendering its injects again
    (a run's load), but a template that changed since — even to the same size, within the
    same clock tick — is rendered again, and a broken one refused."""
    from gameday.errors import ScenarioError
    from gameday.exercise.preflight import checks_key, scenario_checks
    from gameday.paths import SCENARIOS
    from gameday.scenario import load_scenario

    scenario = tmp_path / "seed.yaml"
    scenario.write_text((SCENARIOS / "exported-keys-in-script.yaml").read_text())
    ours = tmp_path / "templates" / "emails" / "case-opened.txt.j2"
    ours.parent.mkdir(parents=True)
    good = "{% set subject = 'Case opened' %}" + MARKER + " {{ 1 }}"
    ours.write_text(good)

    def load() -> object:
        return load_scenario(
            scenario,
            checks=scenario_checks(None, scenario),
            checks_key=checks_key(None, scenario),
        )

    first = load()
    assert load() is first
    broken = good.replace("{{ 1 }}", "{% 1 %}")
    assert len(broken) == len(good)
    ours.write_text(broken)  # the same size, and written at once
    with pytest.raises(ScenarioError, match="case-opened"):
        load()
