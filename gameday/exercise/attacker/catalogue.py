"""docs/techniques.md, generated from the technique registry so it cannot drift.

Regenerate with `python -m gameday.exercise.attacker.catalogue > docs/techniques.md`.
"""

from __future__ import annotations

import typing

from gameday.exercise.attacker.base import TECHNIQUES
from gameday.scenario import model


def _parameters(technique_id: str) -> list[tuple[str, str, str]]:
    for member in typing.get_args(typing.get_args(model.Technique)[0]):
        info = member.model_fields["technique"]
        if technique_id in typing.get_args(info.annotation):
            rows = []
            for name, field in member.model_fields.items():
                if name == "technique":
                    continue
                default = "required" if field.is_required() else f"`{field.default!r}`"
                rows.append((name, default, field.description or ""))
            return rows
    return []


def render() -> str:
    lines = [
        "# Attacker techniques",
        "",
        "Generated from the registry (`python -m gameday.exercise.attacker.catalogue`);",
        "do not edit. Each technique is listed in a scenario under `attacker.techniques` with",
        "its `technique` id, an `at` offset from the push, and its parameters. Every call it",
        "makes is signed with the attacker's credentials — the leaked key first, then keys it",
        "minted for itself — and is journaled as the attacker's.",
        "",
    ]
    for technique in TECHNIQUES:
        lines += [
            f"## `{technique.id}`",
            "",
            f"**{technique.title}** — tactic: {technique.tactic}",
            "",
            technique.description,
            "",
            f"*How defenders notice:* {technique.detection}",
            "",
        ]
        rows = _parameters(technique.id)
        if rows:
            lines += ["| parameter | default | meaning |", "|---|---|---|"]
            lines += [f"| `{name}` | {default} | {text} |" for name, default, text in rows]
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
