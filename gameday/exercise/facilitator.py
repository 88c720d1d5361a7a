"""The facilitator's token: the one proof of the facilitator's powers over a run.

`gameday run` issues a token for each run (`secrets.token_urlsafe(32)`) and prints it once,
on the facilitator's console. The run keeps only its SHA-256 hash, in the facilitator's part
of the run directory (`RUN_DIR/facilitator/token.sha256`: folder 0700, file 0600); the run's
own process holds the token itself in memory, for as long as it runs.

`mark`, `end`, `pause`, `resume`, `fire-next` and `note --as facilitator` need the token,
given explicitly: `--token TOKEN` or the environment variable `GAMEDAY_FACILITATOR_TOKEN`.
Nothing looks it up from a file, so a runbook or the team's shell running `gameday mark`
is refused.

The token never travels in a file either. A command to a live run goes through a file in
`RUN_DIR/control/` (gameday.exercise.control): it carries a proof, an HMAC-SHA256 keyed
with the token over the command itself, which only a holder of the token can make and
which tells nothing of the token to whoever reads the file. The run checks it with the
token it holds; a proof is good once, and for a few minutes. After the run, `gameday mark`
appends to the journal itself and checks the token it was given against the stored hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gameday.errors import UserError
from gameday.rundir import RunDir, write_private

TOKEN_VARIABLE = "GAMEDAY_FACILITATOR_TOKEN"
HASH_FILE = "token.sha256"
PROOF_FIELD = "proof"
PROOF_TTL_S = 300.0  # a proof older (or newer) than this is refused: no replay days later
_PROOF_CONTEXT = b"gameday facilitator command v1\n"
_REMEMBERED = 10_000  # proofs a run remembers having seen, so none is good twice

Check = Literal["facilitator", "missing", "wrong", "stale", "replayed", "no-token"]

REASONS: dict[Check, str] = {
    "missing": "no facilitator token",
    "wrong": "a wrong facilitator token",
    "stale": "a facilitator proof too old or from the future",
    "replayed": "a facilitator proof already used",
    "no-token": "the run has no facilitator token",
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_path(run: RunDir) -> Path:
    return run.facilitator / HASH_FILE


def stored_hash(run: RunDir) -> str | None:
    """The hash the run keeps of its token; None for a run that has none."""
    try:
        text = hash_path(run).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    algorithm, _, digest = text.partition(":")
    return digest if algorithm == "sha256" and len(digest) == 64 else None


def check_token(run: RunDir, token: str | None) -> Check:
    """Whether `token` is this run's facilitator token, by the hash the run keeps."""
    if not token:
        return "missing"
    digest = stored_hash(run)
    if digest is None:
        return "no-token"
    return "facilitator" if hmac.compare_digest(token_hash(token), digest) else "wrong"


def refusal_message(run: RunDir, command: str, check: Check) -> str:
    """What a refused facilitator command tells its sender: what is missing, how to give it."""
    how = (
        f"give it with `--token TOKEN` or `export {TOKEN_VARIABLE}=TOKEN` — the facilitator "
        f"token `gameday run` printed on the facilitator's console when {run.path} started"
    )
    if check == "missing":
        return f"{command} is the facilitator's: it needs the facilitator token — {how}"
    if check == "wrong":
        return f"{command} refused: the facilitator token given is not this run's — {how}"
    if check == "no-token":
        return (
            f"{command} refused: {run.path} keeps no facilitator token (no "
            f"facilitator/{HASH_FILE}), so nobody can act as its facilitator"
        )
    return f"{command} refused: {REASONS.get(check, 'refused at the door')} — send it again"


def proof(token: str, command: dict[str, Any]) -> str:
    """The HMAC that shows the sender of `command` holds `token` (the proof field left out)."""
    body = {k: v for k, v in command.items() if k != PROOF_FIELD}
    message = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(token.encode("utf-8"), _PROOF_CONTEXT + message.encode(), "sha256").hexdigest()


@dataclass
class Authority:
    """The run's hold on its facilitator token: it checks the proofs commands carry.

    Made by `issue` (a new run: a new token, `issued` is True and the token must be shown
    to the facilitator now) or `resume` (a recovered run given back its token).
    """

    run: RunDir
    token: str
    issued: bool

    def __post_init__(self) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def digest(self) -> str:
        return token_hash(self.token)

    @classmethod
    def issue(cls, run: RunDir) -> Authority:
        """A new token for the run; only its hash is written."""
        token = secrets.token_urlsafe(32)
        run.facilitator.mkdir(mode=0o700, exist_ok=True)
        run.facilitator.chmod(0o700)
        write_private(hash_path(run), f"sha256:{token_hash(token)}\n")
        return cls(run, token, issued=True)

    @classmethod
    def resume(cls, run: RunDir, token: str | None) -> Authority:
        """The token of a run being recovered, checked; a new one when none is given."""
        if token is None:
            return cls.issue(run)
        check = check_token(run, token)
        if check == "no-token":
            return cls.issue(run)
        if check != "facilitator":
            raise UserError(
                f"{run.path}: the facilitator token given ({TOKEN_VARIABLE} or --token) is not "
                "this run's — give the one printed when the run started, or unset it to have "
                "a new one issued"
            )
        return cls(run, token, issued=False)

    def matches(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(token_hash(str(token)), self.digest)

    def check(self, command: dict[str, Any]) -> Check:
        """Whether a command carries a good proof of the token, never seen before."""
        given = command.get(PROOF_FIELD)
        if not isinstance(given, str) or not given:
            return "missing"
        if not hmac.compare_digest(given, proof(self.token, command)):
            return "wrong"
        issued = command.get("issued")
        now = time.time()
        if not isinstance(issued, int | float) or abs(now - float(issued)) > PROOF_TTL_S:
            return "stale"
        with self._lock:
            for old, at in list(self._seen.items()):
                if now - at <= PROOF_TTL_S:
                    break
                del self._seen[old]
            if given in self._seen:
                return "replayed"
            self._seen[given] = now
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        return "facilitator"


def token_notice(run: RunDir, token: str) -> str:
    """What the facilitator's console shows once, at the start: the token and how to use it."""
    return (
        f"facilitator token: {token}\n"
        "  Shown once, kept nowhere: mark, end, pause, resume, fire-next and "
        "`note --as facilitator` need it.\n"
        f"  In the facilitator's own shell:  export {TOKEN_VARIABLE}='{token}'\n"
        f"  or per command:  gameday mark {run.path} STEP_ID --token '{token}'\n"
        "  Never put it in the team's shell, the handout or a runbook."
    )
