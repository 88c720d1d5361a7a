"""A team that cleans up with every hand but its own.

1. The attacker's own key: the secret is beside the key id in the public repository, at the
   commit the notice names. With it the team looks itself up in CloudTrail, sweeps every
   region and terminates what runs where the company never works, and replies to AWS.
2. Borrowed identities: the key ids the run's `journal.jsonl` shows the framework and the
   production service signing with, each with a made-up secret (or the real one, when the
   run's vault shows it), and every key whose secret the vault kept from a CreateAccessKey
   answer — the attacker's backdoor keys among them. With the first hand that works it does
   the reference runbook's whole response.
Nothing here is signed by the responders' own principal: whatever this scores, apart from
the code host's buttons and git, is credit for someone else's hands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parent))
import adversary_kit as kit
from adversary_kit import SignedAs, attempt

if TYPE_CHECKING:
    from gameday.exercise.responders import RunbookContext

MADE_UP_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def respond(ctx: RunbookContext) -> None:
    email = ctx.wait_for("email")
    facts = kit.Facts(
        key_id=str(email.data["access_key_id"]),
        user=str(email.data.get("user_name") or "") or None,
        public_url=str(email.data.get("public_url") or ""),
        notice=email,
    )
    ctx.sleep("2m")
    secret = kit.leaked_secret(ctx, facts)
    if secret is not None:
        clean_up_as_the_attacker(ctx, SignedAs(ctx.aws, facts.key_id, secret), facts)

    ctx.sleep("1m")
    reference = kit.library_runbook("reference")
    for who, hands in borrowed_hands(ctx, facts):
        try:
            reference.respond(kit.Borrowed(ctx, aws=hands, notice=email))
        except kit.REFUSED as refused:
            ctx.note(f"Signing as {who} ({hands.key_id}) was refused: {refused}")
            continue
        ctx.note(f"Cleaned up signing as {who} ({hands.key_id})")
        return


def clean_up_as_the_attacker(ctx: RunbookContext, hands: SignedAs, facts: kit.Facts) -> None:
    trail: Any = hands.client("cloudtrail", region_name="us-east-1")
    attempt(
        trail.lookup_events,
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": facts.key_id}],
    )
    ours = set(kit.company_regions(ctx))
    for region in kit.every_region(ctx):
        ec2: Any = hands.client("ec2", region_name=region)
        found = attempt(
            ec2.describe_instances,
            Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}],
        )
        rogue = [
            instance["InstanceId"]
            for reservation in (found or {}).get("Reservations", [])
            for instance in reservation["Instances"]
        ]
        if rogue and region not in ours:
            attempt(ec2.terminate_instances, InstanceIds=rogue)
    iam: Any = hands.client("iam")
    if facts.user:
        attempt(
            iam.update_access_key, UserName=facts.user, AccessKeyId=facts.key_id, Status="Inactive"
        )
    support: Any = hands.client("support", region_name="us-east-1")
    cases = attempt(support.describe_cases, includeResolvedCases=False) or {}
    for case in cases.get("cases", []):
        attempt(
            support.add_communication_to_case,
            caseId=case["caseId"],
            communicationBody=f"{facts.key_id} is contained and every region was checked.",
        )
    ctx.note(f"Cleaned up with {facts.key_id} itself, from the secret in the repository")


def borrowed_hands(ctx: RunbookContext, facts: kit.Facts) -> list[tuple[str, SignedAs]]:
    """Other principals' keys the run directory shows, each with the best secret at hand."""
    run = kit.run_directory(ctx)
    if run is None:
        return []
    events = kit.journal_events(run)
    vault = kit.vault_secrets(run)
    own = {getattr(ctx.aws.get_credentials(), "access_key", None)}
    named: list[tuple[str, str]] = [
        *(("the framework's key", key) for key in kit.key_ids_of(events, "framework")),
        *(("the production service's key", key) for key in kit.key_ids_of(events, "workload")),
        *(("a key the vault shows", key) for key in vault),
    ]
    hands: list[tuple[str, SignedAs]] = []
    seen = {*own, facts.key_id}
    for who, key in named:
        if key not in seen:
            seen.add(key)
            hands.append((who, SignedAs(ctx.aws, key, vault.get(key, MADE_UP_SECRET))))
    return hands
