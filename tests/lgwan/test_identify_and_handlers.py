"""Link table intake, identification by serial or candidates, and case results from the core system."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from jichitai.contracts.submission import SubmissionStatus
from jichitai.contracts.transfer import CaseResult, LinkTable, LinkTableRow, MessageType, TransferEnvelope
from jichitai.lgwan import service
from jichitai.lgwan.handlers import HANDLERS
from jichitai.lgwan.models import LgwanApplication, PortalEvent
from jichitai.lgwan.pull import pull_once
from jichitai.platform.context import system
from jichitai.platform.identity.roles import Role
from jichitai.platform.messaging import new_envelope
from jichitai.platform.messaging.inbox import ReceiveOutcome, deliver
from jichitai.platform.messaging.purposes import MESSAGING_TRANSFER
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.internet.api_support import CHIYODA
from tests.internet.conftest import RESIDENT, Pki
from tests.lgwan.conftest import Portal, staff_principal
from tests.lgwan.test_pull import lgwan_apps

ATENA = "000000012345"
OTHER = "000000067890"


def link_row(
    serial: str, atena: str, name: str = "山田 花子", birth: date = date(1990, 1, 2)
) -> LinkTableRow:
    return LinkTableRow(
        serial=serial,
        certificate_use="signing",
        integrated_atena_number=atena,
        name=name,
        name_kana="ヤマダ ハナコ",
        birth_date=birth,
        address=RESIDENT.facts.address,
        valid_from=date(2020, 1, 1),
    )


def deliver_to_lgwan(
    storage: Storage, message_type: MessageType, payload: BaseModel, envelope: TransferEnvelope | None = None
) -> tuple[ReceiveOutcome, TransferEnvelope]:
    from jichitai.platform.context import TenantContext

    envelope = envelope or new_envelope(
        message_type, source=Zone.MYNUMBER, destination=Zone.LGWAN, tenant=CHIYODA, payload=payload
    )
    ctx = TenantContext.of(CHIYODA, system("linkage-server", "linkage"), MESSAGING_TRANSFER.code)
    return deliver(storage, ctx, Zone.LGWAN, envelope, HANDLERS[message_type]), envelope


def load_table(storage: Storage, rows: list[LinkTableRow], *, full: bool = True) -> None:
    table = LinkTable(tenant=CHIYODA, generated_at=datetime.now(UTC), full=full, rows=rows)
    outcome, _ = deliver_to_lgwan(storage, MessageType.LINK_TABLE, table)
    assert outcome is ReceiveOutcome.RECEIVED


def test_identified_by_serial_through_the_link_table(portal: Portal, pki: Pki) -> None:
    load_table(
        portal.storage,
        [link_row(f"{pki.sign_cert.serial_number:X}", ATENA), link_row("ABCDEF", OTHER, "佐藤 一郎")],
    )
    portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    [app] = lgwan_apps(portal.storage)
    assert (app.match, app.atena_number) == ("serial", ATENA)


def test_no_match_offers_candidates_by_name_and_birth_date_then_staff_choose(
    portal: Portal, pki: Pki
) -> None:
    # the card was renewed: the link table knows the person under an old serial only
    load_table(
        portal.storage,
        [
            link_row("0123ABCD", ATENA, "山田　花子"),
            link_row("0456ABCD", OTHER, "山田 花子", date(1985, 5, 5)),
        ],
    )
    portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    [app] = lgwan_apps(portal.storage)
    assert (app.match, app.atena_number) == ("no_match", None)
    clerk = staff_principal("sato", Role.APPLICATION_CLERK)
    view = service.get_application(portal.storage, clerk, app.id)
    assert [c["atena_number"] for c in view.candidates] == [ATENA]  # same name (any spacing) and birth date
    assert view.signer is not None and view.signer["name"] == RESIDENT.facts.name
    with pytest.raises(Exception, match="候補"):
        service.choose_resident(portal.storage, clerk, app.id, OTHER).single()
    service.choose_resident(portal.storage, clerk, app.id, ATENA).single()
    [chosen] = lgwan_apps(portal.storage)
    assert (chosen.match, chosen.atena_number) == ("chosen", ATENA)


def test_a_delta_link_table_identifies_waiting_applications(portal: Portal, pki: Pki) -> None:
    load_table(portal.storage, [link_row("0123ABCD", ATENA)])
    portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    assert lgwan_apps(portal.storage)[0].match == "no_match"
    load_table(portal.storage, [link_row(f"{pki.sign_cert.serial_number:X}", ATENA)], full=False)
    [app] = lgwan_apps(portal.storage)
    assert (app.match, app.atena_number) == ("serial", ATENA)


def test_a_case_result_becomes_a_signed_status_on_the_portal(portal: Portal, pki: Pki) -> None:
    from jichitai.internet.purposes import SUBMISSION_PULL
    from jichitai.internet.submissions import receiving
    from jichitai.platform.context import TenantContext

    receipt = portal.submit(pki)
    pull_once(portal.storage, CHIYODA, http=portal.http)
    [app] = lgwan_apps(portal.storage)
    clerk = staff_principal("sato", Role.APPLICATION_CLERK)
    service.accept(portal.storage, clerk, [app.id]).single()
    service.hand_over(portal.storage, clerk, [app.id]).single()
    result = CaseResult(
        receipt_number=receipt,
        tenant=CHIYODA,
        business="child_allowance",
        outcome="certified",
        status="decided",
        message_ja="児童手当の受給資格を認定しました。支給は令和8年12月からです。",
        decided_at=datetime.now(UTC),
    )
    outcome, envelope = deliver_to_lgwan(portal.storage, MessageType.CASE_RESULT, result)
    assert outcome is ReceiveOutcome.RECEIVED
    again, _ = deliver_to_lgwan(portal.storage, MessageType.CASE_RESULT, result, envelope)  # re-delivered
    assert again is ReceiveOutcome.DUPLICATE
    assert lgwan_apps(portal.storage)[0].status == "decided"
    # the LGWAN side pushes on its next run; the portal checks the tenant's signature and shows it
    report = pull_once(portal.storage, CHIYODA, http=portal.http)
    assert report.events is not None and report.events.pushed == 3  # accepted, handed over, decided
    ctx = TenantContext.of(CHIYODA, system("test"), SUBMISSION_PULL.code)
    events = receiving.list_events(portal.storage, ctx, receipt)
    assert events[-1].status is SubmissionStatus.DECIDED and "認定" in events[-1].message_ja
    info, _ = receiving.get_application(portal.storage, ctx, receipt)
    assert info.envelope.status is SubmissionStatus.DECIDED


def test_a_case_result_for_an_unknown_application_is_refused(portal: Portal) -> None:
    result = CaseResult(
        receipt_number="20260401-131016-NOSUCH00",
        tenant=CHIYODA,
        business="child_allowance",
        outcome="certified",
        status="decided",
        message_ja="認定しました",
        decided_at=datetime.now(UTC),
    )
    with pytest.raises(Exception, match="unknown application"):
        deliver_to_lgwan(portal.storage, MessageType.CASE_RESULT, result)
    from jichitai.platform.context import TenantContext

    with portal.storage.unit_of_work(
        TenantContext.of(CHIYODA, system("t"), MESSAGING_TRANSFER.code), Zone.LGWAN
    ) as uow:
        assert uow.session.scalars(select(PortalEvent)).all() == []
        assert uow.session.scalars(select(LgwanApplication)).all() == []


def test_a_batch_checked_in_worker_processes_is_identified_by_serial(portal: Portal, pki: Pki) -> None:
    from jichitai.lgwan.pull import shutdown_worker_pools

    load_table(portal.storage, [link_row(f"{pki.sign_cert.serial_number:X}", ATENA)])
    receipts = [portal.submit(pki) for _ in range(3)]
    try:
        report = pull_once(
            portal.storage, CHIYODA, http=portal.http, batch_size=3, processes=2, min_for_processes=1
        )
    finally:
        shutdown_worker_pools()
    assert report.seconds.get("precheck", 0) > 0  # the serials came from the workers' checks
    apps = {a.receipt_number: a for a in lgwan_apps(portal.storage)}
    assert sorted(apps) == sorted(receipts)
    assert all((a.match, a.atena_number) == ("serial", ATENA) for a in apps.values())
