"""Issuing sealed certificates from the register, and verifying presented copies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from jichitai.mynumber.registry.certificates import (
    CertificateKind,
    CertifiedItem,
    Layout,
    OptionalItem,
    RequesterKind,
    issue_certificate,
)
from jichitai.mynumber.registry.certificates.samples import sample_options, sample_person
from jichitai.mynumber.registry.issuance import (
    IssuedDocument,
    IssueRequest,
    check_serial,
    era_year,
    issue,
    verify,
)
from jichitai.mynumber.registry.issuance_models import CertificateIssuance
from jichitai.mynumber.registry.seal import TRUST_ENV, seal_dir, tenant_sealer
from jichitai.mynumber.registry.service import Death, MoveIn, NewPerson, RegistryService
from jichitai.platform.audit.log import entries_for_person
from jichitai.platform.errors import PermissionDenied, ValidationError
from jichitai.platform.pdf.signing import create_test_ca
from jichitai.platform.storage import Storage
from jichitai.platform.zones import Zone
from tests.conftest import ctx
from tests.mynumber.registry.issuance.support import ISSUE_DAY_JA, NOW, register_family

Text = Callable[[bytes], str]
ALL = frozenset(OptionalItem)


def _issue(storage: Storage, request: IssueRequest) -> IssuedDocument:
    return issue(storage, ctx("registry.certificate.issue"), request, clock=lambda: NOW)


def test_per_person_certificate_prints_the_record_in_wareki(
    iss_storage: Storage, svc: RegistryService, text_of: Text
) -> None:
    result, numbers = register_family(svc, "髙橋", "タカハシ")
    head = result.atena_numbers[0]
    doc = issue(
        iss_storage,
        ctx("registry.certificate.issue"),
        IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, (head,), requested_items=ALL),
        clock=lambda: NOW,
    )
    text = text_of(doc.pdf).replace(" ", "")
    assert "住民票の写し" in text
    assert "髙橋" in text and "太郎" in text and "タカハシ" in text
    assert "昭和55年5月1日" in text  # birth date in 和暦
    assert ISSUE_DAY_JA in text  # issue date in 和暦
    assert "千代田区長" in text
    assert numbers[0] in text  # 個人番号 requested by the person
    assert "東京都千代田区千代田1番" in text  # 本籍
    assert doc.serial.startswith("R8-") and doc.serial in text
    assert doc.pages == 1 and doc.subjects == (head,)
    assert doc.printed == ALL and not doc.refused


def test_optional_items_only_when_requested_and_allowed(
    iss_storage: Storage, svc: RegistryService, text_of: Text
) -> None:
    result, numbers = register_family(svc, "佐々木", "ササキ")
    head = result.atena_numbers[0]
    plain = _issue(iss_storage, IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, (head,)))
    text = text_of(plain.pdf)
    assert numbers[0] not in text and "千代田1番" not in text and "省略" in text
    third = _issue(
        iss_storage,
        IssueRequest(
            CertificateKind.JUMINHYO,
            Layout.PERSON,
            (head,),
            requester=RequesterKind.THIRD_PARTY,
            requested_items=frozenset({OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.HONSEKI}),
        ),
    )
    text = text_of(third.pdf)
    assert numbers[0] not in text and "千代田1番" not in text
    assert set(third.refused) == {OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.HONSEKI}
    assert "本人又は同一世帯員の請求に限り" in third.refused[OptionalItem.INDIVIDUAL_NUMBER]
    public = _issue(
        iss_storage,
        IssueRequest(
            CertificateKind.JUMINHYO,
            Layout.PERSON,
            (head,),
            requester=RequesterKind.PUBLIC_BODY,
            requested_items=frozenset({OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.HONSEKI}),
        ),
    )
    text = text_of(public.pdf)
    assert "千代田1番" in text and numbers[0] not in text


def test_household_of_five_takes_two_sheets(
    iss_storage: Storage, svc: RegistryService, text_of: Text, page_count: Callable[[bytes], int]
) -> None:
    result, _ = register_family(svc, "渡邊", "ワタナベ", children=3)
    doc = _issue(
        iss_storage,
        IssueRequest(
            CertificateKind.JUMINHYO,
            Layout.HOUSEHOLD,
            household_number=result.household_numbers[0],
            requested_items=frozenset({OptionalItem.RELATIONSHIP}),
        ),
    )
    assert doc.pages == 2 and page_count(doc.pdf) == 2
    text = text_of(doc.pdf)
    assert "1/2" in text and "2/2" in text
    for given in ("太郎", "花子", "一郎", "二郎", "三郎"):
        assert given in text
    assert "世帯主" in text and "妻" in text
    assert len(doc.subjects) == 5


def test_certificate_of_items_and_removed_record(
    iss_storage: Storage, svc: RegistryService, text_of: Text
) -> None:
    result, _ = register_family(svc, "山﨑", "ヤマザキ", children=0)
    head, wife = result.atena_numbers
    kisai = _issue(
        iss_storage,
        IssueRequest(
            CertificateKind.KISAI_JIKOU,
            Layout.PERSON,
            (wife,),
            certified_items=frozenset({CertifiedItem.NAME, CertifiedItem.ADDRESS}),
        ),
    )
    text = text_of(kisai.pdf).replace(" ", "")
    assert "住民票記載事項証明書" in text and "花子" in text and "昭和57年" not in text
    with pytest.raises(ValidationError) as refused:
        _issue(iss_storage, IssueRequest(CertificateKind.JOHYO, Layout.PERSON, (wife,)))
    assert refused.value.message_ja == "除票ではない住民票です"
    svc.submit(
        ctx("registry.change.record"),
        Death(idempotency_key=f"death-{wife}", event_date=date(2026, 10, 1), notified_on=date(2026, 10, 2),
              atena_number=wife),
    )  # fmt: skip
    johyo = _issue(iss_storage, IssueRequest(CertificateKind.JOHYO, Layout.PERSON, (wife,)))
    text = text_of(johyo.pdf).replace(" ", "")
    assert "住民票の除票の写し" in text and "死亡" in text and "令和8年10月1日" in text
    assert head not in johyo.subjects


def test_serials_are_sequential_and_issuance_is_recorded_and_audited(
    iss_storage: Storage, svc: RegistryService
) -> None:
    result, _ = register_family(svc, "小林", "コバヤシ", children=0)
    head = result.atena_numbers[0]
    request = IssueRequest(
        CertificateKind.JUMINHYO,
        Layout.PERSON,
        (head,),
        requester=RequesterKind.PROXY,
        requested_items=frozenset({OptionalItem.RELATIONSHIP, OptionalItem.RESIDENT_CODE}),
    )
    first = _issue(iss_storage, request)
    second = _issue(iss_storage, request)
    a, b = int(first.serial.split("-")[1]), int(second.serial.split("-")[1])
    assert b == a + 1 and first.serial.startswith(era_year(NOW.date()))
    with iss_storage.unit_of_work(ctx("platform.audit.review"), Zone.MYNUMBER) as uow:
        row = uow.session.scalar(
            select(CertificateIssuance).where(CertificateIssuance.serial == first.serial)
        )
        assert row is not None
        assert row.subjects() == [head] and row.requester_kind == "PROXY"
        assert json.loads(row.items_printed) == ["RELATIONSHIP"]
        assert json.loads(row.items_refused) == ["RESIDENT_CODE"]
        assert row.pdf_sha256 == first.pdf_sha256 and row.issued_by == "clerk1"
        entries = [e for e in entries_for_person(uow.session, head) if e.action == "issue"]
    assert [e.object_id for e in entries] == [first.serial, second.serial]
    detail = entries[0].detail if isinstance(entries[0].detail, dict) else json.loads(entries[0].detail)
    assert detail["items"] == ["世帯主・続柄"] and detail["refused"] == ["住民票コード"]
    assert entries[0].purpose == "registry.certificate.issue"


def test_issue_needs_the_issuance_purpose(iss_storage: Storage, svc: RegistryService) -> None:
    result, _ = register_family(svc, "松本", "マツモト", children=0)
    with pytest.raises(PermissionDenied):
        issue(
            iss_storage,
            ctx("registry.person.read"),
            IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, (result.atena_numbers[0],)),
        )


def test_signed_certificate_verifies_and_one_changed_byte_fails(
    iss_storage: Storage, svc: RegistryService
) -> None:
    result, _ = register_family(svc, "中村", "ナカムラ", children=0)
    doc = _issue(iss_storage, IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, result.atena_numbers[:1]))
    check = verify(iss_storage, "131016", doc.pdf)
    assert check.valid, check.problems
    assert check.serial == doc.serial and check.matches_record
    assert check.signature.trusted and check.signature.covers_whole_document
    assert check.signature.signer_organization == "千代田区"

    pdf = bytearray(doc.pdf)
    middle = len(pdf) // 3  # inside the signed page content
    pdf[middle] ^= 0x01
    altered = verify(iss_storage, "131016", bytes(pdf))
    assert not altered.valid and altered.problems


def test_unknown_serial_fails_although_the_seal_is_genuine(iss_storage: Storage) -> None:
    tenant = iss_storage.catalog.get("131016")
    seal = tenant_sealer(iss_storage, tenant)
    forged = issue_certificate(
        sample_person(),
        sample_options(serial="R8-999999", municipality_name="千代田区", mayor_title="千代田区長"),
        seal.sealer,
    )
    check = verify(iss_storage, "131016", forged.pdf)
    assert check.signature.valid  # our own seal, so the signature itself is fine
    assert not check.valid and check.matches_record is False
    assert "この証明書番号の交付記録がありません" in check.problems


def test_public_serial_check_needs_the_digest_prefix(iss_storage: Storage, svc: RegistryService) -> None:
    result, _ = register_family(svc, "井上", "イノウエ", children=0)
    doc = _issue(iss_storage, IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, result.atena_numbers[:1]))
    good = check_serial(iss_storage, "131016", doc.serial, doc.content_digest[:16])
    assert good.found and good.kind_label == "住民票の写し" and good.issue_date == ISSUE_DAY_JA
    wrong = check_serial(iss_storage, "131016", doc.serial, "0" * 16)
    assert not wrong.found and wrong.kind_label == ""
    assert not check_serial(iss_storage, "131016", doc.serial, doc.content_digest[:8]).found


def test_seal_must_chain_to_the_configured_trust_root(
    iss_storage: Storage, svc: RegistryService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, _ = register_family(svc, "岡田", "オカダ", children=0)
    doc = _issue(iss_storage, IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, result.atena_numbers[:1]))
    other = tmp_path / "other-root.pem"
    other.write_bytes(create_test_ca("another root").certificate.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setenv(TRUST_ENV, str(other))
    check = verify(iss_storage, "131016", doc.pdf)
    assert not check.valid and not check.signature.trusted
    assert "署名者の証明書が信頼できる認証局から発行されていません" in check.problems
    monkeypatch.setenv(TRUST_ENV, str(seal_dir(iss_storage.settings) / "ca-cert.pem"))
    assert verify(iss_storage, "131016", doc.pdf).valid


def test_a_foreign_resident_s_alias_is_printed_with_the_name(
    iss_storage: Storage, svc: RegistryService, text_of: Text
) -> None:
    result = svc.submit(
        ctx("registry.change.record"),
        MoveIn(
            idempotency_key="alias-on-certificate",
            event_date=date(2024, 4, 1),
            notified_on=date(2024, 4, 1),
            persons=(
                NewPerson(
                    name="WANG　FANG",
                    name_kana="ワン　ファン",
                    birth_date=date(1990, 2, 2),
                    sex="2",
                    relationship="世帯主",
                    kind="外国人",
                    nationality="中国",
                    residence_status="永住者",
                    alias="王　芳子",
                    alias_kana="オウ　ヨシコ",
                ),
            ),
            address="東京都千代田区一番町77番地",
            previous_address="中国",
            from_abroad=True,
        ),
    )
    doc = _issue(iss_storage, IssueRequest(CertificateKind.JUMINHYO, Layout.PERSON, result.atena_numbers))
    compact = "".join(text_of(doc.pdf).split())
    assert "通称" in compact and "王" in compact and "芳子" in compact and "オウ" in compact
