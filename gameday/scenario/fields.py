"""The kinds of value a scenario holds, and what makes each one valid.

A value ends up somewhere that has rules of its own: an email header, a git commit, a
branch name, an AWS tag, the run's clock. Each kind here is a type the model uses, whose
validator applies the rules of the place the value goes — the way git's
`check-ref-format`, git fast-import, an SMTP header or AWS would — so a scenario that
validates never fails when the world is built from it, and each message says how to fix
the value.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from gameday.errors import printable
from gameday.scenario.durations import DURATION_PATTERN, format_duration, parse_duration
from gameday.scenario.limits import (
    MAX_AGE,
    MAX_ITEMS,
    MAX_LINE,
    MAX_RUN,
    MIN_PROBE_EVERY,
    MIN_RELAUNCH_EVERY,
)

# ── durations ─────────────────────────────────────────────────────────────────────────────


def _shown(value: object) -> str:
    """A value quoted in a message: one line, at most 60 characters."""
    if not isinstance(value, str):
        return repr(value)
    text = value if len(value) <= 60 else value[:57] + "..."
    return "'" + printable(text) + "'"


def _bounded(
    value: object, *, most: float, least: float = 0.0, too_long: str, too_short: str = ""
) -> float:
    seconds = parse_duration(value)
    if seconds > most:
        raise ValueError(
            f"{_shown(value)} {too_long} (at most {format_duration(most)}) — shorten it"
        )
    if seconds < least:
        raise ValueError(
            f"{_shown(value)} {too_short} (at least {format_duration(least)}) — make it longer"
        )
    return seconds


def _run_length(value: object) -> float:
    return _bounded(
        value,
        most=MAX_RUN,
        least=60.0,
        too_long="is longer than a run may last: a week holds AWS's five days to answer a case",
        too_short="is too short for an exercise",
    )


def _run_time(value: object) -> float:
    return _bounded(value, most=MAX_RUN, too_long="is later than any run lasts")


def _age(value: object) -> float:
    return _bounded(value, most=MAX_AGE, too_long="is further back than keys, users and history go")


def _probe_every(value: object) -> float:
    return _bounded(
        value,
        most=MAX_RUN,
        least=MIN_PROBE_EVERY,
        too_long="is longer than a run may last",
        too_short="probes the workload too often",
    )


def _relaunch_every(value: object) -> float:
    return _bounded(
        value,
        most=MAX_RUN,
        least=MIN_RELAUNCH_EVERY,
        too_long="is longer than a run may last",
        too_short="relaunches too often",
    )


def _duration_schema(most: float, least: float = 0.0) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": least, "maximum": most},
            ],
            "description": (
                f"a duration like 90s, 15m, 1h30m or 400d (or seconds), from "
                f"{format_duration(least)} to {format_duration(most)}"
            ),
        }
    )


RunLength = Annotated[float, BeforeValidator(_run_length), _duration_schema(MAX_RUN, 60.0)]
RunTime = Annotated[float, BeforeValidator(_run_time), _duration_schema(MAX_RUN)]
Age = Annotated[float, BeforeValidator(_age), _duration_schema(MAX_AGE)]
ProbeInterval = Annotated[
    float, BeforeValidator(_probe_every), _duration_schema(MAX_RUN, MIN_PROBE_EVERY)
]
RelaunchInterval = Annotated[
    float, BeforeValidator(_relaunch_every), _duration_schema(MAX_RUN, MIN_RELAUNCH_EVERY)
]

# ── text ──────────────────────────────────────────────────────────────────────────────────


def _one_line(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{_shown(value)} holds a line break — keep it on one line")
    if "\t" in value:
        raise ValueError(f"{_shown(value)} holds a tab — use spaces")
    if len(value) > MAX_LINE:
        raise ValueError(
            f"a line of {len(value):,} characters, over the {MAX_LINE} allowed here — shorten it"
        )
    return value


Line = Annotated[str, AfterValidator(_one_line)]


def name_problem(value: str) -> str | None:
    """Why `value` cannot be a person's name in an email header or a git commit, or None."""
    if "\n" in value or "\r" in value:
        return "holds a line break — keep it on one line"
    if set("<>") & set(value):
        return "holds '<' or '>' — names cannot (git and email use them around the address)"
    if not re.search(r"\w", value):
        return "is not a name — give a person's or a team's name"
    return None


def _display_name(value: str) -> str:
    """A person's name as email headers and git carry it."""
    if problem := name_problem(value):
        raise ValueError(f"{_shown(value)} {problem}")
    return _one_line(value)


PersonName = Annotated[str, AfterValidator(_display_name)]

# An address as an email header carries it: one addr-spec, no display name, no comma.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})+$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]

# ── git ───────────────────────────────────────────────────────────────────────────────────

_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def ref_format_problem(name: str) -> str | None:
    """Why `git check-ref-format --branch` refuses `name`, or None (its rules, in Python)."""
    if not name:
        return "is empty"
    if name.startswith("-"):
        return "starts with '-' (git would read it as an option)"
    if name in ("@", "HEAD"):
        return f"is '{name}', which git reads as the current branch"
    if found := _REF_FORBIDDEN.search(name):
        shown = "a space" if found.group() == " " else f"'{found.group()}'"
        return f"holds {shown}"
    if ".." in name or "@{" in name:
        return "holds '..' or '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "has an empty part between '/'"
    if name.endswith("."):
        return "ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"has a part starting with '.' ({part})"
        if part.endswith(".lock"):
            return f"has a part ending in '.lock' ({part})"
    if len(name.encode()) > 200:
        return "is too long"
    return None


def _branch(value: str) -> str:
    if problem := ref_format_problem(value):
        raise ValueError(f"{_shown(value)} {problem}, so git refuses it as a branch — try 'main'")
    return value


BranchName = Annotated[str, AfterValidator(_branch)]


def _commit_message(value: str) -> str:
    if not value.strip() and value:
        raise ValueError("the commit message is blank — write one, or leave the field out")
    return value


CommitMessage = Annotated[str, AfterValidator(_commit_message), Field(max_length=4096)]


def repository_path_problem(path: str) -> str | None:
    """Why a file path cannot be written in a git work tree, or None."""
    parts = path.split("/")
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path) or ".." in parts:
        return "leaves the repository — give a relative path inside it"
    if "\\" in path or re.search(r"[\x00-\x1f\x7f]", path):
        return "holds a backslash or a control character — use '/' between folders"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' part — give a plain relative path"
    if any(part.lower().rstrip(". ") == ".git" for part in parts):
        return "points into the .git directory — give a path in the work tree"
    if len(path.encode()) > 1024 or any(len(part.encode()) > 255 for part in parts):
        return "is too long — keep it under 1024 bytes, and each part under 255"
    return None


# ── AWS ───────────────────────────────────────────────────────────────────────────────────

_TAG_TEXT = re.compile(r"^[\w\s.:/=+\-@]*$")


def _tag_key(value: str) -> str:
    if not 1 <= len(value) <= 128 or not _TAG_TEXT.match(value) or "\n" in value:
        raise ValueError(
            f"{_shown(value)} is not a tag key — 1 to 128 letters, digits, spaces and "
            "_ . : / = + - @"
        )
    if value.lower().startswith("aws:"):
        raise ValueError(f"{_shown(value)}: the 'aws:' prefix is AWS's own — choose another key")
    return value


def _tag_value(value: str) -> str:
    if len(value) > 256 or not _TAG_TEXT.match(value) or "\n" in value:
        raise ValueError(
            f"{_shown(value)} is not a tag value — up to 256 letters, digits, spaces and "
            "_ . : / = + - @"
        )
    return value


TagKey = Annotated[str, AfterValidator(_tag_key)]
TagValue = Annotated[str, AfterValidator(_tag_value)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_ITEMS["tags"])]

# IAM's names and paths are ASCII: letters, digits and _+=,.@- (IAM's own `[\w+=,.@-]`, whose
# \w is ASCII there, as in the JSON schema's regular expressions; a Unicode \w would also let
# through names IAM refuses, and repeated 128 times costs the validator tens of milliseconds
# to compile in every process).
_IAM_CHAR = "[A-Za-z0-9_+=,.@-]"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
IAM_NAME_PATTERN = rf"^{_IAM_CHAR}+$"
IAM_PATH_PATTERN = rf"^/({_IAM_CHAR}+/)*$"
IamPath = Annotated[str, Field(pattern=IAM_PATH_PATTERN, max_length=512)]
POLICY_ARN_PATTERN = (
    rf"^arn:aws:iam::(aws|[0-9]{{12}}):policy/({_IAM_CHAR}+/)*{_IAM_CHAR}{{1,128}}$"
)
PolicyArn = Annotated[str, Field(pattern=POLICY_ARN_PATTERN)]
# a managed policy ARN, or the name of one of the estate's own policies
POLICY_REF_PATTERN = (
    rf"^(arn:aws:iam::(aws|[0-9]{{12}}):policy/({_IAM_CHAR}+/)*)?{_IAM_CHAR}{{1,128}}$"
)
PolicyRef = Annotated[str, Field(pattern=POLICY_REF_PATTERN)]
ServicePrincipal = Annotated[
    str, Field(pattern=r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?$", max_length=128)
]
InstanceType = Annotated[str, Field(pattern=r"^[a-z0-9-]+\.[a-z0-9]+$", max_length=32)]
FunctionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@-]+$", max_length=512)]
TRAIL_PATTERN = r"^[A-Za-z0-9](?:[._-]?[A-Za-z0-9])+$"  # 3 to 128 long, by the Field


def _trail_name(value: str) -> str:
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        raise ValueError(f"{_shown(value)}: a trail name cannot look like an IP address")
    return value


TrailName = Annotated[
    str, Field(pattern=TRAIL_PATTERN, min_length=3, max_length=128), AfterValidator(_trail_name)
]
Description = Annotated[str, Field(max_length=1000)]
ACTION_PATTERN = r"^[a-z0-9-]+:[A-Za-z0-9]+$"  # service:Action, as IAM writes an action


def _object_key(value: str) -> str:
    if not value or len(value.encode()) > 1024:
        raise ValueError(f"{_shown(value)} is not an S3 object key — 1 to 1024 bytes")
    _one_line(value[:MAX_LINE])
    return value


ObjectKey = Annotated[str, AfterValidator(_object_key)]


def _bucket_name(value: str) -> str:
    if ".." in value or ".-" in value or "-." in value:
        raise ValueError(f"{_shown(value)}: a bucket name has no '..', '.-' or '-.' — fix it")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        raise ValueError(f"{_shown(value)}: a bucket name cannot look like an IP address")
    if value.startswith(("xn--", "sthree-")) or value.endswith(("-s3alias", "--ol-s3")):
        raise ValueError(f"{_shown(value)}: that prefix or suffix is reserved by S3 — rename it")
    return value


BucketName = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"), AfterValidator(_bucket_name)
]

# ── the attacker's traffic and the webhook ────────────────────────────────────────────────


def _ip_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{_shown(value)} is not an IP address — like 203.0.113.7") from None
    return value


def _user_agent(value: str) -> str:
    if not re.fullmatch(r"[\x20-\x7e]{1,256}", value):
        raise ValueError(
            f"{_shown(value)} is not a user agent — 1 to 256 printable ASCII characters "
            "(it travels in an HTTP header)"
        )
    return value


def _webhook_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        raise ValueError(f"{_shown(value)} is not an http(s) URL — like https://hooks.example/x")
    if len(value) > 2048:
        raise ValueError("the URL is over 2048 characters — shorten it")
    return value


IpAddress = Annotated[str, AfterValidator(_ip_address)]
UserAgent = Annotated[str, AfterValidator(_user_agent)]
WebhookUrl = Annotated[str, AfterValidator(_webhook_url)]


def items(name: str, **options: Any) -> Any:
    """A `Field` bounding a list (or mapping) to `MAX_ITEMS[name]` items."""
    return Field(max_length=MAX_ITEMS[name], **options)


def _ec2_tag_key(value: str) -> str:
    if not 1 <= len(value) <= 128 or "\n" in value:
        raise ValueError(f"{_shown(value)} is not a tag key — 1 to 128 characters, one line")
    if value.lower().startswith("aws:"):
        raise ValueError(f"{_shown(value)}: the 'aws:' prefix is AWS's own — choose another key")
    return value


def _ec2_tag_value(value: str) -> str:
    if len(value) > 256 or "\n" in value:
        raise ValueError(f"{_shown(value)} is not a tag value — up to 256 characters, one line")
    return value


# EC2 takes any characters in tags (IAM's are stricter, see `Tags`)
Ec2Tags = Annotated[
    dict[
        Annotated[str, AfterValidator(_ec2_tag_key)],
        Annotated[str, AfterValidator(_ec2_tag_value)],
    ],
    Field(max_length=MAX_ITEMS["tags"]),
]
Ec2TagValue = Annotated[str, AfterValidator(_ec2_tag_value)]
