"""Every one of the 31 procedures end to end on loopback, across the four zones.

For each: the resident signs the sample application with the card and submits it to the portal
(千代田区 for 1–27, 東京都 for the prefectural 28–31); application management pulls it, decrypts and
verifies it again, and identifies the resident by the card's serial through the link table that
the registry sent over the linkage server; the application clerk accepts it and hands it over;
the linkage server delivers it into the core system's inbox named by the catalog (児童手当 for 1–7
and 10, the generic case inbox for the rest) exactly once; the core system records a result, which
flows back as a signed status event that the portal shows the resident.

One installation serves the whole module (adding a tenant and the PKI take seconds).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jichitai.contracts.submission import STATUS_LABELS, SubmissionStatus
from jichitai.procedures import HandledBy, OfferedBy, default_catalog
from tests.e2e.harness import CHIYODA, TOKYO, Chain, InboxEntry, chain_at

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("e2e_all_procedures")]

CATALOG = default_catalog()
PROCEDURES = sorted(CATALOG.latest(), key=lambda d: d.number)
CHILD_ALLOWANCE_NUMBERS = {1, 2, 3, 4, 5, 6, 7, 10}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    home: Path = tmp_path_factory.mktemp("e2e-all") / "home"
    yield from chain_at(home, tenants=(CHIYODA, TOKYO))


@pytest.fixture(scope="module")
def portal_sessions(chain: Chain) -> Iterator[dict[str, httpx.Client]]:
    sessions = {code: chain.portal_session(code) for code in (CHIYODA, TOKYO)}
    yield sessions
    for session in sessions.values():
        session.close()


def test_the_catalog_routes_as_the_issue_says() -> None:
    assert len(PROCEDURES) == 31
    routed = {d.number for d in PROCEDURES if d.handled_by is HandledBy.CHILD_ALLOWANCE}
    assert routed == CHILD_ALLOWANCE_NUMBERS
    assert {d.number for d in PROCEDURES if d.offered_by is OfferedBy.PREFECTURE} == {28, 29, 30, 31}


def _everywhere(chain: Chain, tenant: str, receipt: str) -> list[InboxEntry]:
    return [
        e
        for system in (HandledBy.CHILD_ALLOWANCE.value, HandledBy.GENERIC.value)
        for e in chain.inbox_of(system, tenant)
        if e.receipt_number == receipt
    ]


@pytest.mark.parametrize(
    "number", [d.number for d in PROCEDURES], ids=[f"{d.number:02d}-{d.id}" for d in PROCEDURES]
)
def test_one_application_through_every_zone(
    chain: Chain, portal_sessions: dict[str, httpx.Client], number: int
) -> None:
    definition = CATALOG.by_number(number)
    tenant = TOKYO if definition.offered_by is OfferedBy.PREFECTURE else CHIYODA
    expected_system = (
        HandledBy.CHILD_ALLOWANCE.value if number in CHILD_ALLOWANCE_NUMBERS else HandledBy.GENERIC.value
    )

    receipt = chain.submit(definition.id, tenant=tenant)
    assert re.fullmatch(rf"\d{{8}}-{tenant}-[0-9A-Z]{{8}}", receipt)
    assert chain.portal_status(receipt, tenant)[0] is SubmissionStatus.RECEIVED

    report = chain.pull(tenant)
    assert report.stored >= 1
    state = chain.lgwan(receipt, tenant)
    assert (state.status, state.verification) == ("delivered", "verified")
    if tenant == CHIYODA:  # the registry's link table named the card's serial
        assert (state.match, state.atena_number) == ("serial", chain.inst.atena_number)
    else:  # a prefecture keeps no resident registry: staff see "no match" and may still accept
        assert state.match == "no_match"
    assert chain.portal_status(receipt, tenant)[0] is SubmissionStatus.DELIVERED

    chain.accept_and_hand_over([receipt], tenant)
    assert chain.lgwan(receipt, tenant).status == "handed_over"
    assert chain.run_linkage_once() >= 1
    arrived = _everywhere(chain, tenant, receipt)
    assert [(e.system, e.procedure_id, e.status) for e in arrived] == [
        (expected_system, definition.id, "open")
    ]
    if tenant == CHIYODA:
        assert arrived[0].applicant_atena_number == chain.inst.atena_number
    # another pass moves nothing and duplicates nothing
    chain.run_linkage_once()
    assert len(_everywhere(chain, tenant, receipt)) == 1

    outcome = chain.post_case_result(arrived[0], tenant)
    expected_status = SubmissionStatus.DECIDED if outcome == "certified" else SubmissionStatus.COMPLETED
    assert outcome == ("certified" if definition.id == "child_allowance_claim" else "completed")
    assert chain.run_linkage_once() >= 1  # the CASE_RESULT to application management
    assert chain.lgwan(receipt, tenant).status == expected_status.value
    chain.push_statuses(tenant)

    status, messages = chain.portal_status(receipt, tenant)
    assert status is expected_status
    if outcome == "certified":
        assert messages[-1].startswith("認定しました。支給開始月:")
    else:
        assert messages[-1] in {"手続が完了しました。", "届出の内容を確認し、処理を完了しました。"}
    page = portal_sessions[tenant].get(f"/m/{tenant}/applications/{receipt}")
    assert page.status_code == 200, page.text
    assert f"<dd>{STATUS_LABELS[expected_status]}</dd>" in page.text
    assert messages[-1] in page.text
