"""attacker-leftovers-removed: everything the attacker created, in every region, is gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gameday.scenario.model import AttackerLeftoversRemoved
from gameday.scoring.checks.registry import CheckType, Verdict, register
from gameday.scoring.state import State

ATTACKER = "attacker"


# Each kind lists the attacker's resources of that kind: (label, still there, who removed it).
Leftover = tuple[str, bool, str | None]


def _users(state: State) -> Iterator[Leftover]:
    for user in state.users.values():
        if user.created_by == ATTACKER:
            yield f"user {user.name}", user.exists, user.deleted_by


def _access_keys(state: State) -> Iterator[Leftover]:
    for key in state.keys.values():
        if key.created_by == ATTACKER:
            yield f"access key {key.access_key_id} of {key.user}", key.exists, key.deleted_by


def _login_profiles(state: State) -> Iterator[Leftover]:
    for user in state.users.values():
        if user.login_profile_by == ATTACKER and user.login_profile and user.exists:
            yield f"console password of {user.name}", True, None
        elif user.attacker_login_profile_removed_by is not None and user.created_by != ATTACKER:
            by = user.attacker_login_profile_removed_by
            yield f"console password of {user.name}", False, by


def _roles(state: State) -> Iterator[Leftover]:
    for role in state.roles.values():
        if role.created_by == ATTACKER:
            yield f"role {role.name}", role.exists, role.deleted_by


def _policies(state: State) -> Iterator[Leftover]:
    for policy in state.policies.values():
        if policy.created_by == ATTACKER:
            yield f"policy {policy.arn}", policy.deleted_t is None, policy.deleted_by
    # Policies the attacker put on or attached to someone else's user or role: its own
    # users and roles take their policies with them when they go.
    for what, principals in (("user", state.users), ("role", state.roles)):
        for principal in principals.values():
            if principal.created_by == ATTACKER:
                continue
            for key, attachment in principal.history.items():
                if attachment.by != ATTACKER:
                    continue
                label = f"{attachment.kind} policy {attachment.name} on {what} {principal.name}"
                there = principal.exists and key in principal.policies
                yield label, there, principal.removed_by.get(key)


def _instances(state: State) -> Iterator[Leftover]:
    for instance in state.instances.values():
        if instance.created_by == ATTACKER:
            label = "Spot request" if instance.kind == "spot-request" else "instance"
            yield (
                f"{label} {instance.id} ({instance.region})",
                instance.gone_t is None,
                instance.gone_by,
            )


def _functions(state: State) -> Iterator[Leftover]:
    for function in state.functions.values():
        if function.created_by == ATTACKER:
            yield (
                f"function {function.name} ({function.region})",
                function.deleted_t is None,
                function.deleted_by,
            )


LEFTOVERS: dict[str, Callable[[State], Iterator[Leftover]]] = {
    "users": _users,
    "access-keys": _access_keys,
    "login-profiles": _login_profiles,
    "roles": _roles,
    "policies": _policies,
    "instances": _instances,
    "functions": _functions,
}


def evaluate(params: AttackerLeftoversRemoved, state: State, owner: str) -> Verdict:
    found = [item for kind in params.kinds for item in LEFTOVERS[kind](state)]
    left = [label for label, there, _ in found if there]
    if left:
        shown = ", ".join(left[:6]) + (f" and {len(left) - 6} more" if len(left) > 6 else "")
        return Verdict(False, f"{len(left)} attacker resource(s) remain: {shown}")
    removers = sorted({str(by) for _, _, by in found})
    if not removers:
        return Verdict(True, "the attacker created nothing of these kinds")
    by = next((who for who in removers if who != "team"), "team")
    return Verdict(True, f"nothing the attacker created remains ({len(found)} removed)", by)


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
            "clean-up makes the check false again. The step is the team's when the team "
            "removed what was there; when the attacker created nothing of these kinds the check "
            "holds, but nobody earned it."
        ),
        params=AttackerLeftoversRemoved,
        reads=("api:iam", "api:ec2", "api:lambda", "kind:attacker.technique"),
        evaluate=evaluate,
        parameters={
            "kinds": "which kinds of leftovers must be gone",
        },
    )
)
