"""Per-tenant settings: switch on/off, guidance, extra fields, and frozen effective versions."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from jichitai.platform.errors import NotFound, PermissionDenied, ValidationError
from jichitai.procedures import (
    Catalog,
    JsonFileOverrideStore,
    TenantOverride,
    TenantProcedures,
    default_catalog,
    effective_definition,
    parse_effective_id,
    sample_application,
    validate_application,
    write_version_lock,
)
from jichitai.procedures.catalog import DEFINITIONS_DIR

CHIYODA = "131016"  # 千代田区
YOKOHAMA = "141003"  # 横浜市
TOKYO = "130001"  # 東京都

SCHOOL_FIELD: dict[str, Any] = {
    "type": "string",
    "title": "保護者の勤務先郵便番号",
    "description": "区独自の確認項目です。",
    "format": "postal-code",
    "examples": ["100-0005"],
}


@pytest.fixture
def procedures(tmp_path: Path) -> TenantProcedures:
    return TenantProcedures(default_catalog(), JsonFileOverrideStore(tmp_path / "overrides"))


def test_defaults_follow_the_kind_of_body(procedures: TenantProcedures) -> None:
    municipal = procedures.offered(CHIYODA)
    assert len(municipal) == 27
    assert all(e.base.offered_by == "municipality" for e in municipal)
    assert [e.base.number for e in procedures.offered(TOKYO)] == [28, 29, 30, 31]
    untouched = procedures.effective(CHIYODA, "child_allowance_claim")
    assert untouched.effective_id == "child_allowance_claim@1"
    assert untouched.definition is untouched.base


def test_disable_and_enable(procedures: TenantProcedures) -> None:
    disabled = procedures.disable(CHIYODA, "pregnancy_notification")
    assert not disabled.enabled
    with pytest.raises(PermissionDenied) as caught:
        disabled.require_enabled()
    assert caught.value.message_ja == "この手続は現在オンラインで受け付けていません"
    assert "pregnancy_notification" not in {e.base.id for e in procedures.offered(CHIYODA)}
    assert len(procedures.offered(CHIYODA, include_disabled=True)) == 31
    # other tenants are not affected
    assert procedures.effective(YOKOHAMA, "pregnancy_notification").enabled
    assert procedures.enable(CHIYODA, "pregnancy_notification").enabled
    # switching on and off changes nothing residents fill in, so the form id stays
    assert procedures.effective(CHIYODA, "pregnancy_notification").effective_id == "pregnancy_notification@1"


def test_a_municipality_cannot_offer_a_prefectural_procedure(procedures: TenantProcedures) -> None:
    with pytest.raises(ValidationError):
        procedures.enable(CHIYODA, "vehicle_parking_certificate")


def test_extra_field_is_validated_like_any_field(procedures: TenantProcedures) -> None:
    effective = procedures.set_extra_fields(
        CHIYODA, "child_allowance_claim", {"employer_postal_code": SCHOOL_FIELD}, ["employer_postal_code"]
    )
    assert effective.effective_id == "child_allowance_claim@1+131016.1"
    assert effective.content_hash != effective.base.content_hash
    data = sample_application(effective)
    assert data["x_tenant"] == {"employer_postal_code": "100-0005"}
    assert validate_application(effective, data).ok

    data["x_tenant"]["employer_postal_code"] = "100"
    result = validate_application(effective, data)
    assert [(e.pointer, e.message, e.label) for e in result.errors] == [
        (
            "/x_tenant/employer_postal_code",
            "保護者の勤務先郵便番号は7桁の数字で入力してください",
            "市区町村からの追加項目 > 保護者の勤務先郵便番号",
        )
    ]
    del data["x_tenant"]
    assert (
        validate_application(effective, data).message_for("/x_tenant")
        == "市区町村からの追加項目を入力してください"
    )
    # the base definition does not accept the tenant's section
    assert validate_application(effective.base, sample_application(effective)).message_for("/x_tenant")


def test_version_id_changes_and_old_versions_stay_resolvable(procedures: TenantProcedures) -> None:
    first = procedures.set_guidance(
        CHIYODA, "child_allowance_claim", "千代田区では郵送でも受け付けています。"
    )
    second = procedures.set_extra_fields(
        CHIYODA, "child_allowance_claim", {"employer_postal_code": SCHOOL_FIELD}
    )
    assert (first.effective_id, second.effective_id) == (
        "child_allowance_claim@1+131016.1",
        "child_allowance_claim@1+131016.2",
    )
    assert first.content_hash != second.content_hash
    assert (
        second.guidance_ja == "千代田区では郵送でも受け付けています。"
    )  # each revision holds the full state
    # an application made with revision 1 gets exactly that form back
    old = procedures.resolve(CHIYODA, "child_allowance_claim@1+131016.1")
    assert old.content_hash == first.content_hash
    assert "x_tenant" not in old.definition.form["properties"]
    assert procedures.resolve(CHIYODA, "child_allowance_claim@1").definition is old.base
    with pytest.raises(PermissionDenied):
        procedures.resolve(YOKOHAMA, "child_allowance_claim@1+131016.1")
    with pytest.raises(NotFound):
        procedures.resolve(CHIYODA, "child_allowance_claim@1+131016.9")


@pytest.mark.parametrize(
    ("fields", "required"),
    [
        ({"BadName": SCHOOL_FIELD}, []),
        ({"no_title": {"type": "string", "description": "説明", "format": "postal-code"}}, []),
        ({"odd_format": {**SCHOOL_FIELD, "format": "zip"}}, []),
        ({"bad_example": {**SCHOOL_FIELD, "examples": ["1"]}}, []),
        ({"ratio": {"type": "number", "title": "割合", "description": "説明"}}, []),
        ({"employer_postal_code": SCHOOL_FIELD}, ["missing_field"]),
    ],
)
def test_bad_extra_fields_are_refused_and_nothing_is_stored(
    procedures: TenantProcedures, fields: dict[str, Any], required: list[str]
) -> None:
    with pytest.raises(ValidationError):
        procedures.set_extra_fields(CHIYODA, "child_allowance_claim", fields, required)
    assert procedures.store.latest(CHIYODA, "child_allowance_claim") is None


def test_guidance_length_limit(procedures: TenantProcedures) -> None:
    with pytest.raises(ValidationError):
        procedures.set_guidance(CHIYODA, "pregnancy_notification", "あ" * 2001)


def test_json_store_persists_and_refuses_stale_revisions(tmp_path: Path) -> None:
    store = JsonFileOverrideStore(tmp_path)
    store.append(TenantOverride(CHIYODA, "pregnancy_notification", 1, enabled=False))
    reopened = JsonFileOverrideStore(tmp_path)
    latest = reopened.latest(CHIYODA, "pregnancy_notification")
    assert latest == TenantOverride(CHIYODA, "pregnancy_notification", 1, enabled=False)
    with pytest.raises(ValidationError, match="stale"):
        reopened.append(TenantOverride(CHIYODA, "pregnancy_notification", 1, enabled=True))
    reopened.append(TenantOverride(CHIYODA, "pregnancy_notification", 2, guidance_ja="案内"))
    assert [o.revision for o in reopened.list_latest(CHIYODA)] == [2]
    assert reopened.get(CHIYODA, "pregnancy_notification", 1).enabled is False
    assert reopened.latest(YOKOHAMA, "pregnancy_notification") is None


def test_base_version_change_changes_the_effective_id(tmp_path: Path) -> None:
    directory = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS_DIR, directory)
    raw = yaml.safe_load((directory / "pregnancy_notification.v1.yaml").read_text(encoding="utf-8"))
    raw["version"] = 2
    raw["description"] += "令和7年度から様式を改めました。"
    (directory / "pregnancy_notification.v2.yaml").write_text(
        yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8"
    )
    write_version_lock(directory)
    catalog = Catalog.load(directory)
    override = TenantOverride(CHIYODA, "pregnancy_notification", 4, guidance_ja="保健所でも受け付けます。")
    v1 = effective_definition(catalog.get("pregnancy_notification", 1), CHIYODA, override)
    v2 = effective_definition(catalog.get("pregnancy_notification", 2), CHIYODA, override)
    assert (v1.effective_id, v2.effective_id) == (
        "pregnancy_notification@1+131016.4",
        "pregnancy_notification@2+131016.4",
    )
    assert v1.content_hash != v2.content_hash


def test_parse_effective_id() -> None:
    ref = parse_effective_id("child_allowance_claim@1+131016.3")
    assert (ref.procedure_id, ref.version, ref.tenant_code, ref.revision) == (
        "child_allowance_claim",
        1,
        "131016",
        3,
    )
    plain = parse_effective_id("child_allowance_claim@2")
    assert (plain.tenant_code, plain.revision) == (None, None)
    for bad in ("child_allowance_claim", "child_allowance_claim@0", "x@1+13101.3", "x@1+131016"):
        with pytest.raises(ValidationError):
            parse_effective_id(bad)


def test_show_summarises_for_staff(procedures: TenantProcedures) -> None:
    procedures.set_extra_fields(CHIYODA, "child_allowance_claim", {"employer_postal_code": SCHOOL_FIELD})
    shown = procedures.show(CHIYODA, "child_allowance_claim")
    assert shown["effective_id"] == "child_allowance_claim@1+131016.1"
    assert shown["certificate"] == "署名用電子証明書"
    assert shown["extra_fields"] == ["employer_postal_code"]
    assert shown["enabled"] is True
