"""Applications checked against definitions: valid samples pass, typical mistakes get one clear message."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from jichitai.procedures import (
    AttachmentMeta,
    ProcedureDefinition,
    default_catalog,
    sample_application,
    sample_attachments,
    sample_invalid_applications,
    validate_application,
    validate_attachments,
)

CATALOG = default_catalog()
ALL = CATALOG.latest()
IDS = [f"{d.number:02d}-{d.id}" for d in ALL]
INVALID = [(d, s) for d in ALL for s in sample_invalid_applications(d)]
TODAY = date(2025, 6, 1)


@pytest.mark.parametrize("definition", ALL, ids=IDS)
def test_generated_valid_application_passes(definition: ProcedureDefinition) -> None:
    data = sample_application(definition)
    result = validate_application(definition, data, today=TODAY)
    assert result.ok, result.summary()
    assert result.data == data  # sample values are already in canonical spelling
    assert validate_attachments(definition, result.data, sample_attachments(definition, result.data)) == ()


@pytest.mark.parametrize("definition", ALL, ids=IDS)
def test_wareki_dates_are_accepted_and_normalised_to_iso(definition: ProcedureDefinition) -> None:
    iso = sample_application(definition)
    wareki = sample_application(definition, wareki_dates=True)
    result = validate_application(definition, wareki, today=TODAY)
    assert result.ok, result.summary()
    assert result.data == iso


@pytest.mark.parametrize("definition", ALL, ids=IDS)
def test_every_form_has_the_typical_mistakes(definition: ProcedureDefinition) -> None:
    cases = {s.case for s in sample_invalid_applications(definition)}
    assert {
        "missing_required",
        "bad_katakana",
        "bad_postal_code",
        "bad_phone",
        "bad_date",
        "unknown_field",
    } <= cases
    if definition.offered_by == "municipality":
        assert {"bad_individual_number", "short_individual_number"} <= cases
    if definition.number in (1, 5, 22, 24, 25):
        assert "bad_bank_account" in cases


@pytest.mark.parametrize(
    ("definition", "sample"), INVALID, ids=[f"{d.number:02d}-{s.case}" for d, s in INVALID]
)
def test_typical_mistake_gives_one_message_on_its_field(definition: ProcedureDefinition, sample: Any) -> None:
    result = validate_application(definition, sample.data, today=TODAY)
    assert not result.ok
    assert [(e.pointer, e.message) for e in result.errors] == [(sample.pointer, sample.message)]


CLAIM = CATALOG.get("child_allowance_claim")


def claim(**changes: Any) -> dict[str, Any]:
    data = sample_application(CLAIM)
    for path, value in changes.items():
        node: Any = data
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("__")]
        for key in keys[:-1]:
            node = node[key]
        if value is ...:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return data


def messages(data: dict[str, Any]) -> dict[str, str]:
    return {e.pointer: e.message for e in validate_application(CLAIM, data, today=TODAY).errors}


def test_exact_japanese_messages_on_the_child_allowance_claim() -> None:
    assert messages(claim(claimant__postal_code="123-456")) == {
        "/claimant/postal_code": "郵便番号は7桁の数字で入力してください"
    }
    assert messages(claim(claimant__kana="山田")) == {
        "/claimant/kana": "フリガナは全角カタカナで入力してください"
    }
    assert messages(claim(claimant__name=...)) == {"/claimant/name": "氏名を入力してください"}
    assert messages(claim(claimant__individual_number="123456789012")) == {
        "/claimant/individual_number": (
            "個人番号が正しくありません。番号に誤りがないか、マイナンバーカードでご確認ください"
        )
    }
    assert messages(claim(spouse__individual_number="12345")) == {
        "/spouse/individual_number": "配偶者の個人番号は12桁の数字で入力してください"
    }
    assert messages(claim(payee__bank_account__bank_code="12")) == {
        "/payee/bank_account/bank_code": "金融機関コードは4桁の数字で入力してください"
    }
    assert messages(claim(payee__bank_account__account_holder_kana="山田太郎")) == {
        "/payee/bank_account/account_holder_kana": "口座名義（カナ）はカタカナで入力してください"
    }


def test_empty_input_counts_as_missing() -> None:
    assert messages(claim(claimant__address="   ")) == {"/claimant/address": "住所を入力してください"}


def test_choice_and_checkbox_messages() -> None:
    assert messages(claim(claimant__pension_type=...)) == {
        "/claimant/pension_type": "加入している年金を選択してください"
    }
    assert messages(claim(claimant__pension_type="年金基金")) == {
        "/claimant/pension_type": "加入している年金は選択肢から選んでください"
    }
    assert messages(claim(consent_public_records=False)) == {
        "/consent_public_records": "公簿等による確認への同意にチェックを入れてください"
    }
    assert messages(claim(claimant__is_public_servant=True)) == {
        "/claimant/is_public_servant": (
            "公務員の方の児童手当は勤務先から支給されます。勤務先に請求してください"
        )
    }


def test_conditional_requirements() -> None:
    # a child living apart needs its 個人番号 and address
    data = claim(
        children__0__living_arrangement="別居", children__0__individual_number=..., children__0__address=...
    )
    found = validate_application(CLAIM, data, today=TODAY)
    assert {e.pointer: e.message for e in found.errors} == {
        "/children/0/individual_number": "児童の個人番号を入力してください",
        "/children/0/address": "児童の住所を入力してください",
    }
    assert found.errors[0].label == "児童1 > 児童の個人番号"
    # no bank account needed with the 公金受取口座, but needed without it
    assert messages(claim(payee__bank_account=..., payee__use_public_fund_account=True)) == {}
    assert messages(claim(payee__bank_account=..., payee__use_public_fund_account=False)) == {
        "/payee/bank_account": "振込先口座を入力してください"
    }


def test_future_birth_date_refused_and_impossible_dates_named() -> None:
    assert messages(claim(claimant__birth_date="令和9年1月1日")) == {
        "/claimant/birth_date": "生年月日に未来の日付は入力できません"
    }
    assert messages(claim(claimant__birth_date="平成32年1月1日")) == {
        "/claimant/birth_date": (
            "生年月日は正しい日付で入力してください（例：2024-04-01 または 令和6年4月1日）"
        )
    }


def test_typed_variants_are_normalised() -> None:
    data = claim(
        claimant__kana="ﾔﾏﾀﾞ ﾀﾛｳ",
        claimant__postal_code="１０２００８２",
        claimant__phone="０９０－１２３４－５６７８",
        claimant__individual_number="1234 5678 9018",
        claimant__birth_date="平成2年4月15日",
        payee__bank_account__account_holder_kana="ヤマダ　タロウ",
        payee__bank_account__account_number="１２３４５６７",
    )
    result = validate_application(CLAIM, data, today=TODAY)
    assert result.ok, result.summary()
    c = result.data["claimant"]
    assert (c["kana"], c["postal_code"], c["phone"], c["individual_number"], c["birth_date"]) == (
        "ヤマダ タロウ",
        "102-0082",
        "090-1234-5678",
        "123456789018",
        "1990-04-15",
    )
    assert result.data["payee"]["bank_account"]["account_holder_kana"] == "ﾔﾏﾀﾞ ﾀﾛｳ"
    assert result.data["payee"]["bank_account"]["account_number"] == "1234567"


def test_form_posts_read_integers_and_booleans() -> None:
    care = CATALOG.get("welfare_equipment_purchase_benefit")
    data = sample_application(care)
    data["items"][0]["amount"] = "２５,０００"
    result = validate_application(care, data, today=TODAY)
    assert result.ok, result.summary()
    assert result.data["items"][0]["amount"] == 25000
    data["items"][0]["amount"] = "二万五千"
    assert validate_application(care, data, today=TODAY).message_for("/items/0/amount") == (
        "購入金額は半角数字（整数）で入力してください"
    )


def test_errors_are_listed_in_form_order_with_a_summary() -> None:
    data = claim(payee__bank_account__branch_code="1", claimant__postal_code="1", claimant__kana="やまだ")
    result = validate_application(CLAIM, data, today=TODAY)
    assert [e.pointer for e in result.errors] == [
        "/claimant/kana",
        "/claimant/postal_code",
        "/payee/bank_account/branch_code",
    ]
    assert result.summary()[1] == "請求者 > 郵便番号：郵便番号は7桁の数字で入力してください"


def test_range_messages_use_units() -> None:
    parking = CATALOG.get("vehicle_parking_certificate")
    data = sample_application(parking)
    data["place"]["distance_m"] = 2500
    assert validate_application(parking, data, today=TODAY).message_for("/place/distance_m") == (
        "保管場所は使用の本拠から2キロメートル（2,000m）以内である必要があります"
    )
    data["place"]["distance_m"] = -1
    assert validate_application(parking, data, today=TODAY).message_for("/place/distance_m") == (
        "使用の本拠から保管場所までの距離は0m以上で入力してください"
    )


def test_care_second_category_needs_medical_insurance() -> None:
    care = CATALOG.get("care_certification_new")
    data = sample_application(care)
    data["insured"]["insured_category"] = "第2号被保険者"
    del data["insured"]["insured_number"]  # a category-2 insured may not have a card yet
    del data["medical_insurance"]
    result = validate_application(care, data, today=TODAY)
    assert [(e.pointer, e.message) for e in result.errors] == [
        ("/medical_insurance", "医療保険（第2号被保険者のみ）を入力してください")
    ]


# --- attachments --------------------------------------------------------------------------------


def test_attachment_required_by_an_answer() -> None:
    data = validate_application(CLAIM, claim(children__0__living_arrangement="別居"), today=TODAY).data
    errors = validate_attachments(CLAIM, data, sample_attachments(CLAIM, sample_application(CLAIM)))
    assert [(e.pointer, e.message) for e in errors] == [
        ("/attachments/separate_custody_statement", "別居監護申立書を添付してください")
    ]
    assert validate_attachments(CLAIM, data, sample_attachments(CLAIM, data)) == ()


def test_attachment_limits() -> None:
    data = sample_application(CLAIM)
    pdf = AttachmentMeta("passbook_copy", "通帳.pdf", "application/pdf", 1000)
    too_big = AttachmentMeta("passbook_copy", "通帳.pdf", "application/pdf", 11 * 1024 * 1024)
    word = AttachmentMeta("passbook_copy", "通帳.docx", "application/msword", 1000)
    stranger = AttachmentMeta("selfie", "me.jpg", "image/jpeg", 1000)

    def errs(files: list[AttachmentMeta]) -> list[tuple[str, str]]:
        return [(e.keyword, e.message) for e in validate_attachments(CLAIM, data, files)]

    assert errs([pdf]) == []
    assert errs([pdf, pdf]) == [("max_count", "振込先口座の通帳等の写しは1件まで添付できます")]
    assert errs([too_big]) == [("max_size", "振込先口座の通帳等の写し（通帳.pdf）は10MB以下にしてください")]
    assert errs([word]) == [
        ("content_type", "振込先口座の通帳等の写し（通帳.docx）はJPEG・PNG・PDFの形式で添付してください")
    ]
    assert ("kind", "この手続では「selfie」の添付は受け付けていません") in errs([pdf, stranger])
    # with the 公金受取口座 the passbook is not needed
    data["payee"]["use_public_fund_account"] = True
    assert errs([]) == []


def test_attachment_conditions_answer_as_the_jsonschema_package_does() -> None:
    """Conditions that assert nothing through Python are decided by jsonschema_rs (the fast path
    of fast_validation); for every condition of every definition, and answers that meet it and
    that miss it, the answer is the one the jsonschema package gives. A condition with a pattern
    takes the Python path."""
    from jsonschema import Draft202012Validator

    from jichitai.procedures import default_catalog
    from jichitai.procedures.fast_validation import compile_fast
    from jichitai.procedures.validation import attachment_required

    def fast_path(condition: Any) -> bool:
        fast = compile_fast(condition)
        return fast is not None and fast.exact

    def variants(data: Any) -> list[Any]:
        """``data``, and copies with each scalar answer turned into another value."""
        out = [data]
        if isinstance(data, dict):
            for key, value in data.items():
                for other in [*variants(value)[1:], None, True, False, "別居", "同居"]:
                    out.append({**data, key: other})
            out.append(dict(list(data.items())[1:]))
        elif isinstance(data, list) and data:
            out.extend([[*data, v] for v in variants(data[0])[1:4]])
        return out[:400]

    checked = 0
    for definition in default_catalog().all_versions():
        data = sample_application(definition)
        for spec in definition.attachments:
            if spec.required_when is None:
                continue
            assert fast_path(spec.required_when)
            python = Draft202012Validator(spec.required_when)
            for candidate in variants(data):
                assert attachment_required(spec.required_when, candidate) == python.is_valid(candidate)
                checked += 1
    assert checked > 1000
    patterned = {"properties": {"tel": {"pattern": "^0\\d+$"}}, "required": ["tel"]}
    assert not fast_path(patterned)
    assert attachment_required(patterned, {"tel": "１３"}) is False
    assert attachment_required(patterned, {"tel": "03"}) is True


def test_each_field_schema_keeps_its_own_normaliser() -> None:
    from jichitai.procedures.validation import normalize_application

    def form(field: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "properties": {"k": field, "n": {"type": "integer"}}}

    katakana, plain = form({"type": "string", "format": "katakana"}), form({"type": "string"})
    code = form({"type": "string", "pattern": "^[0-9A-Z]{4}$"})
    for _ in range(2):  # the second time through the compiled normalisers
        assert normalize_application({"k": "ﾔﾏﾀﾞ", "n": "１,２００"}, katakana) == {"k": "ヤマダ", "n": 1200}
        assert normalize_application({"k": " ﾔﾏﾀﾞ ", "n": 3}, plain) == {"k": "ﾔﾏﾀﾞ", "n": 3}
        assert normalize_application({"k": "０ａ１ｂ"}, code) == {"k": "0A1B"}
        assert normalize_application({"k": "　 ", "n": None}, plain) == {}
