"""Scanner profiles for the drill: how each scanner is run on a folder, the way teams run it.

Built in: git-secrets (`--register-aws`, `--scan -r`), detect-secrets (its default plugins,
no verification: nothing is sent anywhere), trufflehog (`filesystem`, `--no-verification`) and
gitleaks (`dir`, or `detect --no-git` for older versions). Each is used when installed and
skipped with a note otherwise. `CommandScanner` runs a team's own command.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path

from gameday.drill import (
    NOT_REPORTED,
    Findings,
    Reported,
    Scanner,
    clean_environment,
    forms,
    reported_in_lines,
    which,
)


def _run(command: list[str], cwd: Path, work: Path, timeout: float = 300) -> tuple[int, str]:
    try:
        result = subprocess.run(
            command, cwd=cwd, env=clean_environment(work / "home"), capture_output=True,
            text=True, timeout=timeout, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return 0, f"timed out after {timeout:g}s"
    return result.returncode, result.stdout + result.stderr


class GitSecrets(Scanner):
    name = "git-secrets"

    def available(self) -> str | None:
        return None if which("git-secrets") else "not installed (apt-get install git-secrets)"

    def scan(self, folder: Path, work: Path, *, history: bool = False) -> Findings:
        if history:  # as a team runs it on a clone: every commit of every ref
            _run(["git", "secrets", "--register-aws"], folder, work)
            code, output = _run(["git", "secrets", "--scan-history"], folder, work)
            return Findings(code != 0, output, self._patterns(folder, work))
        repo = work / "patterns"
        _run(["git", "init", "-q", str(repo)], work, work)
        _run(["git", "secrets", "--register-aws"], repo, work)
        code, output = _run(["git", "secrets", "--scan", "-r", str(folder)], repo, work)
        return Findings(code != 0, output, self._patterns(repo, work))

    @staticmethod
    def _patterns(repo: Path, work: Path) -> tuple[str, ...]:
        """The patterns `--register-aws` configured, as git-secrets itself lists them."""
        _, listed = _run(["git", "config", "--get-all", "secrets.patterns"], repo, work)
        return tuple(line for line in listed.splitlines() if line)

    def reported(self, found: Findings, value: str) -> Reported:
        # git-secrets prints each line one of its patterns matched, and not which pattern
        return reported_in_lines(found.output.splitlines(), value, found.rules)


class DetectSecrets(Scanner):
    name = "detect-secrets"

    def available(self) -> str | None:
        try:
            import detect_secrets  # noqa: F401
        except ImportError:
            return "not installed (pip install detect-secrets)"
        return None

    def scan(self, folder: Path, work: Path, *, history: bool = False) -> Findings:
        # detect-secrets has no history mode: on a clone it scans the checked-out files
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import default_settings

        files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)
        # default settings carry no verification filter: no key is checked against AWS
        with default_settings():
            collection = SecretsCollection()
            for path in files:
                collection.scan_file(path)
            found = [
                {"file": name, "type": secret.type, "line": secret.line_number,
                 "value": secret.secret_value or ""}
                for name, secret in collection
            ]  # fmt: skip
        return Findings(bool(found), json.dumps(found, indent=1))

    def reported(self, found: Findings, value: str) -> Reported:
        # each finding names its plugin (`type`) and the value it took for the secret
        findings = json.loads(found.output) if found.output.strip() else []
        for form, written in forms(value):
            by = [f for f in findings if written in f["value"]]
            if by:
                attached = sorted({f["value"].replace(written, "", 1) for f in by} - {""})
                return Reported(
                    form,
                    tuple(sorted({f["type"] for f in by})),
                    "".join(attached),
                )
        return NOT_REPORTED


class Trufflehog(Scanner):
    name = "trufflehog"

    def available(self) -> str | None:
        return None if which("trufflehog") else "not installed"

    def scan(self, folder: Path, work: Path, *, history: bool = False) -> Findings:
        source = ["git", f"file://{folder}"] if history else ["filesystem", str(folder)]
        command = ["trufflehog", *source, "--no-verification", "--json"]
        code, output = _run(command, folder, work)
        return Findings('"DetectorName"' in output or code == 183, output)


class Gitleaks(Scanner):
    name = "gitleaks"

    def available(self) -> str | None:
        return None if which("gitleaks") else "not installed"

    def scan(self, folder: Path, work: Path, *, history: bool = False) -> Findings:
        mode = ["git", str(folder)] if history else ["dir", str(folder)]
        code, output = _run(["gitleaks", *mode, "-v"], folder, work)
        if "unknown command" in output:  # before 8.19: detect, with or without git
            older = ["detect", "-s", str(folder), "-v"] + ([] if history else ["--no-git"])
            code, output = _run(["gitleaks", *older], folder, work)
        return Findings(code == 1, output)


class CommandScanner(Scanner):
    """A team's own command: the folder is appended (or put in place of `{path}`); a non-zero
    exit means it found something."""

    trusts_exit_code = True

    def __init__(self, command: str) -> None:
        self.command = command
        self.words = shlex.split(command)
        # named after its program, `/opt/bin/scan` as `scan`: the name is also its folder of
        # evidence, which must stay inside the drill's output
        program = Path(self.words[0]).name if self.words else ""
        self.name = re.sub(r"[^A-Za-z0-9._+-]", "_", program).lstrip(".") or "command"

    def available(self) -> str | None:
        if not self.words:
            return "an empty command"
        return None if which(self.words[0]) else f"{self.words[0]!r} is not on PATH"

    def scan(self, folder: Path, work: Path, *, history: bool = False) -> Findings:
        words = [w.replace("{path}", str(folder)) for w in self.words]
        if not any("{path}" in w for w in self.words):
            words.append(str(folder))
        code, output = _run(words, folder, work)
        return Findings(code != 0, output)


BUILT_IN: tuple[type[Scanner], ...] = (GitSecrets, DetectSecrets, Trufflehog, Gitleaks)
PROFILES: dict[str, type[Scanner]] = {kind.name: kind for kind in BUILT_IN}


def scanners(commands: tuple[str, ...] = (), *, built_in: bool = True) -> list[Scanner]:
    found: list[Scanner] = [kind() for kind in BUILT_IN] if built_in else []
    return _named_apart(found + [CommandScanner(command) for command in commands])


def named_scanners(names: Sequence[str]) -> list[Scanner]:
    """A scenario's `drill.scanners`: built-in profiles by name, any other entry a command."""
    return _named_apart(
        [PROFILES[name]() if name in PROFILES else CommandScanner(name) for name in names]
    )


def _named_apart(chosen: list[Scanner]) -> list[Scanner]:
    """Two commands of the same program (`sh -c …` twice) get `sh`, `sh-2`: one row and one
    folder of evidence each."""
    seen: dict[str, int] = {}
    for scanner in chosen:
        seen[scanner.name] = seen.get(scanner.name, 0) + 1
        if seen[scanner.name] > 1:
            scanner.name = f"{scanner.name}-{seen[scanner.name]}"
    return chosen
