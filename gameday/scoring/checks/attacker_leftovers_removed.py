"""attacker-leftovers-removed: everything the attacker created, in every region, is gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gameday.scenario.model import AttackerLeftoversRemoved
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State

ATTACKER = "attacker"


def _users(state: State) -> Iterator[str]:
    for user in state.users.values():
        if user.created_by == ATTACKER and user.exists:
            yield f"user {user.name}"


def _access_keys(state: State) -> Iterator[str]:
    for key in state.keys.values():
        if key.created_by == ATTACKER and key.exists:
            yield f"access key {key.access_key_id} of {key.user}"


def _login_profiles(state: State) -> Iterator[str]:
    for user in state.users.values():
        if user.login_profile_by == ATTACKER and user.login_profile and user.exists:
            yield f"console password of {user.name}"


def _roles(state: State) -> Iterator[str]:
    for role in state.roles.values():
        if role.created_by == ATTACKER and role.exists:
            yield f"role {role.name}"


def _policies(state: State) -> Iterator[str]:
    for policy in state.policies.values():
        if policy.created_by == ATTACKER and policy.deleted_t is None:
            yield f"policy {policy.arn}"
    # Policies the attacker put on or attached to someone else's user or role: its own
    # users and roles take their policies with them when they go.
    for what, principals in (("user", state.users), ("role", state.roles)):
        for principal in principals.values():
            if not principal.exists or principal.created_by == ATTACKER:
                continue
            for attachment in principal.policies.values():
                if attachment.by == ATTACKER:
                    yield f"{attachment.kind} policy {attachment.name} on {what} {principal.name}"


def _instances(state: State) -> Iterator[str]:
    for instance in state.instances.values():
        if instance.created_by == ATTACKER and instance.gone_t is None:
            label = "Spot request" if instance.kind == "spot-request" else "instance"
            yield f"{label} {instance.id} ({instance.region})"


def _functions(state: State) -> Iterator[str]:
    for function in state.functions.values():
        if function.created_by == ATTACKER and function.deleted_t is None:
            yield f"function {function.name} ({function.region})"


LEFTOVERS: dict[str, Callable[[State], Iterator[str]]] = {
    "users": _users,
    "access-keys": _access_keys,
    "login-profiles": _login_profiles,
    "roles": _roles,
    "policies": _policies,
    "instances": _instances,
    "functions": _functions,
}


def evaluate(params: AttackerLeftoversRemoved, state: State, owner: str) -> Verdict:
    left = [item for kind in params.kinds for item in LEFTOVERS[kind](state)]
    if left:
        shown = ", ".join(left[:6]) + (f" and {len(left) - 6} more" if len(left) > 6 else "")
        return Verdict(False, f"{len(left)} attacker resource(s) remain: {shown}")
    return Verdict(True, "nothing the attacker created remains")


CHECK = register(
    CheckType(
        name="attacker-leftovers-removed",
        title="The attacker's leftovers are removed",
        description=(
            "Holds when every resource of the listed `kinds` that the attacker created is gone: "
            "IAM users, access keys (on new or existing users), console passwords (login "
            "profiles), roles, policies (managed policies it created, and policies it put on or "
            "attached to a user or role it did not create), EC2 instances and Spot requests in "
            "any region, and Lambda functions. A resource is the attacker's when the call that "
            "created it was made with the attacker's credentials, or an `attacker.technique` "
            "event lists it under `created`. An instance the attacker relaunches after a "
            "clean-up makes the check false again."
        ),
        params=AttackerLeftoversRemoved,
        reads=("api:iam", "api:ec2", "api:lambda", "kind:attacker.technique"),
        evaluate=evaluate,
        parameters={
            "kinds": "which kinds of leftovers must be gone",
        },
    )
)
