"""Rendering inject templates safely, and the simulation marker every message carries.

Scenario text is data: templates (the project's and a scenario's or organisation's own)
render in a sandboxed Jinja environment with strict undefined variables and bounded size,
time and memory (`gameday.exercise.injects.sandbox`), template names cannot leave the
template folders (not even through a symlink), HTML templates are autoescaped, and header
fields reject newlines. Errors in a template are the author's to fix, so they surface as
`RenderError`s naming the template file (or the scenario text) and line; `gameday validate`
renders every inject once so they are found before a run starts.

Templates set their subject with a top-level `{% set subject = ... %}`; `render` returns it
beside the text.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.environment import Environment, TemplateModule
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
)

from gameday.errors import UserError
from gameday.exercise.injects.facts import IncidentFacts
from gameday.exercise.injects.sandbox import (
    BoundedSandbox,
    RenderInterrupted,
    RenderLimitError,
    bounded_stream,
    guarded,
)
from gameday.journal import iso
from gameday.paths import TEMPLATES
from gameday.scenario.durations import format_duration
from gameday.scenario.limits import TEMPLATE_BYTES
from gameday.scenario.model import Inject, QuarantineInject, Scenario, SupportCaseInject
from gameday.scenario.timing import PLANS_WITH_SUPPORT_API, inject_times
from gameday.world.decoys import leaked_key_active

MARKER = "SIMULATION — game day exercise"
SUBJECT_PREFIX = f"[{MARKER}]"
TEXT_BANNER = f"[{MARKER}] gameday wrote this for a training exercise; it does not come from AWS."
HTML_BANNER = (
    '<div style="background:#b00020;color:#fff;font:bold 14px sans-serif;padding:8px 12px;'
    f'margin-bottom:16px">{MARKER} — gameday wrote this for a training exercise; it does not '
    "come from AWS.</div>"
)

TIME_TEXT = "%a, %d %b %Y %H:%M UTC"  # how notices write a moment: Thu, 01 Jan 2026 12:05 UTC
TEMPLATES_ENV = "GAMEDAY_TEMPLATES"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")
_SUFFIXES = (".txt.j2", ".html.j2", ".md.j2", ".json.j2", ".j2")


def project_templates() -> Path:
    """The project's `templates/` folder.

    `GAMEDAY_TEMPLATES` wins; otherwise the folder beside the `gameday` package (a checkout,
    editable or not), then the copy a wheel would install under `share/gameday/templates`.
    """
    override = os.environ.get(TEMPLATES_ENV)
    candidates = [Path(override)] if override else []
    candidates.append(TEMPLATES)
    candidates.append(Path(sys.prefix) / "share" / "gameday" / "templates")
    for candidate in candidates:
        if (candidate / "emails").is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise UserError(
        f"cannot find gameday's templates (looked in {looked}) — run from a checkout of "
        f"gameday or set {TEMPLATES_ENV} to its templates/ folder"
    )


# A scenario's own templates: this folder beside the scenario file.
SCENARIO_TEMPLATES = "templates"


def template_folders(templates: Path | None, scenario_path: Path | None) -> tuple[Path, ...]:
    """The folders searched before gameday's own: `--templates`, then the `templates/` folder
    beside the scenario file (when it has one)."""
    folders = [templates] if templates is not None else []
    if scenario_path is not None:
        beside = Path(scenario_path).parent / SCENARIO_TEMPLATES
        if beside.is_dir() and beside.resolve() != project_templates().resolve():
            folders.append(beside)
    return tuple(folders)


class RenderError(UserError):
    """A template, or a piece of scenario text rendered as one, that cannot be rendered.

    `template` names the template file at fault, `source` holds the scenario text at fault:
    `gameday validate` uses them to point at the scenario field that caused it.
    """

    def __init__(self, message: str, *, template: str | None = None, source: str | None = None):
        super().__init__(message)
        self.template = template
        self.source = source


def check_template_name(name: str) -> str:
    """`name` if it is a relative path that stays inside the template folders."""
    if not _NAME.fullmatch(name) or ".." in name or len(name) > 200:
        raise RenderError(
            f"template '{name}' is outside the template folders — name a relative path under "
            "templates/, like 'emails/follow-up'",
            template=name,
        )
    return name


def template_base(name: str | None, folder: str, default: str) -> str:
    """The template a channel uses, without its suffix: `follow-up` → `emails/follow-up`."""
    chosen = check_template_name(name or default)
    if "/" not in chosen:
        chosen = f"{folder}/{chosen}"
    for suffix in _SUFFIXES:
        if chosen.endswith(suffix):
            return chosen[: -len(suffix)]
    return chosen


def header(value: str, field: str) -> str:
    """A header field's value; a newline in it would let text forge headers."""
    if "\r" in value or "\n" in value:
        raise UserError(f"the {field} header contains a line break — keep it on one line")
    return value


def marked_subject(subject: str) -> str:
    """The subject with the simulation marker in front (once)."""
    subject = header(subject.strip(), "subject")
    return subject if subject.startswith(SUBJECT_PREFIX) else f"{SUBJECT_PREFIX} {subject}"


def marked_text(body: str) -> str:
    """A plain-text body that shows the marker; a template that forgot it gets the banner."""
    return body if MARKER in body else f"{TEXT_BANNER}\n\n{body}"


def marked_html(body: str) -> str:
    if MARKER in body:
        return body
    match = re.search(r"<body[^>]*>", body, re.IGNORECASE)
    if match is None:
        return HTML_BANNER + body
    return body[: match.end()] + HTML_BANNER + body[match.end() :]


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".htm", ".html.j2"))


class _ConfinedLoader(FileSystemLoader):
    """A file loader that refuses a template whose real path leaves the folder it was found
    in (a symlink, even to another template folder)."""

    def __init__(self, folders: Sequence[Path]) -> None:
        super().__init__([str(f) for f in folders])
        self._roots = [(Path(os.path.abspath(f)), f.resolve()) for f in folders]

    def get_source(self, environment: Environment, template: str) -> Any:
        check_template_name(template)
        for folder in self.searchpath:
            candidate = Path(folder) / template
            if candidate.is_file() and candidate.stat().st_size > TEMPLATE_BYTES:
                raise RenderError(
                    f"template '{template}' is {candidate.stat().st_size:,} bytes, over the "
                    f"{TEMPLATE_BYTES // 1024} KB a template may be — split it or shorten it",
                    template=template,
                )
            if candidate.exists():
                break
        source, filename, uptodate = super().get_source(environment, template)
        found = Path(os.path.abspath(filename))
        real = found.resolve()
        home = next((root for folder, root in self._roots if found.is_relative_to(folder)), None)
        if home is None or not real.is_relative_to(home):
            raise RenderError(
                f"template '{template}' resolves to {real}, outside the template folders — "
                "copy the file into the folder instead of linking to it",
                template=template,
            )
        return source, filename, uptodate


@dataclass(frozen=True)
class Rendered:
    """A rendered template: its text and the variables it set at top level (`subject`)."""

    text: str
    exports: Mapping[str, Any]

    def export(self, name: str) -> str | None:
        value = self.exports.get(name)
        return None if value is None else str(value)


class Renderer:
    """Renders templates from the scenario's own folders first (`template_folders`), then
    the project's `templates/`."""

    def __init__(
        self,
        scenario_templates: Path | Sequence[Path] | None = None,
        *,
        project: Path | None = None,
    ):
        root = project or project_templates()
        own = [scenario_templates] if isinstance(scenario_templates, Path) else scenario_templates
        self.folders: tuple[Path, ...] = (*(own or ()), root)
        self._env, self._strings = _environment(self.folders)

    def exists(self, name: str) -> bool:
        check_template_name(name)
        return any((folder / name).is_file() for folder in self.folders)

    def names(self) -> list[str]:
        return sorted(self._env.list_templates())

    def render(self, name: str, variables: Mapping[str, Any]) -> Rendered:
        check_template_name(name)
        try:
            template = self._compiled(lambda: self._env.get_template(name))
            module = guarded(lambda: self._module(template, variables))
        except TemplateNotFound as error:
            if error.name != name:  # a template it includes is missing
                raise _template_error(error, name, known=self.names()) from error
            near = _template_hint(name, self.names(), self.folders[:-1])
            own = [str(folder) for folder in self.folders[:-1]]  # the last is the project's
            where = " or ".join([*own, "gameday's templates"])
            raise RenderError(
                f"template '{name}' not found in {where} — {near}", template=name
            ) from error
        except RenderError as error:
            error.template = error.template or name
            raise
        except (TemplateError, *_MISTAKES) as error:
            raise _template_error(error, name, known=self.names()) from error
        exports = {k: v for k, v in vars(module).items() if not k.startswith("_")}
        return Rendered(str(module), exports)

    def _compiled(self, compile: Any) -> Template:
        # Parsing and compiling cost grows with the size of the text only, which is bounded.
        try:
            template: Template = compile()
        except (RecursionError, MemoryError) as error:
            raise RenderLimitError(
                "it nests too deeply to compile — split it into simpler expressions"
            ) from error
        return template

    def _module(self, template: Template, variables: Mapping[str, Any]) -> TemplateModule:
        try:
            context = template.new_context(dict(variables))
            body = bounded_stream(template.root_render_func(context))
            return TemplateModule(template, context, body)
        except (Exception, RenderInterrupted):
            # The traceback is compiled Python: this re-raises it rewritten so its frames
            # carry the template's own line numbers.
            self._env.handle_exception()

    def render_string(self, source: str, variables: Mapping[str, Any], *, what: str) -> str:
        """Render a short piece of scenario text (a subject, a console line) as a template."""
        try:
            template = self._strings.get(source) or self._compiled(
                lambda: self._env.from_string(source)
            )
            if len(self._strings) < _STRINGS_KEPT:
                self._strings.setdefault(source, template)
            return str(guarded(lambda: self._module(template, variables)))
        except RenderError as error:
            error.source = source
            raise
        except (TemplateError, *_MISTAKES) as error:
            raise _template_error(error, what, source=source, known=self.names()) from error


# A process that plays many runs renders the same templates in each: their environments
# (folders → environment, with Jinja's cache of compiled templates, which checks each file's
# time before reuse) and the scenario texts compiled as templates are kept for the next run.
# The environments hold no state of a render: bounds are counted per render.
_ENVIRONMENTS_KEPT = 32
_STRINGS_KEPT = 512
_environments: dict[tuple[Path, ...], tuple[BoundedSandbox, dict[str, Template]]] = {}
_environments_lock = threading.Lock()


def _environment(folders: tuple[Path, ...]) -> tuple[BoundedSandbox, dict[str, Template]]:
    key = tuple(Path(os.path.abspath(folder)) for folder in folders)
    with _environments_lock:
        kept = _environments.get(key)
        if kept is None:
            if len(_environments) >= _ENVIRONMENTS_KEPT:
                del _environments[next(iter(_environments))]
            environment = BoundedSandbox(
                loader=_ConfinedLoader(folders),
                undefined=StrictUndefined,
                autoescape=_autoescape,
                keep_trailing_newline=True,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            kept = _environments[key] = (environment, {})
    return kept


def _template_hint(name: str, known: Sequence[str], own: Sequence[Path]) -> str:
    """The closest template there is, or where the templates of that kind are."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    folder = name.split("/", 1)[0] if "/" in name else ""
    same = [k for k in known if folder and k.startswith(folder + "/")]
    if same and len(same) <= 12:
        return "the templates there: " + ", ".join(same)
    beside = f"{own[-1]}" if own else f"a {SCENARIO_TEMPLATES}/ folder beside the scenario"
    return f"add it to {beside}, or name one of gameday's (docs/injects.md#templates lists them)"


# Python errors a template's own expressions can raise (`{{ 1 / 0 }}`, `{{ 'a' - 1 }}`).
_MISTAKES = (
    ArithmeticError,
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    RecursionError,
    MemoryError,
    RenderInterrupted,
)


def _template_error(
    error: BaseException, name: str, *, source: str | None = None, known: Iterable[str] = ()
) -> RenderError:
    where = name
    if isinstance(error, TemplateSyntaxError):
        where = f"{error.filename or name}:{error.lineno}"
    else:
        # Jinja rewrites tracebacks so template lines appear as frames of the template file.
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if frame.filename.endswith((".j2", "<template>")) and frame.lineno is not None:
                filename = name if frame.filename == "<template>" else frame.filename
                where = f"{filename}:{frame.lineno}"
                break
    template = None if source is not None else name
    if isinstance(error, SecurityError):
        message = (
            f"{where}: unsafe template: {error.message} — templates may only read the "
            "variables they are given (docs/injects.md lists them)"
        )
    elif isinstance(error, UndefinedError):
        message = (
            f"{where}: {error.message} — docs/injects.md lists the variables templates can use"
        )
    elif isinstance(error, TemplateNotFound):
        missing = str(error.name)
        hint = _template_hint(missing, list(known), ())
        message = f"{where}: template '{missing}' not found — {hint}"
    elif isinstance(error, RenderLimitError):
        message = f"{where}: too much for a template: {error.message}"
    elif isinstance(error, RenderInterrupted):
        message = (
            f"{where}: too much for a template: it {error} — templates stay small: "
            "shorten or simplify it"
        )
    elif isinstance(error, RecursionError):
        message = f"{where}: too much for a template: it recurses too deeply — simplify it"
    elif isinstance(error, MemoryError):
        message = f"{where}: too much for a template: it ran out of memory — simplify it"
    elif isinstance(error, TemplateSyntaxError):
        message = f"{where}: {error.message or error} — fix the template's syntax on that line"
    elif isinstance(error, TemplateError):
        message = f"{where}: {error.message or error} — fix the template on that line"
    else:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        message = f"{where}: {text} — fix the expression on that line"
    return RenderError(message, template=template, source=source)


@dataclass(frozen=True)
class Scene:
    """Everything rendering an inject depends on: pure, so a preview renders the same text."""

    scenario: Scenario
    facts: IncidentFacts
    renderer: Renderer
    t: float  # seconds since T0 on the run clock

    def has(self, kind: type[Inject]) -> bool:
        """The scenario has an inject of `kind` that its support plan lets fire, due by now:
        a notice at T+1d does not tell of a case AWS opens at T+2d."""
        possible = inject_times(self.scenario.model_dump(exclude_none=True))
        return any(
            isinstance(i, kind) and i.id in possible and possible[i.id] <= self.t
            for i in self.scenario.timeline
        )

    def key_active(self) -> bool:
        """The leaked key worked at the push (it does not in a false alarm: already inactive)."""
        return leaked_key_active(self.scenario)

    def variables(self, **extra: Any) -> dict[str, Any]:
        """The variables every template can use (docs/injects.md), plus `extra`."""
        facts = self.facts
        moment = facts.at(self.t)
        variables: dict[str, Any] = {
            "marker": MARKER,
            "scenario": {"id": self.scenario.id, "title": self.scenario.title},
            "account_id": facts.account_id,
            "account_alias": facts.account_alias,
            "support_plan": facts.support_plan,
            "regions": list(facts.regions),
            "access_key_id": facts.access_key_id,
            "user_name": facts.user_name,
            "repository": facts.repository,
            "repository_url": facts.repository_url,
            "leak_path": facts.leak_path,
            "leak_commit": facts.leak_commit,
            "leak_commit_short": facts.leak_commit[:7],
            "public_url": facts.public_url,
            "case_id": facts.case_id,
            "case_reference": facts.case_reference,
            # what the notices may claim: AWS opened a case, AWS quarantined the user
            "has_case": self.has(SupportCaseInject),
            "has_quarantine": self.has(QuarantineInject),
            # what else they may claim: the key works, the Support API answers this plan
            "key_active": self.key_active(),
            "has_support_api": facts.support_plan in PLANS_WITH_SUPPORT_API,
            "contacts": {c.role: c.as_variables() for c in facts.contacts},
            "t": self.t,
            "elapsed": format_duration(self.t),
            "t0": iso(facts.t0),
            "now": iso(moment),
            "now_text": moment.strftime(TIME_TEXT),
        }
        variables.update(extra)
        return variables
