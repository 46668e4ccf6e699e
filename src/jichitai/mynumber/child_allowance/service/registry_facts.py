"""The registry facts beside a claim: the claimant's record, the household, the claimed children.

Looked up through :class:`~jichitai.mynumber.registry.service.RegistryService` under the child
allowance purpose (permitted for registry inquiry in :mod:`..purposes`); each lookup is audited by
the registry. A claimed child is matched first among the claimant's household members (name and
birth date), then anywhere in the register (a child living apart); what cannot be matched is
reported, never guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from jichitai.mynumber.child_allowance.claims import ClaimedChild, normalize_name
from jichitai.mynumber.registry.service import (
    HouseholdRecord,
    PersonRecord,
    RegistryService,
    SearchQuery,
)
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import NotFound


@dataclass(frozen=True)
class ChildMatch:
    """A claimed child and the registry record found for it (or why none was)."""

    claimed: ClaimedChild
    record: PersonRecord | None
    same_household: bool
    problem: str | None  # Japanese; None when matched cleanly

    @property
    def label(self) -> str:
        return f"{self.claimed.name}（{self.claimed.birth_date.isoformat()}生）"


@dataclass(frozen=True)
class RegistryFacts:
    claimant: PersonRecord | None
    household: HouseholdRecord | None
    children: tuple[ChildMatch, ...]

    def resident_on(self, day: date) -> bool:
        return self.claimant is not None and self.claimant.is_resident_on(day)


def _match_in(members: Sequence[PersonRecord], child: ClaimedChild) -> PersonRecord | None:
    name = normalize_name(child.name)
    for m in members:
        if m.birth_date == child.birth_date and normalize_name(m.name) == name:
            return m
    return None


def lookup(
    registry: RegistryService,
    ctx: TenantContext,
    atena_number: str | None,
    children: Sequence[ClaimedChild],
) -> RegistryFacts:
    claimant: PersonRecord | None = None
    household: HouseholdRecord | None = None
    if atena_number:
        try:
            claimant = registry.person(ctx, atena_number)
        except NotFound:
            claimant = None
    if claimant is not None:
        try:
            household = registry.household(ctx, claimant.household_number, include_removed=True)
        except NotFound:
            household = None
    members = [m for m in (household.members if household else ()) if m.atena_number != atena_number]
    matches: list[ChildMatch] = []
    for child in children:
        found = _match_in(members, child)
        if found is not None:
            problem = None
            if found.is_removed:
                problem = (
                    f"児童 {child.name} は住民記録上、{found.removal_reason or '消除'}により消除されています"
                )
            matches.append(ChildMatch(child, found, True, problem))
            continue
        page = registry.search(ctx, SearchQuery(name=child.name, birth_date=child.birth_date, page_size=5))
        hit = next((h for h in page.hits if normalize_name(h.name) == normalize_name(child.name)), None)
        if hit is None:
            matches.append(
                ChildMatch(
                    child,
                    None,
                    False,
                    f"児童 {child.name}（{child.birth_date.isoformat()}生）が住民記録に見つかりません",
                )
            )
            continue
        record = registry.person(ctx, hit.atena_number)
        problem = None
        if not child.lives_apart and not child.university_age:
            problem = f"児童 {child.name} は住民記録上、請求者と別の世帯です（同居として請求されています）"
        elif record.is_removed:
            problem = f"児童 {child.name} は住民記録上、消除されています"
        matches.append(ChildMatch(child, record, False, problem))
    return RegistryFacts(claimant, household, tuple(matches))
