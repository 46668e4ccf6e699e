"""The resident registry's use cases (住民記録): changes, inquiry, history, events.

:class:`RegistryService` is what screens, import/export, certificate issuance and other core
systems call. Every call takes the tenant context (tenant, actor, purpose); each opens one unit of
work in the My Number zone, checks the purpose, and records its audit entries in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from jichitai.mynumber.atena import purposes as _atena_purposes  # noqa: F401  (registers the purposes)
from jichitai.mynumber.registry import purposes, stay_review
from jichitai.mynumber.registry.errors import IdempotencyConflict, RegistryRefusal
from jichitai.mynumber.registry.events import Event, read_events
from jichitai.mynumber.registry.models import Change
from jichitai.mynumber.registry.search import SearchPage, SearchQuery, search
from jichitai.mynumber.registry.service import queries
from jichitai.mynumber.registry.service.changes import HANDLERS
from jichitai.mynumber.registry.service.queries import HouseholdRecord, PersonRecord, VersionRecord
from jichitai.mynumber.registry.service.requests import (
    AliasEntry,
    AliasRemoval,
    Birth,
    CancelMoveOut,
    ChangeHead,
    ChangeRequest,
    ChangeResult,
    ConfirmMoveOut,
    Correction,
    Death,
    DomicileTransfer,
    ExOfficioEntry,
    ExOfficioRemoval,
    FormerSurnameEntry,
    FormerSurnameRemoval,
    MergeHouseholds,
    MoveIn,
    MoveOut,
    MoveWithin,
    NameChange,
    NationalityAcquisition,
    NationalityLoss,
    Naturalization,
    NewPerson,
    ResidenceStatusChange,
    SplitHousehold,
    StayExtension,
)
from jichitai.mynumber.registry.service.state import ChangeTx
from jichitai.platform.context import TenantContext
from jichitai.platform.errors import Conflict
from jichitai.platform.storage import Storage, UnitOfWork
from jichitai.platform.zones import Zone

__all__ = [
    "AliasEntry",
    "AliasRemoval",
    "Birth",
    "CancelMoveOut",
    "ChangeHead",
    "ChangeRequest",
    "ChangeResult",
    "ConfirmMoveOut",
    "Correction",
    "Death",
    "DomicileTransfer",
    "Event",
    "ExOfficioEntry",
    "ExOfficioRemoval",
    "FormerSurnameEntry",
    "FormerSurnameRemoval",
    "HouseholdRecord",
    "MergeHouseholds",
    "MoveIn",
    "MoveOut",
    "MoveWithin",
    "NameChange",
    "NationalityAcquisition",
    "NationalityLoss",
    "Naturalization",
    "NewPerson",
    "PersonRecord",
    "RegistryService",
    "ResidenceStatusChange",
    "SearchPage",
    "SearchQuery",
    "SplitHousehold",
    "StayExtension",
    "VersionRecord",
]

JST = ZoneInfo("Asia/Tokyo")


def _system_clock() -> datetime:
    return datetime.now(UTC)


class RegistryService:
    """Use cases of the resident registry for one installation's storage."""

    def __init__(self, storage: Storage, *, clock: Callable[[], datetime] = _system_clock) -> None:
        self.storage = storage
        self.clock = clock

    def today(self) -> date:
        """Today in Japan: event dates are calendar days of the municipality."""
        return self.clock().astimezone(JST).date()

    def _uow(self, ctx: TenantContext, action: str) -> _UowContext:
        purposes.require(ctx, action)
        return _UowContext(self.storage, ctx)

    # -- changes ---------------------------------------------------------------------------------
    def submit(self, ctx: TenantContext, request: ChangeRequest) -> ChangeResult:
        """Record one change (異動) as one transaction; idempotent on ``request.idempotency_key``.

        Raises :class:`RegistryRefusal` (with ``message_ja``/``reasons``) when the rules refuse it,
        :class:`IdempotencyConflict` when the key was used for a different change.
        """
        handler = HANDLERS.get(type(request))
        if handler is None:
            raise TypeError(f"not a registry change: {type(request).__name__}")
        key = request.idempotency_key
        if not key or len(key) > 100:
            raise RegistryRefusal(["受付キー（冪等キー）は1〜100文字で指定してください"])
        try:
            with self._uow(ctx, "change") as uow:
                replay = self._replay(uow, request)
                if replay is not None:
                    return replay
                now = self.clock()
                tx = ChangeTx(uow, request, today=now.astimezone(JST).date(), now=now, actor=str(ctx.actor))
                handler(tx, request)
                result = tx.finish()
                uow.session.add(
                    Change(
                        id=tx.change_id,
                        idempotency_key=key,
                        change_type=request.change_type,
                        request_digest=request.digest(),
                        event_date=request.event_date,
                        notified_on=request.notified_on,
                        recorded_at=now,
                        actor=str(ctx.actor)[:100],
                        result_json=result.to_json(),
                    )
                )
                for atena_number in result.atena_numbers:
                    uow.record(
                        "change",
                        "registry.person",
                        atena_number,
                        person=atena_number,
                        change=request.change_type,
                        change_id=tx.change_id,
                        event_date=request.event_date,
                    )
                uow.session.flush()
                return result
        except IntegrityError:
            # a concurrent submission with the same key (or the same new numbers) won the race
            with self._uow(ctx, "change") as uow:
                replay = self._replay(uow, request)
            if replay is not None:
                return replay
            raise Conflict(
                "the change collided with a concurrent one",
                hint="submit it again",
                message_ja="同時に登録された異動と競合しました。もう一度登録してください",
            ) from None

    @staticmethod
    def _replay(uow: UnitOfWork, request: ChangeRequest) -> ChangeResult | None:
        existing = uow.session.scalar(select(Change).where(Change.idempotency_key == request.idempotency_key))
        if existing is None:
            return None
        if existing.request_digest != request.digest():
            raise IdempotencyConflict(
                [
                    f"受付キー {request.idempotency_key} は"
                    f"別の内容の異動（{existing.change_type}）で既に使用されています"
                ],
                message="idempotency key reused for a different change",
            )
        uow.record("replay", "registry.change", existing.id, idempotency_key=request.idempotency_key)
        return replace(ChangeResult.from_json(existing.result_json), replayed=True)

    # -- inquiry ---------------------------------------------------------------------------------
    def search(self, ctx: TenantContext, query: SearchQuery) -> SearchPage:
        with self._uow(ctx, "read") as uow:
            return search(uow, query, today=self.today())

    def person(
        self, ctx: TenantContext, atena_number: str, *, with_individual_number: bool = False
    ) -> PersonRecord:
        """The current record (住民票 or 除票); 個人番号 decrypted only when asked (and audited so)."""
        with self._uow(ctx, "read") as uow:
            return queries.current_person(uow, atena_number, with_individual_number=with_individual_number)

    def household(
        self, ctx: TenantContext, household_number: str, *, include_removed: bool = False
    ) -> HouseholdRecord:
        with self._uow(ctx, "read") as uow:
            return queries.current_household(uow, household_number, include_removed=include_removed)

    def stay_ending(
        self, ctx: TenantContext, until: date, *, page: int = 1, page_size: int = 50
    ) -> stay_review.StayPage:
        """Foreign residents living here whose 在留期間 ends on or before ``until`` (earliest first)."""
        with self._uow(ctx, "read") as uow:
            return stay_review.stay_ending(uow, until=until, page=page, page_size=page_size)

    # -- history ---------------------------------------------------------------------------------
    def person_as_of(
        self, ctx: TenantContext, atena_number: str, on: date, *, known_at: datetime | None = None
    ) -> PersonRecord | None:
        with self._uow(ctx, "read") as uow:
            return queries.person_as_of(uow, atena_number, on, known_at=known_at)

    def household_as_of(
        self, ctx: TenantContext, household_number: str, on: date, *, known_at: datetime | None = None
    ) -> HouseholdRecord:
        """Who lived in the household on ``on`` (as recorded now, or as recorded at ``known_at``)."""
        with self._uow(ctx, "read") as uow:
            return queries.household_as_of(uow, household_number, on, known_at=known_at)

    def person_history(
        self, ctx: TenantContext, atena_number: str, *, include_superseded: bool = False
    ) -> list[VersionRecord]:
        with self._uow(ctx, "read") as uow:
            return queries.person_history(uow, atena_number, include_superseded=include_superseded)

    # -- events ----------------------------------------------------------------------------------
    def events_since(self, ctx: TenantContext, seq: int, limit: int = 100) -> list[Event]:
        """Events after ``seq`` in order (at most ``limit``, capped at 1000); poll with the last seq seen."""
        with self._uow(ctx, "events") as uow:
            events = read_events(uow.session, seq, limit)
            if events:
                uow.record(
                    "read",
                    "registry.events",
                    f"{events[0].seq}-{events[-1].seq}",
                    count=len(events),
                    persons=sorted({e.atena_number for e in events}),
                )
            return events


class _UowContext:
    """``with`` wrapper opening the My Number zone's unit of work (typed for mypy)."""

    def __init__(self, storage: Storage, ctx: TenantContext) -> None:
        self._cm = storage.unit_of_work(ctx, Zone.MYNUMBER)

    def __enter__(self) -> UnitOfWork:
        return self._cm.__enter__()

    def __exit__(self, *exc: object) -> bool | None:
        return self._cm.__exit__(*exc)  # type: ignore[arg-type]
