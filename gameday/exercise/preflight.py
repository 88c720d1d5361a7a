"""What `gameday validate` checks beyond the scenario format, so a run never stops half-way.

The format (`gameday.scenario`) knows the shape of a scenario; some of its mistakes only
show when the exercise uses it: a template name that leaves the template folders or does
not exist, a sandbox violation or a runaway loop in the scenario's own text, a subject a
template turns into two lines, an AWS managed policy that AWS does not have. These checks
render every inject once, in the bounded sandbox, with the facts a run would have, and look
each managed policy up — and report what fails at the scenario field that caused it.
`gameday validate`, `gameday run` and `gameday render` load scenarios with them.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
from collections.abc import Hashable, Iterator
from contextlib import suppress
from functools import cache
from pathlib import Path
from types import ModuleType

from gameday.errors import UserError
from gameday.exercise.injects import REGISTRY, sample_facts
from gameday.exercise.injects.base import nominal_times
from gameday.exercise.injects.rendering import (
    Renderer,
    RenderError,
    Scene,
    project_templates,
    template_folders,
)
from gameday.exercise.injects.sandbox import shared_budget
from gameday.scenario.limits import RENDER_SECONDS, RENDER_STEPS
from gameday.scenario.loader import Loc, ScenarioCheck, character_problem
from gameday.scenario.model import Inject, Scenario

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
# All the injects of one scenario render within this (a normal one takes ~10,000 steps).
VALIDATE_STEPS = 5 * RENDER_STEPS
VALIDATE_SECONDS = 3 * RENDER_SECONDS


def scenario_checks(
    templates: Path | None = None, scenario_path: Path | None = None
) -> tuple[ScenarioCheck, ...]:
    """The checks to load a scenario with, rendering with `templates` (the `--templates`)
    and the `templates/` folder beside the scenario file, before gameday's own."""

    def injects_render(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
        return check_injects(scenario, Renderer(template_folders(templates, scenario_path)))

    return (injects_render, check_managed_policies)


def checks_key(templates: Path | None = None, scenario_path: Path | None = None) -> Hashable:
    """What the outcome of `scenario_checks(templates, scenario_path)` depends on beside the
    scenario's text: every file of the template folders they render with (its name and a
    digest of its bytes). A process that plays a scenario again loads it without rendering
    its injects again unless a template changed (`load_scenario`'s `checks_key`)."""
    folders = (*template_folders(templates, scenario_path), project_templates())
    return tuple((str(folder), _files_of(folder)) for folder in folders)


def _files_of(folder: Path) -> tuple[tuple[str, bytes], ...]:
    if not folder.is_dir():
        return ()
    found = []
    for path in sorted(folder.rglob("*")):
        with suppress(OSError):
            if path.is_file():
                digest = hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
                found.append((path.relative_to(folder).as_posix(), digest))
    return tuple(found)


def check_injects(scenario: Scenario, renderer: Renderer) -> Iterator[tuple[Loc, str]]:
    """Every inject rendered at its nominal time; each failure at the field that caused it."""
    facts = sample_facts(scenario)
    times = nominal_times(scenario)
    with shared_budget(VALIDATE_STEPS, VALIDATE_SECONDS):
        for index, inject in enumerate(scenario.timeline):
            scene = Scene(scenario, facts, renderer, times[inject.id])
            try:
                delivered = REGISTRY.get(inject.type).render(inject, scene).delivered
            except UserError as error:
                yield _field_at_fault(inject, index, error), _explained(inject, error)
                continue
            # what a template prints reaches mail clients and terminals: no control bytes
            for text in (delivered.subject, delivered.body):
                if problem := character_problem(text):
                    what = problem.removeprefix("the text ")
                    message = f"inject '{inject.id}' renders to text that {what}"
                    yield _field_at_fault(inject, index, None), message
                    break


def _field_at_fault(inject: Inject, index: int, error: UserError | None) -> Loc:
    loc: Loc = ("timeline", index)
    inline = {
        field: getattr(inject, field, None)
        for field in ("subject", "text")
        if getattr(inject, field, None) is not None
    }
    if isinstance(error, RenderError) and error.source is not None:
        for field, text in inline.items():
            if text == error.source:
                return (*loc, field)
    if inject.template is not None:
        return (*loc, "template")
    if len(inline) == 1:
        return (*loc, next(iter(inline)))
    return loc


def _explained(inject: Inject, error: UserError) -> str:
    message = str(error).replace("\n", " ")
    if " — " not in message:
        message += " — fix the inject or its template"
    return message if f"'{inject.id}'" in message else f"inject '{inject.id}': {message}"


@cache
def aws_managed_policies() -> frozenset[str]:
    """The ARNs of the AWS managed policies AWS (and so the mock) has.

    Read from moto's data module alone: importing `moto.iam` would import moto's IAM models
    and boto3 — a second of start-up that `gameday validate` has no use for. The list is kept
    in the service-model cache (`gameday.world.service_models`), under the module's size and
    modification time: parsing the module's five megabytes of JSON costs 60 ms a process.
    """
    from gameday.world import service_models

    data_module = "iam/aws_managed_policies.py"

    def arns() -> list[str]:
        module = _moto_module(data_module)
        policies = json.loads(module.aws_managed_policies_data)
        return sorted(
            f"arn:aws:iam::aws:policy{entry.get('Path', '/')}{name}"
            for name, entry in policies.items()
        )

    source = str(_moto_file(data_module))
    listed = service_models.load_data_file(source, arns, view="aws-managed-policy-arns")
    return frozenset(listed)


def _moto_file(relative: str) -> Path:
    """The path of one file of the installed moto, found without importing the moto package."""
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("moto is not installed")
    return Path(spec.origin).parent / relative


def _moto_module(relative: str) -> ModuleType:
    """One module file of the installed moto, loaded without importing the moto package."""
    path = _moto_file(relative)
    module_spec = importlib.util.spec_from_file_location(f"gameday._moto.{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ModuleNotFoundError(f"moto has no {relative}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def check_managed_policies(scenario: Scenario) -> Iterator[tuple[Loc, str]]:
    """Each AWS managed policy the estate attaches exists in AWS."""
    estate = scenario.account.estate
    known = aws_managed_policies()
    attached: list[tuple[str, list[list[str]]]] = [
        ("users", [user.policies for user in estate.users]),
        ("groups", [group.policies for group in estate.groups]),
        ("roles", [role.policies for role in estate.roles]),
    ]
    for section, holders in attached:
        for index, policies in enumerate(holders):
            for p_index, arn in enumerate(policies):
                if arn.startswith(AWS_MANAGED_PREFIX) and arn not in known:
                    yield (
                        ("account", "estate", section, index, "policies", p_index),
                        f"'{arn}' is not an AWS managed policy — {_closest(arn, known)}",
                    )


def _closest(arn: str, known: frozenset[str]) -> str:
    by_name = {known_arn.rsplit("/", 1)[-1]: known_arn for known_arn in known}
    close = difflib.get_close_matches(arn.rsplit("/", 1)[-1], list(by_name), n=1, cutoff=0.6)
    if close:
        return f"did you mean '{by_name[close[0]]}'?"
    return "check the name in the IAM console's list of AWS managed policies"
