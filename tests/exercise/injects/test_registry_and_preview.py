"""The inject registry, the preview, the facts, and the contracts others rely on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gameday.errors import UserError
from gameday.exercise.injects import (
    REGISTRY,
    Delivered,
    IncidentFacts,
    MockAws,
    Registry,
    SmtpOptions,
    preview,
    sample_facts,
)
from gameday.exercise.injects.base import nominal_times
from gameday.exercise.injects.console import CHANNEL as CONSOLE
from gameday.scenario.model import PhoneCallInject, Scenario
from gameday.world.decoys import account_of, estate_credentials

from .harness import ACCOUNT_ID, scenario_for

DOCS = Path(__file__).resolve().parents[3] / "docs" / "injects.md"
MODEL_TYPES = {"quarantine", "support-case", "email", "phone-call", "health-event", "webhook",
               "console"}  # fmt: skip
TIMELINE = [
    {"id": "quarantine", "type": "quarantine", "at": "67s"},
    {"id": "case", "type": "support-case", "at": "2m"},
    {"id": "case-email", "type": "email", "at": "2m"},
    {"id": "health", "type": "health-event", "at": "2m"},
    {"id": "call", "type": "phone-call", "at": "10m"},
    {"id": "chat", "type": "webhook", "after": {"inject": "health", "delay": "30s"}},
    {"id": "late", "type": "console", "after": {"inject": "chat", "delay": "1m"}, "text": "cue"},
]


def test_every_inject_type_of_the_scenario_format_has_a_channel() -> None:
    assert set(REGISTRY.names()) == MODEL_TYPES


def test_the_registry_refuses_duplicates_and_suggests_close_names() -> None:
    registry = Registry()
    registry.register(CONSOLE)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(CONSOLE)
    with pytest.raises(UserError, match="unknown inject type 'emial' — did you mean 'email'"):
        REGISTRY.get("emial")


def test_the_catalogue_in_the_docs_is_current() -> None:
    text = DOCS.read_text()
    start = text.index("<!-- catalogue:start -->\n") + len("<!-- catalogue:start -->\n")
    end = text.index("<!-- catalogue:end -->")
    assert text[start:end] == REGISTRY.catalogue(), "regenerate it with REGISTRY.catalogue()"


def test_preview_renders_every_inject_in_firing_order_without_side_effects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = scenario_for("deploy-bot", TIMELINE)
    facts = sample_facts(scenario)

    delivered = preview(scenario, facts)

    assert [(d.id, d.t) for d in delivered] == [
        ("quarantine", 67.0), ("case", 120.0), ("case-email", 120.0), ("health", 120.0),
        ("chat", 150.0), ("late", 210.0), ("call", 600.0),
    ]  # fmt: skip
    assert list(tmp_path.iterdir()) == []
    assert preview(scenario, facts) == delivered  # the same text every time
    by_id = {d.id: d for d in delivered}
    for message in ("case", "case-email", "call"):
        data = by_id[message].data
        assert data["account_id"] == ACCOUNT_ID
        assert data["access_key_id"] == facts.access_key_id
        assert data["user_name"] == "deploy-bot"
        assert data["case_id"] == facts.case_id
        assert data["public_url"] == facts.public_url
    health = by_id["health"].data
    assert health["access_key_id"] == facts.access_key_id
    assert health["event"]["detail"]["affectedEntities"][0]["entityValue"] == facts.access_key_id
    json.dumps([d.data for d in delivered])  # what the journal stores must be JSON


def test_sample_facts_leak_the_key_a_run_with_the_same_seed_leaks() -> None:
    scenario = scenario_for("deploy-bot", TIMELINE)
    facts = sample_facts(scenario, seed=3)
    assert facts.access_key_id == estate_credentials(scenario, 3)["deploy"].access_key_id
    assert account_of(facts.access_key_id) == ACCOUNT_ID
    assert facts.public_url == (
        f"https://github.com/acme/deploy-tools/blob/{facts.leak_commit}/scripts/deploy.sh"
    )
    assert facts.case_id.isdigit() and len(facts.case_id) == 10
    assert sample_facts(scenario, seed=3) == facts
    assert sample_facts(scenario, seed=4).case_id != facts.case_id


def test_contacts_fall_back_to_the_primary() -> None:
    facts = sample_facts(scenario_for("deploy-bot", []))
    assert facts.contact("security").name == "Sam Secure"
    assert facts.contact("billing").name == "Dana Ops"
    with pytest.raises(UserError, match="did you mean 'security'"):
        facts.contact("securty")


def test_facts_need_the_leaking_path() -> None:
    scenario = scenario_for("deploy-bot", [])
    data = scenario.model_dump()
    data["leak"]["path"] = None
    unplaced = type(scenario).model_validate(data)
    with pytest.raises(UserError, match="leak has no path"):
        IncidentFacts.from_scenario(unplaced, access_key_id="AKIA", leak_commit="0" * 40,
                                    t0=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip


def test_nominal_times_follow_after_chains() -> None:
    scenario = scenario_for("deploy-bot", TIMELINE)
    assert nominal_times(scenario)["late"] == 120 + 30 + 60


def test_delivered_round_trips_through_a_journal_event() -> None:
    delivered = Delivered("email", "case-email", 120.0, "s", "b", {"case_id": "1234567890"})
    event = {"seq": 1, "t": 120.0, "kind": "inject.delivered", **delivered.to_event_fields()}
    assert Delivered.from_event(json.loads(json.dumps(event))) == delivered


def test_smtp_options_parse_host_port_and_the_login_from_the_environment() -> None:
    options = SmtpOptions.parse(
        "mail.acme.example:587",
        starttls=True,
        environ={"GAMEDAY_SMTP_USER": "u", "GAMEDAY_SMTP_PASSWORD": "p"},
    )
    assert (options.host, options.port, options.starttls) == ("mail.acme.example", 587, True)
    assert (options.user, options.password) == ("u", "p")
    assert "password" not in repr(options)
    assert SmtpOptions.parse("127.0.0.1:25", environ={}).user is None
    for bad in ("mail.acme.example", "host:port", ":25", "host:99999"):
        with pytest.raises(UserError, match="host:port"):
            SmtpOptions.parse(bad, environ={})


def test_the_mock_endpoint_must_be_on_loopback() -> None:
    MockAws("http://127.0.0.1:5000", "AKIA", "secret")
    MockAws("http://localhost:5000", "AKIA", "secret")
    with pytest.raises(ValueError, match="loopback"):
        MockAws("https://mock.acme.example", "AKIA", "secret")


def test_the_seed_scenario_previews_completely(seed_scenario: Scenario) -> None:
    facts = sample_facts(seed_scenario, seed=7)
    delivered = preview(seed_scenario, facts)
    assert [d.id for d in delivered] == [i.id for i in sorted(
        seed_scenario.timeline, key=lambda i: nominal_times(seed_scenario)[i.id])]  # fmt: skip
    kinds = {d.kind for d in delivered}
    assert {"quarantine", "support-case", "email", "health-event", "phone-call"} <= kinds
    call = next(d for d in delivered if d.kind == "phone-call")
    (inject,) = [i for i in seed_scenario.timeline if i.id == call.id]
    assert isinstance(inject, PhoneCallInject)
    assert f"you play the caller ({inject.caller})" in " ".join(call.body.split())
    assert "You are " not in call.body
