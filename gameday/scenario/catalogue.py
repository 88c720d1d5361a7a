"""docs/scenarios.md, generated from the scenario library so it cannot drift.

Regenerate with `python -m gameday.scenario.catalogue > docs/scenarios.md`; a test fails when
the file is stale. Everything on the page is read from the scenario files: who the victim
is, how the key leaks, what AWS and the attacker do and when, what the responders are
expected to do and what costs them, and what the debrief draws out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gameday.errors import UserError
from gameday.paths import PROJECT_ROOT
from gameday.scenario.durations import format_duration
from gameday.scenario.library import DEFAULT_LIBRARY, load_library
from gameday.scenario.model import (
    RELEASE_ASSET_VECTORS,
    Check,
    ConsoleInject,
    EmailInject,
    HealthEventInject,
    Inject,
    Penalty,
    PhoneCallInject,
    QuarantineInject,
    Scenario,
    Step,
    SupportCaseInject,
)
from gameday.scenario.model import Technique as TechniqueSpec

INTRODUCTION = """\
# The scenario library

Generated from the scenarios themselves (`python -m gameday.scenario.catalogue >
docs/scenarios.md`); do not edit. Each scenario is one YAML file under `scenarios/` (the format:
[writing a scenario](scenario-format.md)). Play one with people:

```console
$ gameday run scenarios/<id>.yaml
```

or rehearse it in virtual time with a runbook, as CI does for every scenario of the library:
`runbooks/reference.py` passes each one, `runbooks/careless.py` (a panicking team) fails each
one, and `runbooks/aws_health_automation.py` (AWS's published automation for the Health
event) contains every key but leaves the rest undone:

```console
$ gameday run scenarios/<id>.yaml --clock virtual --responder runbooks/reference.py
```

Times count from the push of the leaking commit (T0) for AWS and the attacker, and from
detection (the first notice the company receives) for the targets and deadlines of the steps.
Steps marked *critical* fail the run when missed; *keep* steps are met by not breaking what
already holds; *after* steps count only once the steps they name are done; *manual* steps are
marked by the facilitator (`gameday mark`), so a runbook never earns them.
"""


def render(folder: Path = DEFAULT_LIBRARY) -> str:
    """The catalogue of every scenario in `folder`; raises the error of an invalid one."""
    scenarios: list[Scenario] = []
    for entry in load_library(folder):
        if entry.error is not None:
            raise entry.error
        assert entry.scenario is not None
        scenarios.append(entry.scenario)
    if not scenarios:
        raise UserError(f"{folder}: no scenarios — nothing to catalogue")
    return render_scenarios(scenarios, folder)


def render_scenarios(scenarios: Sequence[Scenario], folder: Path = DEFAULT_LIBRARY) -> str:
    lines = [INTRODUCTION, *_overview(scenarios), ""]
    for scenario in scenarios:
        lines += _section(scenario, _shown_path(folder / f"{scenario.id}.yaml"))
    return "\n".join(lines).rstrip() + "\n"


def _shown_path(path: Path) -> str:
    resolved = path.resolve()
    if resolved.is_relative_to(PROJECT_ROOT):
        return str(resolved.relative_to(PROJECT_ROOT))
    return str(path)


# ── the overview ──────────────────────────────────────────────────────────────────────────


def _overview(scenarios: Sequence[Scenario]) -> list[str]:
    lines = [
        "## At a glance",
        "",
        "| scenario | difficulty | support plan | how the key leaks | the attacker tries "
        "| duration |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        tactics = sorted({_tactic(t) for t in scenario.attacker.techniques} - {"discovery"})
        lines.append(
            f"| [{_cell(scenario.title)}](#{scenario.id}) | {scenario.difficulty} "
            f"| {scenario.account.support_plan} | `{scenario.leak.vector}` "
            f"| {', '.join(tactics) or 'discovery only'} | {format_duration(scenario.duration)} |"
        )
    return lines


def _tactic(technique: TechniqueSpec) -> str:
    return technique.technique.split(".")[1]


# ── one scenario ──────────────────────────────────────────────────────────────────────────


def _section(scenario: Scenario, path: str) -> list[str]:
    account = scenario.account
    tags = ", ".join(f"`{tag}`" for tag in scenario.tags)
    lines = [
        f'<a id="{scenario.id}"></a>',
        f"## {scenario.title}",
        "",
        f"`{scenario.id}` · {scenario.difficulty} · {format_duration(scenario.duration)}"
        + (f" · {tags}" if tags else "")
        + f" · [{path}](../{path})",
        "",
        scenario.summary.strip(),
        "",
        f"**The account.** `{account.alias}` ({account.id}), {account.support_plan} support, "
        f"working in {', '.join(account.regions)}; "
        + ", ".join(
            _count(n, noun)
            for n, noun in (
                (len(account.estate.users), "IAM user"),
                (len(account.estate.roles), "role"),
                (len(account.estate.secrets), "secret"),
                (len(account.estate.buckets), "bucket"),
                (sum(i.count for i in account.estate.instances), "instance"),
                (len(account.estate.trails), "trail"),
            )
        )
        + ".",
        "",
        *_leak(scenario),
        "",
        "**AWS's side.**",
        "",
        "| when | inject | what |",
        "|---|---|---|",
        *[_inject_row(inject) for inject in scenario.timeline],
        "",
        *_attacker(scenario),
        "**Expected of the responders.**",
        "",
        "| step | phase | check | points | target | deadline |",
        "|---|---|---|---|---|---|",
        *[_step_row(step) for step in scenario.steps],
        "",
        *_penalties(scenario.penalties),
        *_pass_mark(scenario),
        "",
    ]
    if scenario.debrief:
        lines += ["**Debrief.**", ""]
        lines += [f"- *{note.title}* — {' '.join(note.body.split())}" for note in scenario.debrief]
        lines.append("")
    return lines


_TRICK_TEXT = {
    "feature-branch": "The leak is pushed on a feature branch that was never merged.",
    "tag": "The leak commit is tagged, and the tag pushed.",
    "release": "The leak commit is tagged and released; the release's source archive holds "
    "the file.",
    "commit-message": "The commit message names the key too.",
    "force-push": "Seconds later the author rewrites the branch without the key and "
    "force-pushes; the code host keeps the old commit and serves it by its id.",
    "fork": "Someone forks the public repository at the push; the fork keeps the key.",
}


_RELEASE_ASSET_TEXT = {
    "package-artifact": "an sdist that bundles the gitignored `.env`",
    "docker-image": "a `docker save` tarball whose layer holds `/root/.aws/credentials`",
}


def _leak(scenario: Scenario) -> list[str]:
    leak = scenario.leak
    users = {user.name: user for user in scenario.account.estate.users}
    owner = users[leak.user]
    key = next((k for k in owner.keys if k.id == leak.key), owner.keys[0])
    what = f"`{leak.path}` (vector `{leak.vector}`)" if leak.path else f"a `{leak.vector}` file"
    text = (
        f"**The leak.** {leak.author.name} pushes {what} to the public "
        f"repository `{leak.repository.owner}/{leak.repository.name}`: the key `{key.id}` of "
        f"`{leak.user}`, created {format_duration(key.age)} before"
    )
    if leak.vector in RELEASE_ASSET_VECTORS:
        asset = _RELEASE_ASSET_TEXT[leak.vector]
        text = (
            f"**The leak.** {leak.author.name} releases `{leak.repository.owner}/"
            f"{leak.repository.name}` with {asset} (vector `{leak.vector}`): the key "
            f"`{key.id}` of `{leak.user}`, created {format_duration(key.age)} before, is in the "
            "release's download and in no commit"
        )
    if key.status == "Inactive":
        text += ", **already inactive**"
    text += "."
    if leak.removed is not None:
        text += (
            f" The {_ordinal(leak.removed.after_commits)} commit after the leak removes the "
            "key from the file; the history keeps it."
        )
    if leak.trick is not None:
        text += " " + _TRICK_TEXT[leak.trick.type]
    workload = scenario.workload
    if workload is not None:
        text += (
            f" The production service `{workload.name}` runs with the key `{workload.key}` of "
            f"`{workload.user}`, read from the secret `{workload.secret}`"
            + (": **the leaked key itself**." if workload.key == key.id else ".")
        )
    return [text]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _inject_row(inject: Inject) -> str:
    if inject.after is not None:
        when = f"{format_duration(inject.after.delay)} after `{inject.after.inject}`"
    else:
        when = f"T+{format_duration(inject.at or 0.0)}"
    what = inject.type + _inject_details(inject)
    if inject.template:
        what += f" (`{inject.template}`)"
    conditions = [f"when {', '.join(inject.when)}"] if inject.when else []
    conditions += [f"unless {', '.join(inject.unless)}"] if inject.unless else []
    if conditions:
        what += f"; {'; '.join(conditions)}"
    return f"| {when} | `{inject.id}` | {_cell(what)} |"


def _inject_details(inject: Inject) -> str:
    if isinstance(inject, QuarantineInject):
        return f" — policy {inject.policy}"
    if isinstance(inject, SupportCaseInject):
        return f" — severity {inject.severity}"
    if isinstance(inject, EmailInject):
        return " — to " + ", ".join(inject.to)
    if isinstance(inject, PhoneCallInject):
        return f" — {inject.caller} calls {inject.to}"
    if isinstance(inject, HealthEventInject):
        return f" — `{inject.event_type_code}`"
    if isinstance(inject, ConsoleInject):
        return " — a cue for the facilitator"
    return " — a chat alert"


def _attacker(scenario: Scenario) -> list[str]:
    attacker = scenario.attacker
    if not attacker.techniques:
        return ["**The attacker.** None: nobody uses the key.", ""]
    lines = [
        f"**The attacker.** First use T+{format_duration(attacker.first_use)}"
        + (
            f"; for {format_duration(attacker.consistency_window)} after the quarantine its "
            "calls still succeed (IAM is eventually consistent)"
            if attacker.consistency_window
            else ""
        )
        + ".",
        "",
        "| when | technique | details |",
        "|---|---|---|",
    ]
    for technique in attacker.techniques:
        params = technique.model_dump(exclude={"technique", "at"}, exclude_defaults=True)
        details = ", ".join(f"{name}: {_value(value)}" for name, value in params.items()) or "—"
        lines.append(
            f"| T+{format_duration(technique.at)} | `{technique.technique}` | {_cell(details)} |"
        )
    lines.append("")
    return lines


def _step_row(step: Step) -> str:
    title = _cell(step.title) + (" *(critical)*" if step.critical else "")
    title += " *(keep)*" if step.keep else ""
    title += f" *(after {', '.join(step.after)})*" if step.after else ""
    return (
        f"| `{step.id}` — {title} | {step.phase} | {_check(step.check)} | {step.points} "
        f"| {format_duration(step.target)} | {format_duration(step.deadline)} |"
    )


def _check(check: Check) -> str:
    if check.type == "manual":
        return "*manual*"
    params = check.model_dump(exclude={"type"}, exclude_defaults=True)
    shown = ", ".join(f"{name}: {_value(value)}" for name, value in params.items())
    return f"`{check.type}`" + (f" ({_cell(shown)})" if shown else "")


def _penalties(penalties: Sequence[Penalty]) -> list[str]:
    if not penalties:
        return []
    lines = ["**Penalties.**", "", "| penalty | check | points |", "|---|---|---|"]
    for penalty in penalties:
        points = str(penalty.points)
        if penalty.per_minute:
            points += " a minute" + (
                f", at most {penalty.max_points}" if penalty.max_points is not None else ""
            )
        lines.append(
            f"| `{penalty.id}` — {_cell(penalty.title)} | {_check(penalty.check)} | {points} |"
        )
    lines.append("")
    return lines


def _pass_mark(scenario: Scenario) -> list[str]:
    total = sum(step.points for step in scenario.steps)
    manual = sum(step.points for step in scenario.steps if step.check.type == "manual")
    critical = [f"`{step.id}`" for step in scenario.steps if step.critical]
    text = (
        f"**To pass:** {scenario.pass_mark} of 100 (the steps are worth {total} points, "
        f"{manual} of them marked by the facilitator)"
    )
    if critical:
        text += f", and every critical step: {', '.join(critical)}"
    return [text + "."]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _value(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, float):
        return format_duration(value)
    return str(value)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, no column breaks."""
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    print(render(), end="")
