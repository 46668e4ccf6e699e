"""Demo data of the resident registry: a synthetic population loaded through the registry service.

``seed_demo(storage, console, residents)`` (called by ``jichitai demo``) generates households with
:mod:`synthetic` for the demo tenant and records them as real changes: a 転入 per household with
the members living there at the time, then an 出生 for each child born later. Going through
:class:`RegistryService` (not a bulk insert) means the demo has history, events and audit entries
like a register that has been in use; about 200 residents take a few seconds. Idempotency keys are
derived from the household numbers, so seeding twice records nothing new.

It also adds an API client of the linkage API (:mod:`.api`) and shows its credentials, so that a
developer can pull the demo's 異動情報 as another core system would.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from jichitai.mynumber.registry.interchange import ResidentKind, ResidentRow
from jichitai.mynumber.registry.issuance import ISSUE  # noqa: F401  (registers the issuance purposes)
from jichitai.mynumber.registry.purposes import CHANGE_RECORD
from jichitai.mynumber.registry.service import (
    Birth,
    FormerSurnameEntry,
    MoveIn,
    NewPerson,
    RegistryService,
)
from jichitai.mynumber.registry.synthetic import SyntheticHousehold, generate_population
from jichitai.platform.context import STAFF_ADMIN, TenantContext, operator, system
from jichitai.platform.errors import JichitaiError
from jichitai.platform.identity.roles import Permission
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.storage import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

DEMO_TENANT = "131016"
DEMO_SEED = 20261126
HEAD = "世帯主"
_ELSEWHERE = "東京都新宿区西新宿二丁目8番1号"


def _new_person(row: ResidentRow, relationship: str) -> NewPerson:
    foreign = row.kind is ResidentKind.FOREIGN
    return NewPerson(
        name=row.name,
        name_kana=row.name_kana,
        birth_date=row.birth_date,
        sex=row.sex.value,
        relationship=relationship,
        kind=row.kind.value,
        juminhyo_code=row.juminhyo_code,
        individual_number=row.my_number,
        honseki=None if foreign else row.honseki,
        hittosha=None if foreign else row.hittosha,
        nationality=row.nationality if foreign else None,
        residence_status=row.residence_status if foreign else None,
        stay_expires_on=row.stay_expires_on if foreign else None,
        residence_card_number=row.residence_card_number if foreign else None,
        alias=row.alias if foreign else None,
        alias_kana=row.alias_kana if foreign else None,
    )


def _record_household(service: RegistryService, ctx: TenantContext, household: SyntheticHousehold) -> int:
    """Record one household; returns how many persons entered the register."""
    living = [m for m in household.members if not m.is_removed]
    if not living:
        return 0
    head = next((m for m in living if m.relationship == HEAD), living[0])
    moved_in_on = max(head.address_since, head.birth_date)
    founders: Sequence[ResidentRow] = [m for m in living if m.birth_date <= moved_in_on]
    born_later = sorted((m for m in living if m.birth_date > moved_in_on), key=lambda m: m.birth_date)
    persons = tuple(_new_person(m, HEAD if m is head else m.relationship) for m in founders)
    result = service.submit(
        ctx,
        MoveIn(
            idempotency_key=f"demo-move-in-{household.household_number}",
            event_date=moved_in_on,
            notified_on=moved_in_on,
            persons=persons,
            address=head.address.text,
            address_note=head.address_note,
            previous_address=head.address_before_move_in or head.previous_address or _ELSEWHERE,
        ),
    )
    count = len(persons)
    for member, atena in zip(founders, result.atena_numbers, strict=True):
        if member.former_surname:  # recorded at the resident's 請求 once registered
            service.submit(
                ctx,
                FormerSurnameEntry(
                    idempotency_key=f"demo-former-surname-{member.juminhyo_code}",
                    event_date=moved_in_on,
                    notified_on=moved_in_on,
                    atena_number=atena,
                    former_surname=member.former_surname,
                    former_surname_kana=member.former_surname_kana,
                ),
            )
    for child in born_later:
        service.submit(
            ctx,
            Birth(
                idempotency_key=f"demo-birth-{child.juminhyo_code}",
                event_date=child.birth_date,
                notified_on=child.birth_date,
                household_number=result.household_numbers[0],
                child=_new_person(child, child.relationship),
            ),
        )
        count += 1
    return count


def seed_demo(storage: Storage, console: Console, residents: int) -> list[tuple[str, str]]:
    """Load about ``residents`` synthetic residents into the demo tenant; returns notes to show."""
    if residents <= 0:
        return []
    tenant = storage.catalog.get(DEMO_TENANT)
    ctx = TenantContext.of(DEMO_TENANT, system("demo-seed"), CHANGE_RECORD.code)
    service = RegistryService(storage)
    recorded = refused = 0
    for household in generate_population(residents, DEMO_SEED, DEMO_TENANT, tenant.name):
        try:
            recorded += _record_household(service, ctx, household)
        except JichitaiError as exc:
            # a synthetic household the rules refuse is skipped, and said so
            refused += 1
            console.print(
                f"[yellow]demo household {household.household_number} skipped:[/] {exc.message_ja or exc}"
            )
    console.print(f"{recorded} demo residents in the register of {tenant.name}")
    notes = [("住民記録", f"{recorded} synthetic residents in {tenant.name} ({DEMO_TENANT})")]
    if refused:
        notes.append(("住民記録", f"{refused} synthetic households skipped (see the log above)"))
    notes.append(("証明書の確認", "/verify on the My Number zone (QR codes of issued certificates)"))
    notes.append(("住民記録 連携API", _api_client(storage)))
    return notes


def _api_client(storage: Storage) -> str:
    """A client of the linkage API, as another core system of the demo tenant would have one."""
    ctx = TenantContext(TenantCode(DEMO_TENANT), operator("demo"), STAFF_ADMIN)
    scopes = [Permission.REGISTRY_EVENTS_READ.value, Permission.REGISTRY_PERSON_READ.value]
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        new = IdentityService.of(uow).create_client("他業務システム(デモ)", scopes)
    s = storage.settings
    base = f"http://{s.bind_host}:{s.ports['mynumber']}/api/v1"
    return (
        f"client_id {new.client.client_id} / client_secret {new.client_secret}: token at {base}/token, "
        f"events at {base}/tenants/{DEMO_TENANT}/registry/events (OpenAPI {base}/openapi.json)"
    )
