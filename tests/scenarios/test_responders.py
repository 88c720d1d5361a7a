"""The `responders` section: the estate user the team signs as, checked against the rest."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from gameday.scenario.model import DEFAULT_RESPONDERS_USER, Scenario
from gameday.scenario.references import Loc, check_references

from . import SMALL_SCENARIO

BASE: dict[str, Any] = yaml.safe_load(SMALL_SCENARIO)


def with_user(name: str, *keys: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["account"]["estate"]["users"].append({"name": name, "keys": list(keys)})
    return data


def found(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    return list(check_references(data))


def test_no_responders_section_means_the_default_user_and_is_fine() -> None:
    data = copy.deepcopy(BASE)
    assert found(data) == []
    assert Scenario.model_validate(data).responders.user is None


def test_an_estate_user_with_an_active_key_may_be_the_responders() -> None:
    data = with_user("oncall-admin", {"id": "oncall-key", "age": "90d"})
    data["responders"] = {"user": "oncall-admin"}
    assert found(data) == []
    assert Scenario.model_validate(data).responders.user == "oncall-admin"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("oncall-admn", "unknown user 'oncall-admn' — did you mean 'oncall-admin'?"),
        (
            "deployer",
            "user 'deployer' owns the key that leaks — the responders need a user of their own",
        ),
        (
            "billing-api",
            "user 'billing-api' is the workload's — the responders need a user of their own",
        ),
        (
            "retired",
            "user 'retired' has no active access key for the responders' AWS profile — add one "
            "under its 'keys'",
        ),
    ],
)
def test_the_responders_user_is_an_estate_user_of_their_own_with_a_key(
    name: str, message: str
) -> None:
    data = with_user("oncall-admin", {"id": "oncall-key", "age": "90d"})
    data["account"]["estate"]["users"] += [
        {"name": "billing-api", "keys": [{"id": "billing-prod", "age": "300d"}]},
        {"name": "retired", "keys": [{"id": "old", "age": "900d", "status": "Inactive"}]},
    ]
    data["account"]["estate"]["secrets"] = [{"name": "prod/billing", "from_key": "billing-prod"}]
    data["workload"] = {
        "name": "billing",
        "user": "billing-api",
        "key": "billing-prod",
        "secret": "prod/billing",
    }
    data["responders"] = {"user": name}
    assert found(data) == [(("responders", "user"), message)]


def test_an_estate_user_named_like_the_default_must_be_named_as_the_responders() -> None:
    data = with_user(DEFAULT_RESPONDERS_USER, {"id": "oncall-key", "age": "90d"})
    assert found(data) == [
        (
            ("account", "estate", "users", 1, "name"),
            f"'{DEFAULT_RESPONDERS_USER}' is the name of the responders' default user — name "
            "this user under responders.user (with an active key), or rename it",
        )
    ]
    data["responders"] = {"user": DEFAULT_RESPONDERS_USER}
    assert found(data) == []


def test_the_attackers_backdoor_user_cannot_take_the_default_responders_name() -> None:
    data = copy.deepcopy(BASE)
    data["attacker"]["techniques"].append(
        {
            "technique": "aws.persistence.iam-create-backdoor-user",
            "at": "5m",
            "user_name": DEFAULT_RESPONDERS_USER,
        }
    )
    assert found(data) == [
        (
            ("attacker", "techniques", 1, "user_name"),
            f"user '{DEFAULT_RESPONDERS_USER}' already exists — the backdoor user needs a new name",
        )
    ]


@pytest.mark.parametrize(
    "technique",
    ["aws.persistence.iam-backdoor-existing-user", "aws.persistence.iam-create-login-profile"],
)
def test_the_attacker_may_go_for_the_responders_default_user(technique: str) -> None:
    data = copy.deepcopy(BASE)
    data["attacker"]["techniques"].append(
        {"technique": technique, "at": "5m", "user_name": DEFAULT_RESPONDERS_USER}
    )
    assert found(data) == []
    # with responders of their own the default user is never added: no such user then
    data["account"]["estate"]["users"].append(
        {"name": "deployer-2", "keys": [{"id": "second", "age": "9d"}]}
    )
    data["responders"] = {"user": "deployer-2"}
    assert found(data) == [
        (
            ("attacker", "techniques", 1, "user_name"),
            f"unknown user '{DEFAULT_RESPONDERS_USER}' — expected one of: deployer, deployer-2",
        )
    ]


def test_a_misspelt_field_of_the_section_is_refused() -> None:
    data = copy.deepcopy(BASE)
    data["responders"] = {"usr": "deployer"}
    with pytest.raises(ValueError, match="usr"):
        Scenario.model_validate(data)
