"""Decoy credentials: access key IDs and secrets in AWS's real format, live only in the mock.

A key ID is a four-letter prefix (`AKIA` for a long-term user key) and sixteen base32
characters. The first of them carry the account: decoding `id[4:]` as base32 and reading
bits 46..7 of its first six bytes gives the twelve-digit account number. Scanners, AWS's
own tooling and moto all rely on this, so a responder who decodes the leaked key (or a
runbook that does) finds the scenario's account. moto builds its IDs the same way
(`moto/iam/utils.py`: half the account plus 2**39 in forty bits, then one character whose
top bit is the account's lowest bit), and keys made here are indistinguishable from its own.

The estate's keys are drawn from a seed, one independent stream per key, so the same seed
gives the same keys and adding a user to a scenario does not change anybody else's keys.
"""

from __future__ import annotations

import base64
import math
import random
import re
import string
from dataclasses import dataclass

from gameday.errors import UserError, did_you_mean
from gameday.scenario.model import Scenario

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
ACCESS_KEY_LENGTH = 20
SECRET_LENGTH = 40
ID_PREFIXES = ("AKIA", "ASIA", "AIDA", "AROA", "AGPA", "ANPA", "ANVA", "AIPA", "APKA", "ABIA")

# Forty bits carry half the account number; the top one is always set (as in AWS's IDs).
_ACCOUNT_OFFSET = 1 << 39
_ACCOUNT_MASK = 0x7FFFFFFFFF80

# AWS's documentation example; every scanner allow-lists it, so it must never be a decoy.
_DOCUMENTATION_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
_DOCUMENTATION_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# gitleaks' aws-access-token rule ignores matches under 3 bits of Shannon entropy per
# character; about one random key in 7,000 falls below it. A decoy every scanner flags keeps
# the exercise honest, so those are drawn again. For a few degenerate account numbers
# (000000000000 has nine fixed 'A's) no key reaches 3 bits; the most varied draw is kept.
MIN_KEY_ENTROPY = 3.0
_ENTROPY_DRAWS = 64

_KEY_ID = re.compile(r"^A[A-Z0-9]{3}[A-Z2-7]{16,}$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Credential:
    """An access key pair (with its session token when temporary). `repr` hides the secret so
    it never ends up in a log by accident."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"Credential(access_key_id={self.access_key_id!r}, secret_access_key='…')"


def is_documentation_example(access_key_id: str, secret_access_key: str = "") -> bool:
    """True for AWS's published example key or secret, which scanners deliberately ignore."""
    return access_key_id == _DOCUMENTATION_KEY_ID or secret_access_key == _DOCUMENTATION_SECRET


def generate_id(prefix: str, account_id: str, rng: random.Random, length: int = 21) -> str:
    """A unique-ID of AWS's new generation (`AIDA…` user, `AROA…` role…) encoding the account.

    User, role, group and policy IDs are 21 characters long; access key IDs are 20.
    """
    if prefix not in ID_PREFIXES:
        raise ValueError(f"unknown ID prefix {prefix!r} — {did_you_mean(prefix, ID_PREFIXES)}")
    if not _ACCOUNT_ID.match(account_id):
        raise ValueError(f"account ID {account_id!r} must be twelve digits")
    if length < 13:
        raise ValueError("an ID needs at least 13 characters to carry an account")
    number = int(account_id)
    account_part = base64.b32encode((number // 2 + _ACCOUNT_OFFSET).to_bytes(5, "big")).decode()
    # The 9th character's top bit is the account's lowest bit: 16..31 for odd, 0..15 for even.
    parity = rng.choice(BASE32[16:] if number % 2 else BASE32[:16])
    tail = "".join(rng.choice(BASE32) for _ in range(length - len(prefix) - 9))
    return prefix + account_part + parity + tail


def generate_secret(rng: random.Random) -> str:
    return "".join(rng.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def shannon_entropy(text: str) -> float:
    """Bits per character, as secret scanners compute it to tell keys from words."""
    counts = [text.count(c) for c in set(text)]
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts) if text else 0.0


def generate_access_key(account_id: str, rng: random.Random, prefix: str = "AKIA") -> Credential:
    """A key pair for `account_id`, drawn from `rng`.

    Never AWS's documentation example, and (where the account allows it) never a key too
    regular for scanners to flag.
    """
    best: Credential | None = None
    draws = 0
    while draws < _ENTROPY_DRAWS or best is None:
        access_key_id = generate_id(prefix, account_id, rng, length=ACCESS_KEY_LENGTH)
        secret = generate_secret(rng)
        if is_documentation_example(access_key_id, secret):
            continue
        draws += 1
        entropy = shannon_entropy(access_key_id)
        if entropy >= MIN_KEY_ENTROPY:
            return Credential(access_key_id, secret)
        if best is None or entropy > shannon_entropy(best.access_key_id):
            best = Credential(access_key_id, secret)
    return best


def account_of(access_key_id: str) -> str:
    """The twelve-digit account a new-generation key (or unique) ID belongs to."""
    if not _KEY_ID.match(access_key_id):
        raise ValueError(
            f"{access_key_id!r} is not an AWS key ID — expected a four-character prefix "
            "and at least sixteen characters of A–Z and 2–7"
        )
    # Sixteen base32 characters decode to ten bytes; longer IDs are cut to the same length.
    decoded = base64.b32decode(access_key_id[4:20])
    number = (int.from_bytes(decoded[0:6], "big") & _ACCOUNT_MASK) >> 7
    return f"{number:012d}"


def _key_rng(seed: int, account_id: str, user: str, key: str) -> random.Random:
    # A string seed is hashed with SHA-512, so the stream is stable across processes and
    # Python versions (unlike hash()); one stream per key keeps keys independent.
    return random.Random(f"gameday-key:{seed}:{account_id}:{user}:{key}")


def estate_credentials(scenario: Scenario, seed: int) -> dict[str, Credential]:
    """One credential per access key of every estate user, keyed by the key's reference name."""
    account_id = scenario.account.id
    credentials: dict[str, Credential] = {}
    owners: dict[str, str] = {}
    for user in scenario.account.estate.users:
        for key in user.keys:
            if key.id in owners:
                raise UserError(
                    f"access key '{key.id}' is declared twice (users '{owners[key.id]}' and "
                    f"'{user.name}') — give each key its own id"
                )
            owners[key.id] = user.name
            rng = _key_rng(seed, account_id, user.name, key.id)
            credentials[key.id] = generate_access_key(account_id, rng)
    return credentials


def leaked_key_ref(scenario: Scenario) -> str:
    """The reference name of the key that leaks: `leak.key`, or the leak user's first key."""
    leak = scenario.leak
    users = {user.name: user for user in scenario.account.estate.users}
    user = users.get(leak.user)
    if user is None:
        hint = did_you_mean(leak.user, users)
        raise UserError(f"leak.user '{leak.user}' is not a user of the estate — {hint}")
    keys = [key.id for key in user.keys]
    if not keys:
        raise UserError(f"user '{user.name}' has no access key to leak — add one under its `keys:`")
    if leak.key is None:
        return keys[0]
    if leak.key not in keys:
        raise UserError(
            f"leak.key '{leak.key}' is not a key of user '{user.name}' — "
            f"{did_you_mean(leak.key, keys)}"
        )
    return leak.key


def leaked_key_active(scenario: Scenario) -> bool:
    """The leaked key worked at the push: False in a false alarm (a key already inactive)."""
    ref = leaked_key_ref(scenario)
    user = next(u for u in scenario.account.estate.users if u.name == scenario.leak.user)
    return next(str(k.status) for k in user.keys if k.id == ref) == "Active"
