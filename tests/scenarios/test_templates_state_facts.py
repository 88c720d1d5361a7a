"""Templates state only the facts a scenario has: every template of gameday's own, rendered
against every scenario of the library — as it is, without its support case, without its
quarantine, and without either — never tells of a case or a quarantine the scenario does not
have (and, where it has them, still tells of them).

Each library scenario is loaded once for the module, and one renderer serves every preview,
as one serves every inject of a run: what is read is the templates, not the loader.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sweeps import QUICK_SCENARIOS, library_params

from gameday.exercise.injects import Delivered, IncidentFacts, preview, sample_facts
from gameday.exercise.injects.rendering import Renderer, project_templates
from gameday.scenario import load_scenario
from gameday.scenario.model import QuarantineInject, Scenario, SupportCaseInject

from . import REPO_ROOT

LIBRARY = sorted((REPO_ROOT / "scenarios").glob("*.yaml"))
# every template against every scenario is a sweep; the quick suite keeps a basic-support
# account (no phone call, no Support API) beside the representative ones
QUICK = QUICK_SCENARIOS | {"credentials-file-basic-support"}
TEMPLATES = project_templates()
RENDERER = Renderer()
# the folders of inject templates, and the inject type that renders each
KINDS = {
    "emails": "email",
    "calls": "phone-call",
    "events": "health-event",
    "webhooks": "webhook",
    "cases": "support-case",
}
SUFFIXES = (".txt.j2", ".html.j2", ".md.j2")

# What only a scenario with a support case may say, and only one with a quarantine.
CASE_CLAIMS = re.compile(r"\bcase\b|Case ID|support case", re.IGNORECASE)
QUARANTINE_CLAIMS = re.compile(
    r"quarantin|temporarily limit|limited the ability|limits the ability", re.IGNORECASE
)


@cache
def library_scenario(path: Path) -> Scenario:
    """A scenario of the library, loaded once (a model is never changed: frozen)."""
    return load_scenario(path)


def previewed(scenario: Scenario, facts: IncidentFacts | None = None) -> list[Delivered]:
    """Every inject of `scenario` as `gameday render` previews it, by the one renderer."""
    return preview(scenario, facts or sample_facts(scenario), renderer=RENDERER)


def inject_templates() -> list[str]:
    names = set()
    for folder in KINDS:
        for path in (TEMPLATES / folder).glob("*.j2"):
            name = f"{folder}/{path.name}"
            for suffix in SUFFIXES:
                name = name.removesuffix(suffix)
            names.add(name)
    return sorted(names)


def with_every_template(scenario: Scenario, *, case: bool, quarantine: bool) -> Scenario:
    """`scenario` with (or without) its case and quarantine, and one inject per template."""
    timeline: list[Any] = [
        inject
        for inject in scenario.timeline
        if (case or not isinstance(inject, SupportCaseInject))
        and (quarantine or not isinstance(inject, QuarantineInject))
        and inject.after is None  # what waited on a removed inject goes with it
    ]
    kept = {i.id for i in timeline}
    timeline += [i for i in scenario.timeline if i.after is not None and i.after.inject in kept]
    extra: list[dict[str, Any]] = []
    for index, name in enumerate(inject_templates()):
        kind = KINDS[name.split("/")[0]]
        if kind == "support-case" and not case:
            continue  # a case template renders as a case only where there is one
        extra.append({"id": f"t{index}", "type": kind, "at": 3600.0, "template": name})
    data = scenario.model_dump(exclude_none=True)
    data["timeline"] = [i.model_dump(exclude_none=True) for i in timeline] + extra
    return Scenario.model_validate(data)


VARIANTS = [(True, True), (False, True), (True, False), (False, False)]


@pytest.mark.parametrize("name", library_params([p.stem for p in LIBRARY], quick=QUICK))
@pytest.mark.parametrize(
    ("case", "quarantine"), VARIANTS, ids=["as-is", "no-case", "no-quarantine", "neither"]
)
def test_no_template_claims_a_case_or_quarantine_the_scenario_lacks(
    name: str, case: bool, quarantine: bool
) -> None:
    original = library_scenario(REPO_ROOT / "scenarios" / f"{name}.yaml")
    scenario = with_every_template(original, case=case, quarantine=quarantine)
    has_case = any(isinstance(i, SupportCaseInject) for i in scenario.timeline)
    has_quarantine = any(isinstance(i, QuarantineInject) for i in scenario.timeline)
    facts = sample_facts(scenario)
    rendered = [d for d in previewed(scenario, facts) if d.kind not in ("quarantine", "console")]
    assert len(rendered) >= len(inject_templates()) - (0 if case else 2)
    for delivered in rendered:
        text = f"{delivered.subject}\n{delivered.body}"
        if not has_case:
            assert facts.case_id not in text, (delivered.id, delivered.data.get("template"))
            found = CASE_CLAIMS.search(text)
            assert found is None, (delivered.data.get("template"), found)
        if not has_quarantine:
            found = QUARANTINE_CLAIMS.search(text)
            is_event_code = found is not None and "AWS_RISK_IAM_QUARANTINE" in text
            assert found is None or is_event_code, (delivered.data.get("template"), found)


def test_a_scenario_with_both_still_hears_of_both() -> None:
    scenario = with_every_template(
        library_scenario(REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml"),
        case=True,
        quarantine=True,
    )
    facts = sample_facts(scenario)
    by_template = {d.data.get("template"): d.body for d in previewed(scenario, facts)}
    assert f"has opened case {facts.case_id} on your behalf" in by_template["emails/case-opened"]
    assert "temporarily limited" in by_template["emails/case-opened"]
    assert "attached a quarantine policy" in by_template["calls/enterprise-support"]
    assert f"support case {facts.case_id}" in by_template["webhooks/health-alert"]


def test_an_email_without_a_case_tells_of_no_case() -> None:
    scenario = with_every_template(
        library_scenario(REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml"),
        case=False,
        quarantine=False,
    )
    body = next(
        d.body for d in previewed(scenario) if d.data.get("template") == "emails/case-opened"
    )
    assert "Amazon Web Services has found an access key of your account in public" in body
    assert "Step 4: Check every AWS Region" in body


# What only a key that worked at the push may be said to do.
WORKING_CLAIMS = re.compile(
    r"keeps working|remains active|still active|stays active|can call AWS with this key",
    re.IGNORECASE,
)


def test_a_key_inactive_at_the_push_is_never_said_to_work() -> None:
    scenario = with_every_template(
        library_scenario(REPO_ROOT / "scenarios" / "false-alarm-inactive-key.yaml"),
        case=True,
        quarantine=True,
    )
    rendered = [d for d in previewed(scenario) if d.kind != "console"]
    assert rendered
    for delivered in rendered:
        found = WORKING_CLAIMS.search(f"{delivered.subject}\n{delivered.body}")
        assert found is None, (delivered.data.get("template") or delivered.kind, found)
    case = next(d.body for d in rendered if d.kind == "support-case")
    assert "works again the moment someone reactivates it" in case


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_the_support_api_is_offered_only_on_plans_that_have_it(path: Path) -> None:
    scenario = library_scenario(path)
    emails = [d.body for d in previewed(scenario) if d.data.get("template") == "emails/case-opened"]
    offered = any("support describe-cases" in body for body in emails)
    if scenario.account.support_plan in ("business", "enterprise"):
        assert offered == bool(emails)
    else:
        assert not offered
        assert all("the Support API is not available" in body for body in emails if "case" in body)


def test_a_notice_tells_only_of_what_aws_has_done_by_then() -> None:
    """A webhook a day before AWS's quarantine and case does not announce them."""
    scenario = library_scenario(REPO_ROOT / "scenarios" / "exported-keys-in-script.yaml")
    data = scenario.model_dump(exclude_none=True)
    data["timeline"].append(
        {"id": "early-alert", "type": "webhook", "at": 30.0, "url": "http://127.0.0.1:9/hook"}
    )
    data["timeline"].append(
        {"id": "late-alert", "type": "webhook", "at": 3600.0, "url": "http://127.0.0.1:9/hook"}
    )
    scenario = Scenario.model_validate(data)
    facts = sample_facts(scenario)
    by_id = {d.id: d.body for d in previewed(scenario, facts)}
    assert "quarantined" not in by_id["early-alert"]
    assert facts.case_id not in by_id["early-alert"]
    assert (
        f"AWS has quarantined the user and opened support case {facts.case_id}"
        in (by_id["late-alert"])
    )
