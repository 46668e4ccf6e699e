"""The form built from JSON Schema, posts read back, rows, summaries and the municipality search."""

from __future__ import annotations

from jichitai.internet.portal import formfields as ff
from jichitai.internet.portal.municipalities import search
from jichitai.platform.tenants import Tenant, TenantCode, TenantKind
from jichitai.procedures import default_catalog, sample_application

CLAIM = default_catalog().get("child_allowance_claim")
SCHEMA = CLAIM.form


def _post(pairs: list[tuple[str, str]]) -> ff.FormLike:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return ff.FormLike(grouped)


def test_the_claim_form_has_sections_rows_and_widgets_from_its_schema() -> None:
    root = ff.build_form(SCHEMA, {}, {})
    by_name = {c.path[0]: c for c in root.children}
    claimant = by_name["claimant"]
    assert isinstance(claimant, ff.Section) and claimant.heading_level == 2
    fields = {c.path[-1]: c for c in claimant.children if isinstance(c, ff.Field)}
    assert fields["postal_code"].requirement == "required"
    assert fields["postal_code"].autocomplete == "postal-code"
    assert fields["pension_type"].widget == "radio"
    assert fields["is_public_servant"].widget == "checkbox"
    assert fields["individual_number"].inputmode == "numeric"
    spouse = {c.path[-1]: c for c in by_name["spouse"].children}  # type: ignore[union-attr]
    assert spouse["name"].requirement == "conditional"  # required only when has_spouse
    children = by_name["children"]
    assert isinstance(children, ff.Rows)
    assert [r.title for r in children.rows] == ["児童1"]  # minItems 1: one empty row to start
    assert not children.can_remove and children.can_add
    relationship = next(c for c in children.rows[0].children if c.path[-1] == "relationship")
    assert isinstance(relationship, ff.Field) and relationship.widget == "select"
    assert relationship.id == "f-children-0-relationship"
    university = by_name["university_age_children"]
    assert isinstance(university, ff.Rows) and university.rows == []


def test_a_post_reads_back_into_the_application_it_came_from() -> None:
    data = sample_application(CLAIM)
    assert ff.parse_post(SCHEMA, _post(ff.to_post(SCHEMA, data))) == data


def test_blank_optional_objects_disappear_and_unchecked_boxes_are_false() -> None:
    data = sample_application(CLAIM)
    data["payee"] = {"use_public_fund_account": True}
    pairs = [p for p in ff.to_post(SCHEMA, data) if not p[0].startswith("claimant.is_public")]
    pairs += [("payee.bank_account.bank_name", "  "), ("unknown.field", "x")]
    parsed = ff.parse_post(SCHEMA, _post(pairs))
    assert parsed["payee"] == {"use_public_fund_account": True}
    assert parsed["claimant"]["is_public_servant"] is False
    assert "unknown" not in parsed


def test_rows_are_added_and_removed_within_their_limits() -> None:
    data: dict[str, object] = {"children": [{"name": "山田 一郎"}]}
    more, index = ff.add_row(SCHEMA, data, ("children",))
    assert index == 1 and more["children"] == [{"name": "山田 一郎"}, {}]
    fewer = ff.remove_row(SCHEMA, more, ("children", 0))
    assert fewer["children"] == [{}]
    assert ff.remove_row(SCHEMA, fewer, ("children", 0)) == fewer  # never below minItems 1
    full: dict[str, object] = {"children": [{} for _ in range(15)]}
    assert ff.add_row(SCHEMA, full, ("children",)) == (full, None)  # maxItems 15
    created, first = ff.add_row(SCHEMA, {}, ("university_age_children",))
    assert first == 0 and created["university_age_children"] == [{}]


def test_each_error_pointer_links_to_the_element_that_shows_it() -> None:
    assert ff.field_id(SCHEMA, "/claimant/postal_code") == "f-claimant-postal_code"
    assert ff.field_id(SCHEMA, "/children/1/birth_date") == "f-children-1-birth_date"
    assert ff.field_id(SCHEMA, "/payee/bank_account") == "f-payee-bank_account"
    assert ff.field_id(SCHEMA, "/attachments/passbook_copy") == "f-attachments-passbook_copy"
    root = ff.build_form(SCHEMA, {}, {"/claimant/postal_code": "郵便番号は7桁の数字で入力してください"})
    claimant = root.children[0]
    assert isinstance(claimant, ff.Section)
    postal = next(c for c in claimant.children if c.path[-1] == "postal_code")
    assert isinstance(postal, ff.Field) and postal.error == "郵便番号は7桁の数字で入力してください"


def test_the_summary_masks_individual_numbers_and_shows_dates_in_wareki() -> None:
    data = sample_application(CLAIM)
    number = data["claimant"]["individual_number"]
    masked = ff.summary_groups(SCHEMA, data, mask=True)
    text = repr(masked)
    assert number not in text and "●●●●●●●●" + number[-4:] in text
    assert "請求者" in [g.title for g in masked] and "児童1" in [g.title for g in masked]
    shown = ff.summary_groups(SCHEMA, data, mask=False)
    assert number in repr(shown)
    assert ff.display_value({"format": "date"}, "2024-05-10", mask=True) == "2024-05-10（令和6年5月10日）"


def _tenant(code: str, name: str, kana: str, prefecture: str) -> Tenant:
    return Tenant(TenantCode(code), name, kana, TenantKind.CITY, prefecture)


def test_the_municipality_is_found_by_name_kana_or_postcode() -> None:
    tenants = [
        _tenant("131016", "千代田区", "チヨダク", "東京都"),
        _tenant("141003", "横浜市", "ヨコハマシ", "神奈川県"),
    ]
    assert [t.name for t in search(tenants, "千代田")] == ["千代田区"]
    assert [t.name for t in search(tenants, "よこはま")] == ["横浜市"]
    assert [t.name for t in search(tenants, "102-0082")] == ["千代田区"]
    assert [t.name for t in search(tenants, "〒２３１－００２３")] == ["横浜市"]
    assert search(tenants, "999-9999") == []
    assert len(search(tenants, "")) == 2
