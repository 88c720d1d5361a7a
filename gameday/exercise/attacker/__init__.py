"""The attacker: techniques played with the leaked key, on the run's timeline.

`Attacker.plan()` says when each technique of the scenario detonates (and, for the mining
technique, how often it comes back to relaunch what was terminated); `detonate()` runs one
and journals an `attacker.technique` event with what it achieved and left behind. Every API
call goes through the gateway signed with the attacker's credentials, so it is journaled as
the attacker's and fails the way AWS fails once the key is disabled or denied.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gameday.exercise.attacker import collection, discovery, execution, impact, persistence
from gameday.exercise.attacker.base import (
    TECHNIQUES,
    AttackerContext,
    Outcome,
    Resource,
    Technique,
    attacker_clients,
)
from gameday.journal import Journal
from gameday.scenario.model import Ec2Mining, RoleSession, Scenario, UserSession
from gameday.scenario.model import Technique as TechniqueSpec

__all__ = [
    "TECHNIQUES",
    "Attacker",
    "AttackerContext",
    "Outcome",
    "Planned",
    "Resource",
    "Technique",
    "attacker_clients",
    "collection",
    "discovery",
    "execution",
    "impact",
    "persistence",
]


@dataclass(frozen=True)
class Planned:
    at: float
    spec: TechniqueSpec
    every: float | None = None  # comes back every so often while it still has credentials


class Attacker:
    def __init__(self, scenario: Scenario, context: AttackerContext, journal: Journal) -> None:
        self.scenario = scenario
        self.context = context
        self.journal = journal

    def plan(self) -> list[Planned]:
        first_use = self.scenario.attacker.first_use
        planned = []
        for spec in self.scenario.attacker.techniques:
            every = (
                spec.relaunch_every
                if isinstance(spec, Ec2Mining)
                else spec.use_every
                if isinstance(spec, RoleSession | UserSession)
                else None
            )
            planned.append(Planned(max(spec.at, first_use), spec, every))
        return sorted(planned, key=lambda p: p.at)

    def detonate(self, spec: TechniqueSpec, *, repeat: bool = False) -> Outcome | None:
        """Run one technique now; a repeat is skipped silently once no credential works."""
        if repeat and not self.context.has_working_credentials():
            return None
        technique = TECHNIQUES.get(spec.technique)
        self.context.outcome = outcome = Outcome()
        technique.detonate(self.context, spec)
        if repeat and not outcome.created and outcome.failed == 0:
            return outcome  # nothing to relaunch: no need to clutter the journal
        self.journal.append(
            "attacker.technique",
            technique=technique.id,
            tactic=technique.tactic,
            repeat=repeat,
            status=outcome.status,
            succeeded=outcome.succeeded,
            failed=outcome.failed,
            # The code the last refused call ended with (the journal's `error_code`), and all.
            error_code=outcome.error_codes[-1] if outcome.error_codes else None,
            error_codes=sorted(set(outcome.error_codes)),
            created=[asdict(r) for r in outcome.created],
            loot=outcome.loot,
        )
        return outcome
