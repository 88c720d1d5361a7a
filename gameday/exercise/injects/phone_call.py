"""The phone call: Enterprise Support rings the customer about the exposed key (FACTS §1.4).

Nobody dials a number in a game day: the facilitator plays the caller. The inject writes
the call script (what the caller says, what they ask, what they never ask, the facts they
can give) to `RUN_DIR/calls/<t>-<id>.md` and shows it on the facilitator's console. When
`espeak-ng` is installed it also records the caller's lines — only what the caller says
aloud, never the stage directions — as `RUN_DIR/calls/<t>-<id>.wav`, for the facilitator to
play (the dashboard has a player); the recording opens by saying it is a simulation. A
virtual-time run records nothing (`InjectOptions.record_calls`): a runbook plays it in
seconds, nobody listens, and a recording costs a fifth of a second and 5 MB.
Both files are dated at the call on the run clock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from gameday.exercise.injects.base import Channel, Delivered, Draft, InjectContext, Outcome
from gameday.exercise.injects.registry import REGISTRY
from gameday.exercise.injects.rendering import Scene, marked_subject, marked_text, template_base
from gameday.exercise.injects.support_case import case_notice
from gameday.scenario.model import PhoneCallInject

CALL_FOLDER = "calls"
DEFAULT_CALL_TEMPLATE = "calls/enterprise-support"


SPEECH_PROGRAM = "espeak-ng"
SPEECH_VOICE = "en-us"
SPEECH_WORDS_PER_MINUTE = 150
RECORDED_CALLER = "Alex"  # the name the recorded voice gives where the script says [your name]
SPOKEN_MARKER = (
    "This is a recorded call for a game day exercise. It is a simulation, not a call from AWS."
)
_QUOTED = re.compile(r'"([^"]+)"')
_ITALIC = re.compile(r"\*[^*]+\*")  # stage directions; bold markers are dropped first
_NUMBERED = re.compile(r"^\d+\.\s+(.*)$")
_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_LONG_NUMBER = re.compile(r"\b\d{5,}\b")


def script_name(t: float, inject_id: str) -> str:
    """The script's file name; zero-padded seconds so a listing sorts in call order."""
    return f"{round(t):06d}-{inject_id}.md"


def render(inject: PhoneCallInject, scene: Scene) -> Draft[str]:
    facts = scene.facts
    template = template_base(inject.template, CALL_FOLDER, DEFAULT_CALL_TEMPLATE)
    contact = facts.contact(inject.to)
    variables = scene.variables(
        caller=inject.caller,
        contact=contact.as_variables(),
        case=case_notice(scene).as_variables(),
    )
    rendered = scene.renderer.render(f"{template}.md.j2", variables)
    subject = rendered.export("subject") or f"Phone call from {inject.caller} to {contact.name}"
    script = marked_text(rendered.text)
    delivered = Delivered(
        kind=inject.type,
        id=inject.id,
        t=scene.t,
        subject=marked_subject(subject),
        body=script,
        data={
            "account_id": facts.account_id,
            "access_key_id": facts.access_key_id,
            "user_name": facts.user_name,
            "case_id": facts.case_id,
            "public_url": facts.public_url,
            "caller": inject.caller,
            "to": contact.name,
            "phone": contact.phone,
            "template": template,
        },
    )
    return Draft(delivered, script)


def send(inject: PhoneCallInject, draft: Draft[str], ctx: InjectContext) -> Outcome:
    calls = ctx.run_dir / "calls"
    calls.mkdir(parents=True, exist_ok=True)
    name = script_name(draft.delivered.t, inject.id)
    (calls / name).write_text(draft.payload, encoding="utf-8")
    moment = ctx.facts.at(draft.delivered.t).timestamp()  # dated on the run clock, as mail is
    os.utime(calls / name, (moment, moment))
    ctx.console(draft.payload)
    fields = {
        "to": draft.delivered.data["to"],
        "phone": draft.delivered.data["phone"],
        "caller": inject.caller,
        "script": f"calls/{name}",
        "template": draft.delivered.data["template"],
    }
    program = shutil.which(SPEECH_PROGRAM) if ctx.options.record_calls else None
    if program is not None:
        audio = calls / f"{Path(name).stem}.wav"
        try:
            record_call(draft.payload, audio, program)
            os.utime(audio, (moment, moment))
            fields["audio"] = f"calls/{audio.name}"
        except (OSError, subprocess.SubprocessError) as error:
            # The recording is a convenience: without it the facilitator reads the script.
            fields["audio_error"] = f"{SPEECH_PROGRAM}: {error}"
    return Outcome(fields)


def spoken_lines(script: str) -> list[str]:
    """What the caller says aloud, in order: the quoted words of the script's quotations and
    numbered questions. Stage directions (in italics), tables and notes are not spoken."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    quoting = False
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith(">"):
            if current is None or not quoting:
                current = []
                blocks.append(current)
            current.append(stripped.removeprefix(">").strip())
            quoting = True
            continue
        quoting = False
        numbered = _NUMBERED.match(stripped)
        if numbered is not None:
            current = [numbered.group(1)]
            blocks.append(current)
        elif stripped and current is not None and line[:1] in (" ", "\t"):
            current.append(stripped)  # a numbered question's continuation line
        else:
            current = None
    lines: list[str] = []
    for block in blocks:
        text = _ITALIC.sub("", " ".join(block).replace("**", ""))
        lines += [" ".join(quote.split()) for quote in _QUOTED.findall(text)]
    return [_speakable(line) for line in lines if line]


def _speakable(line: str) -> str:
    """Read as a person on the phone reads them: key IDs and long numbers character by
    character, the caller's name where the script leaves it to the facilitator."""
    line = re.sub(r"\[your name\]", RECORDED_CALLER, line, flags=re.IGNORECASE)
    line = re.sub(r"\[[^\]]*\]", "", line)
    line = _KEY_ID.sub(lambda m: ", ".join(m.group(0)), line)
    return _LONG_NUMBER.sub(lambda m: " ".join(m.group(0)), line)


def record_call(script: str, target: Path, program: str) -> None:
    """Speak the caller's lines of `script` into the WAV file `target`, with a pause after
    each for the responder to answer. Written aside and renamed, so it is whole or absent."""
    parts = [SPOKEN_MARKER, *spoken_lines(script)]
    ssml = "<speak>" + '<break time="1500ms"/>'.join(escape(part) for part in parts) + "</speak>"
    partial = target.with_name(f".{target.name}.partial")
    subprocess.run(
        [program, "-v", SPEECH_VOICE, "-s", str(SPEECH_WORDS_PER_MINUTE), "-m",
         "-w", str(partial), "--stdin"],
        input=ssml,
        text=True,
        capture_output=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    partial.replace(target)


CHANNEL = REGISTRY.register(
    Channel(
        type="phone-call",
        model=PhoneCallInject,
        title="Phone call",
        summary="Enterprise Support calls a contact about the exposed key (and later checks the "
        "advice was acted on); the facilitator reads the script aloud, saved under calls/",
        reveals=(
            "account_id",
            "access_key_id",
            "user_name",
            "case_id",
            "public_url",
            "caller",
            "to",
            "phone",
            "template",
        ),
        template=DEFAULT_CALL_TEMPLATE,
        render=render,
        send=send,
    )
)
