"""Decoy credentials: AWS's format, the account they encode, determinism, scanner patterns."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
import yaml
from moto.iam.utils import generate_access_key_id_from_account_id

from gameday.errors import UserError
from gameday.scenario.model import Scenario
from gameday.world.decoys import (
    BASE32,
    MIN_KEY_ENTROPY,
    Credential,
    account_of,
    estate_credentials,
    generate_access_key,
    generate_id,
    is_documentation_example,
    leaked_key_ref,
    shannon_entropy,
)

# The scanners' own patterns (FACTS.md §5, gitleaks' default config as published).
GIT_SECRETS_KEY = re.compile(r"(A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA)[A-Z0-9]{16}")
GITLEAKS_KEY = re.compile(r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b")
DETECT_SECRETS_KEY = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")
KEY_FORMAT = re.compile(r"^AKIA[A-Z2-7]{16}$")
SECRET_FORMAT = re.compile(r"^[A-Za-z0-9/+]{40}$")

SCENARIO = """
id: decoys
title: Decoys
summary: keys for the estate
difficulty: introductory
duration: 1h
account:
  id: "491826357014"
  alias: northwind
  support_plan: business
  contacts: {primary: {name: Dana, email: dana@northwind.example}}
  regions: [us-east-1]
  estate:
    users:
      - name: deployer
        keys: [{id: deploy-key, age: 400d}, {id: deploy-new, age: 3d}]
      - name: billing-api
        keys: [{id: billing-prod, age: 300d}]
      - name: auditor
leak:
  user: deployer
  vector: shell-export
  author: {name: Jordan Alvarez, email: jordan@northwind.example}
  repository: {owner: northwind-labs, name: storefront-tools}
steps:
  - {id: s, title: S, phase: contain, check: {type: manual}, points: 5, target: 1m, deadline: 2m}
"""


def scenario(**leak: Any) -> Scenario:
    data = yaml.safe_load(SCENARIO)
    data["leak"].update(leak)
    return Scenario.model_validate(data)


def accounts(count: int) -> list[str]:
    rng = random.Random(7)
    edge = ["000000000000", "000000000001", "999999999999", "549755813888", "123456789012"]
    return edge + [f"{rng.randrange(10**12):012d}" for _ in range(count)]


def test_keys_decode_to_their_account_over_many_seeds_and_accounts() -> None:
    for index, account in enumerate(accounts(400)):
        for seed in range(5):
            key = generate_access_key(account, random.Random(f"{index}:{seed}"))
            assert KEY_FORMAT.match(key.access_key_id), key.access_key_id
            assert SECRET_FORMAT.match(key.secret_access_key)
            assert account_of(key.access_key_id) == account


def test_other_prefixes_and_unique_ids_decode_too() -> None:
    rng = random.Random(3)
    for account in accounts(50):
        temporary = generate_access_key(account, rng, prefix="ASIA")
        assert temporary.access_key_id.startswith("ASIA")
        assert account_of(temporary.access_key_id) == account
        for prefix in ("AIDA", "AROA", "ANPA"):
            unique_id = generate_id(prefix, account, rng)
            assert re.fullmatch(prefix + r"[A-Z2-7]{17}", unique_id)
            assert account_of(unique_id) == account


def test_keys_agree_with_moto_both_ways() -> None:
    for account in accounts(100):
        ours = generate_access_key(account, random.Random(account)).access_key_id
        theirs = generate_access_key_id_from_account_id(account, "AKIA", 20)
        assert account_of(theirs) == account
        # Same layout: the eight characters after the prefix are the account's, in both.
        assert ours[4:12] == theirs[4:12]
        # The ninth carries the account's lowest bit in its top bit, in both.
        odd = int(account) % 2 == 1
        assert (BASE32.index(ours[12]) >= 16) == (BASE32.index(theirs[12]) >= 16) == odd


def test_every_scanner_pattern_flags_every_decoy_key() -> None:
    rng = random.Random(11)
    # Real account numbers, not the degenerate edge cases (see the next tests).
    for account in accounts(300)[5:]:
        key_id = generate_access_key(account, rng).access_key_id
        assert GIT_SECRETS_KEY.search(f"export AWS_ACCESS_KEY_ID={key_id}")
        assert DETECT_SECRETS_KEY.search(f'key = "{key_id}"')
        found = GITLEAKS_KEY.search(f"aws_access_key_id = {key_id}")
        assert found is not None
        # gitleaks also requires some entropy and skips anything ending in EXAMPLE.
        assert shannon_entropy(found.group(1)) >= MIN_KEY_ENTROPY
        assert not key_id.endswith("EXAMPLE")


def test_low_entropy_draws_are_redrawn() -> None:
    # Account 2 fixes eight 'A's: most raw draws fall under 3 bits, yet 3 bits are reachable.
    raw = [generate_id("AKIA", "000000000002", random.Random(i), 20) for i in range(300)]
    assert sum(shannon_entropy(key) < MIN_KEY_ENTROPY for key in raw) > 100
    keys = [generate_access_key("000000000002", random.Random(i)) for i in range(300)]
    assert all(shannon_entropy(k.access_key_id) >= MIN_KEY_ENTROPY for k in keys)


def test_an_account_that_cannot_reach_the_entropy_still_gets_a_key() -> None:
    # Nine fixed 'A's cap the entropy below 3 bits: the most varied of the draws is kept.
    key = generate_access_key("000000000000", random.Random(0))
    assert account_of(key.access_key_id) == "000000000000"
    assert shannon_entropy(key.access_key_id) > 2.6


class ScriptedRandom(random.Random):
    """Hands out a scripted sequence of choices first, then behaves like a normal Random."""

    def __init__(self, script: str) -> None:
        super().__init__(0)
        self.script = list(script)
        self.draws = 0

    def choice(self, seq: Any) -> Any:
        self.draws += 1
        if self.script:
            wanted = self.script.pop(0)
            assert wanted in seq
            return wanted
        return super().choice(seq)


def test_the_documentation_example_is_refused() -> None:
    example_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert is_documentation_example("AKIAIOSFODNN7EXAMPLE")
    assert is_documentation_example("AKIAQWERTYQWERTY2345", example_secret)
    # Script the first draw to come out as the example secret: the generator must draw again.
    rng = ScriptedRandom("B" + "CDEFGHJ" + example_secret)
    key = generate_access_key("491826357014", rng)
    assert key.secret_access_key != example_secret
    assert rng.draws > 48 + 8
    assert key.access_key_id != "AKIAIOSFODNN7EXAMPLE"


def test_account_of_rejects_what_is_not_a_key() -> None:
    for text in (
        "",
        "AKIA",
        "akiaxfazcumleeqh746y",
        "AKIA0000000000000000",
        "AKIA-FAZCUMLEEQH746Y",
    ):
        with pytest.raises(ValueError):
            account_of(text)


def test_generate_id_rejects_bad_input() -> None:
    rng = random.Random(0)
    with pytest.raises(ValueError, match="did you mean 'AKIA'"):
        generate_id("AKIB", "491826357014", rng)
    with pytest.raises(ValueError, match="twelve digits"):
        generate_id("AKIA", "49182635701", rng)


def test_repr_keeps_the_secret_out_of_logs() -> None:
    key = generate_access_key("491826357014", random.Random(1))
    assert key.secret_access_key not in repr(key)
    assert key.access_key_id in repr(key)


def test_estate_credentials_are_deterministic_per_seed() -> None:
    first = estate_credentials(scenario(), seed=4)
    assert set(first) == {"deploy-key", "deploy-new", "billing-prod"}
    assert first == estate_credentials(scenario(), seed=4)
    other = estate_credentials(scenario(), seed=5)
    assert all(first[ref] != other[ref] for ref in first)
    assert len({c.access_key_id for c in first.values()}) == 3
    assert all(account_of(c.access_key_id) == "491826357014" for c in first.values())
    assert all(isinstance(c, Credential) for c in first.values())


def test_a_key_does_not_change_when_the_estate_grows() -> None:
    data = yaml.safe_load(SCENARIO)
    data["account"]["estate"]["users"].insert(
        0, {"name": "newcomer", "keys": [{"id": "newcomer-cli", "age": "1d"}]}
    )
    grown = estate_credentials(Scenario.model_validate(data), seed=4)
    before = estate_credentials(scenario(), seed=4)
    assert all(grown[ref] == credential for ref, credential in before.items())


def test_duplicate_key_ids_are_a_user_error() -> None:
    data = yaml.safe_load(SCENARIO)
    data["account"]["estate"]["users"][1]["keys"][0]["id"] = "deploy-key"
    with pytest.raises(UserError, match="declared twice"):
        estate_credentials(Scenario.model_validate(data), seed=0)


def test_leaked_key_ref_defaults_to_the_users_first_key() -> None:
    assert leaked_key_ref(scenario()) == "deploy-key"
    assert leaked_key_ref(scenario(key="deploy-new")) == "deploy-new"


@pytest.mark.parametrize(
    ("leak", "message"),
    [
        ({"user": "deployr"}, "did you mean 'deployer'"),
        ({"user": "auditor"}, "has no access key"),
        ({"key": "deploy-kye"}, "did you mean 'deploy-key'"),
        ({"key": "billing-prod"}, "not a key of user 'deployer'"),
    ],
)
def test_leaked_key_ref_explains_bad_references(leak: dict[str, str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        leaked_key_ref(scenario(**leak))
