from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import replace

import pytest

from jichitai.mynumber.registry.certificates import (
    CertificateKind,
    CertifiedItem,
    Layout,
    OptionalItem,
    RequesterKind,
    issue_certificate,
    render_certificate,
    verify_certificate,
)
from jichitai.mynumber.registry.certificates.model import HouseholdFacts
from jichitai.mynumber.registry.certificates.samples import (
    sample_foreign_person,
    sample_household,
    sample_options,
    sample_person,
    sample_removed_person,
)
from jichitai.platform.errors import ValidationError
from jichitai.platform.pdf import signing
from jichitai.platform.pdf.metadata import read_marks_from_bytes

Text = Callable[[bytes], str]
ALL = frozenset(OptionalItem)


def test_per_person_with_all_items_requested_by_self(text_of: Text) -> None:
    issued = render_certificate(sample_person(), sample_options(requested_items=ALL))
    text = text_of(issued.pdf)
    assert "住民票の写し" in text.replace(" ", "")
    assert "髙橋" in text
    assert "一郎" in text
    assert "タカハシ" in text
    assert "昭和55年5月17日" in text  # birth date in 和暦
    assert "令和8年11月26日" in text  # issue date
    assert "この写しは、住民票の原本と相違ないことを証明する。" in text
    assert "横浜市長" in text
    assert "山田" in text
    assert "123456789018" in text  # 個人番号
    assert "12345678901" in text  # 住民票コード
    assert "神奈川県横浜市中区日本大通1番地" in text  # 本籍
    assert "141003-2026-000001" in text
    assert "1/1" in text
    assert issued.pages == 1


def test_optional_items_are_omitted_unless_requested(text_of: Text) -> None:
    text = text_of(render_certificate(sample_person(), sample_options()).pdf)
    assert "123456789018" not in text
    assert "12345678901" not in text
    assert "日本大通" not in text
    assert "省略" in text
    assert "神奈川県横浜市中区港町" in text  # the address is always there


def test_requested_but_not_allowed_items_are_omitted(text_of: Text) -> None:
    issued = render_certificate(
        sample_person(), sample_options(requester=RequesterKind.THIRD_PARTY, requested_items=ALL)
    )
    text = text_of(issued.pdf)
    assert "123456789018" not in text
    assert "日本大通" not in text
    assert set(issued.decision.refused) == set(ALL)


def test_household_of_five_takes_two_numbered_sheets(
    text_of: Text, page_count: Callable[[bytes], int]
) -> None:
    issued = render_certificate(
        sample_household(5),
        sample_options(layout=Layout.HOUSEHOLD, requested_items=frozenset({OptionalItem.RELATIONSHIP})),
    )
    assert issued.pages == 2
    assert page_count(issued.pdf) == 2
    text = text_of(issued.pdf)
    assert "1/2" in text
    assert "2/2" in text
    # in the order drawn: the layout order interleaves a name with the items beside it
    raw = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=issued.pdf, capture_output=True, check=True
    ).stdout.decode()
    compact = "".join(raw.split())
    for name in ("髙橋一郎", "髙橋花子", "髙橋次郎", "髙橋三郎", "髙橋四郎"):
        assert name in compact
    assert "妻" in text
    assert "世帯主" in text
    assert text.count("この写しは、住民票の原本と相違ないことを証明する。") == 1  # on the last sheet


def test_household_of_four_fits_one_sheet() -> None:
    issued = render_certificate(sample_household(4), sample_options(layout=Layout.HOUSEHOLD))
    assert issued.pages == 1


_WORD = re.compile(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>')


def _pages_of_words(pdf: bytes) -> list[list[tuple[float, float, str]]]:
    """Each page's words with their top and bottom (pdftotext measures down from the page top)."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return [
        [(float(top), float(bottom), word) for top, bottom, word in _WORD.findall(page)]
        for page in html.split("<page ")[1:]
    ]


def _foreign_household() -> HouseholdFacts:
    f = sample_foreign_person()
    members = tuple(replace(f, relationship=r) for r in ("世帯主", "妻", "子", "子"))
    return HouseholdFacts(head_name=f.name, address=f.address, members=members)


@pytest.mark.parametrize(
    ("household", "items", "pages"),
    [
        (sample_household(4), frozenset(), 1),
        (sample_household(4), ALL, 1),  # the household asking for its own copy with every item
        (_foreign_household(), ALL, 2),  # five items more each, and a 通称: three, then one
        (sample_household(9), ALL, 3),
    ],
)
def test_a_household_sheet_never_runs_into_the_certification_or_the_footer(
    household: HouseholdFacts, items: frozenset[OptionalItem], pages: int
) -> None:
    issued = render_certificate(household, sample_options(layout=Layout.HOUSEHOLD, requested_items=items))
    assert issued.pages == pages
    sheets = _pages_of_words(issued.pdf)
    assert len(sheets) == pages
    for number, words in enumerate(sheets, start=1):
        # 記載事由 is each person's last line; the certification follows the last one on the last sheet
        table_bottom = max(bottom for top, bottom, word in words if word == "記載事由")
        footer_top = min(top for top, bottom, word in words if word.startswith("この証明書には電子署名"))
        assert table_bottom < footer_top
        certification = [top for top, bottom, word in words if word.startswith("この写しは")]
        if number == pages:
            assert certification and table_bottom < certification[0] and certification[0] < footer_top
        else:
            assert not certification


def test_removed_record_certificate(text_of: Text) -> None:
    issued = render_certificate(sample_removed_person(), sample_options(kind=CertificateKind.JOHYO))
    text = text_of(issued.pdf)
    assert "山﨑" in text
    assert "𠮷男" in text
    assert "住民票の除票の原本と相違ない" in text
    assert "令和7年3月20日" in text
    assert "転出" in text
    assert "西新宿" in text


def test_removed_record_rules() -> None:
    with pytest.raises(ValidationError):
        render_certificate(
            sample_removed_person(), sample_options(kind=CertificateKind.JOHYO, layout=Layout.HOUSEHOLD)
        )
    with pytest.raises(ValidationError):
        render_certificate(sample_person(), sample_options(kind=CertificateKind.JOHYO))
    with pytest.raises(ValidationError):
        render_certificate(sample_removed_person(), sample_options())


def test_statement_certifies_only_the_items_asked_for(text_of: Text) -> None:
    issued = render_certificate(
        sample_person(),
        sample_options(
            kind=CertificateKind.KISAI_JIKOU,
            certified_items=frozenset({CertifiedItem.NAME, CertifiedItem.ADDRESS}),
        ),
    )
    text = text_of(issued.pdf)
    assert "住民票記載事項証明書" in text.replace(" ", "")
    assert "髙橋" in text
    assert "港町" in text
    assert "昭和55年5月17日" not in text  # birth date not asked for
    assert "個人番号" not in text
    assert "本籍" not in text
    with pytest.raises(ValidationError):
        render_certificate(sample_person(), sample_options(kind=CertificateKind.KISAI_JIKOU))


def test_a_household_statement_certifies_each_member_s_name(text_of: Text) -> None:
    """Found by the state machine: 住所 alone, household-listed, left each member's part empty (and
    the pagination failed on it); the address heads the sheet, the names tell the members apart."""
    address_only = sample_options(
        kind=CertificateKind.KISAI_JIKOU,
        layout=Layout.HOUSEHOLD,
        certified_items=frozenset({CertifiedItem.ADDRESS}),
    )
    with pytest.raises(ValidationError) as exc:
        render_certificate(sample_household(2), address_only)
    assert exc.value.message_ja == "世帯連記式の住民票記載事項証明書は、証明する事項に氏名を含めてください"
    with_names = replace(address_only, certified_items=frozenset({CertifiedItem.ADDRESS, CertifiedItem.NAME}))
    text = text_of(render_certificate(sample_household(2), with_names).pdf)
    assert "港町" in text and text.count("髙橋") >= 2


def test_foreign_resident_items(text_of: Text) -> None:
    requested = frozenset({OptionalItem.FOREIGN_STATUS})
    own = text_of(render_certificate(sample_foreign_person(), sample_options(requested_items=requested)).pdf)
    assert "アメリカ合衆国" in own
    assert "技術・人文知識・国際業務" in own
    assert "令和9年3月31日" in own
    assert "本籍" not in own
    # the 通称 is a 記載事項 of its own, printed with the name whoever asks
    compact = "".join(own.split())
    assert "通称" in own and "山田" in compact and "ヤマダ" in compact
    third = text_of(
        render_certificate(
            sample_foreign_person(),
            sample_options(requested_items=requested, requester=RequesterKind.THIRD_PARTY),
        ).pdf
    )
    assert "アメリカ合衆国" not in third


def test_a_former_surname_is_printed_with_the_name(text_of: Text) -> None:
    """旧氏 (施行令第30条の13) is a 記載事項 printed with the 氏名, on either layout."""
    person = sample_person(former_surname="渡邊", former_surname_kana="ワタナベ")
    own = "".join(text_of(render_certificate(person, sample_options()).pdf).split())
    assert "旧氏" in own and "渡邊" in own and "ワタナベ" in own
    members = tuple(replace(person, relationship=r) for r in ("世帯主", "妻"))
    household = HouseholdFacts(head_name=person.name, address=person.address, members=members)
    sheet = text_of(render_certificate(household, sample_options(layout=Layout.HOUSEHOLD)).pdf)
    assert "".join(sheet.split()).count("渡邊") == 2
    assert "旧氏" not in "".join(text_of(render_certificate(sample_person(), sample_options()).pdf).split())


def test_qr_payload_is_embedded(text_of: Text) -> None:
    issued = render_certificate(sample_person(), sample_options())
    marks = read_marks_from_bytes(issued.pdf)
    assert marks is not None
    assert marks.serial == "141003-2026-000001"
    assert marks.payload == issued.payload
    assert issued.payload.startswith("https://verify.example.lg.jp/c?s=141003-2026-000001&h=")
    assert issued.payload.endswith(issued.content_digest[:16])


def test_content_digest_depends_on_what_is_printed() -> None:
    a = render_certificate(sample_person(), sample_options())
    b = render_certificate(sample_person(), sample_options(requested_items=ALL))
    c = render_certificate(sample_person(), sample_options())
    assert a.content_digest == c.content_digest
    assert a.content_digest != b.content_digest


def test_signed_certificate_verifies_against_the_record(
    seal: tuple[signing.KeyRawSigner, signing.CertificateAuthority],
) -> None:
    signer, ca = seal
    issued = issue_certificate(sample_person(), sample_options(), signer)
    records = {issued.serial: issued.content_digest}
    check = verify_certificate(issued.pdf, [ca.certificate], lookup_digest=records.get)
    assert check.valid, check.problems
    assert check.serial == issued.serial
    assert check.matches_record is True
    assert check.signature.signer_organization == "横浜市"

    wrong = verify_certificate(issued.pdf, [ca.certificate], lookup_digest=lambda s: "0" * 64)
    assert not wrong.valid
    assert wrong.matches_record is False
    unknown = verify_certificate(issued.pdf, [ca.certificate], lookup_digest=lambda s: None)
    assert not unknown.valid
    assert "交付記録がありません" in unknown.problems[0]


def test_altered_signed_certificate_fails(
    seal: tuple[signing.KeyRawSigner, signing.CertificateAuthority],
) -> None:
    signer, ca = seal
    issued = issue_certificate(sample_person(), sample_options(), signer)
    tampered = bytearray(issued.pdf)
    tampered[len(tampered) // 2] ^= 0x20
    assert not verify_certificate(bytes(tampered), [ca.certificate]).valid


def test_certificate_with_an_altered_verification_address_fails_cleanly(
    seal: tuple[signing.KeyRawSigner, signing.CertificateAuthority],
) -> None:
    """One byte of the embedded verification address turned into "[" (found by flipping every byte
    of a certificate): the check says why it fails instead of raising urlsplit's ValueError."""
    signer, ca = seal
    issued = issue_certificate(sample_person(), sample_options(), signer)
    # the Info dictionary of the signing revision (the last one) writes "://" as octal escapes
    at = issued.pdf.rindex(rb"https\072\057\057") + len(rb"https\072\057\057")
    tampered = issued.pdf[:at] + b"[" + issued.pdf[at + 1 :]
    marks = read_marks_from_bytes(tampered)
    assert marks is not None and marks.payload.startswith("https://[")
    check = verify_certificate(
        tampered, [ca.certificate], lookup_digest={issued.serial: issued.content_digest}.get
    )
    assert not check.valid
    assert check.matches_record is False
    assert "署名後に文書が改ざんされています(署名値が一致しません)" in check.problems


def test_certificate_sealed_by_an_untrusted_key_fails(
    seal: tuple[signing.KeyRawSigner, signing.CertificateAuthority],
) -> None:
    _, ca = seal
    forger, _ = signing.new_test_sealer("横浜市")  # same name, another CA
    issued = issue_certificate(sample_person(), sample_options(), forger)
    check = verify_certificate(issued.pdf, [ca.certificate])
    assert not check.valid
    assert not check.signature.trusted
