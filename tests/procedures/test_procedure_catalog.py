"""The catalog of the 31 priority procedures: loading, checking, hashing, lookup."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from jichitai.platform.errors import NotFound
from jichitai.procedures import (
    Catalog,
    Category,
    CertificateKind,
    DefinitionError,
    HandledBy,
    OfferedBy,
    ProcedureDefinition,
    default_catalog,
    write_version_lock,
)
from jichitai.procedures.catalog import DEFINITIONS_DIR, build_definition, definition_problems

# The names as DOMAIN.md lists them (number → name).
DOMAIN_NAMES = {
    1: "児童手当等の受給資格及び児童手当の額についての認定請求",
    2: "児童手当等の額の改定の請求及び届出",
    3: "氏名変更／住所変更等の届出",
    4: "受給事由消滅の届出",
    5: "未支払の児童手当等の請求",
    6: "児童手当等に係る寄附の申出",
    7: "児童手当に係る寄附変更等の申出",
    8: "受給資格者の申出による学校給食費等の徴収等の申出",
    9: "受給資格者の申出による学校給食費等の徴収等の変更等の申出",
    10: "児童手当等の現況届",
    11: "支給認定の申請",
    12: "保育施設等の利用申込",
    13: "保育施設等の現況届",
    14: "児童扶養手当の現況届の事前送信",
    15: "妊娠の届出",
    16: "要介護・要支援認定の申請",
    17: "要介護・要支援更新認定の申請",
    18: "要介護・要支援状態区分変更認定の申請",
    19: "居宅（介護予防）サービス計画作成（変更）依頼の届出",
    20: "介護保険負担割合証の再交付申請",
    21: "被保険者証の再交付申請",
    22: "高額介護（予防）サービス費の支給申請",
    23: "介護保険負担限度額認定申請",
    24: "居宅介護（介護予防）福祉用具購入費の支給申請",
    25: "居宅介護（介護予防）住宅改修費の支給申請",
    26: "住所移転後の要介護・要支援認定申請",
    27: "罹災証明書の発行申請",
    28: "自動車税環境性能割の申告納付",
    29: "自動車税の賦課徴収に関する事項の申告又は報告",
    30: "自動車税住所変更届",
    31: "自動車の保管場所証明の申請",
}

CATALOG = default_catalog()
ALL = CATALOG.latest()


def test_exactly_31_procedures_numbered_1_to_31_with_domain_names() -> None:
    assert len(CATALOG) == 31
    assert [d.number for d in ALL] == list(range(1, 32))
    assert {d.number: d.name for d in ALL} == DOMAIN_NAMES
    assert len(list(DEFINITIONS_DIR.glob("*.v1.yaml"))) == 31


def test_categories_and_offering_bodies() -> None:
    counts = {c: len(CATALOG.select(category=c)) for c in Category}
    assert counts == {Category.CHILDCARE: 15, Category.CARE: 11, Category.DISASTER: 1, Category.VEHICLE: 4}
    assert [d.number for d in CATALOG.select(offered_by=OfferedBy.PREFECTURE)] == [28, 29, 30, 31]
    assert len(CATALOG.select(offered_by="municipality")) == 27


def test_routing_to_core_systems() -> None:
    child_allowance = [d.number for d in ALL if d.handled_by is HandledBy.CHILD_ALLOWANCE]
    assert child_allowance == [1, 2, 3, 4, 5, 6, 7, 10]
    assert all(
        d.receiving_system == "child_allowance" for d in ALL if d.handled_by is HandledBy.CHILD_ALLOWANCE
    )
    assert CATALOG.by_number(16).receiving_system == "care_insurance"
    assert CATALOG.by_number(27).receiving_system == "disaster"


def test_certificates() -> None:
    claim = CATALOG.get("child_allowance_claim")
    assert claim.certificate is CertificateKind.SIGNING
    assert claim.requires_signature
    signing = [d for d in ALL if d.certificate is CertificateKind.SIGNING]
    assert len(signing) >= 25  # most childcare and care applications are signed
    assert all(d.certificate_reason for d in ALL)


@pytest.mark.parametrize("definition", ALL, ids=lambda d: f"{d.number:02d}-{d.id}")
def test_definition_loads_and_form_is_valid_json_schema(definition: ProcedureDefinition) -> None:
    Draft202012Validator.check_schema(dict(definition.form))
    assert definition.form["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert definition.legal_basis
    assert definition.sources
    assert definition.version >= 1
    assert len(definition.content_hash) == 64
    # every form asks who the resident is, in katakana too
    assert "katakana" in str(definition.form)


def test_lookup() -> None:
    claim = CATALOG.get("child_allowance_claim", 1)
    assert claim.ref == "child_allowance_claim@1"
    assert CATALOG.get_ref("child_allowance_claim@1") is claim
    assert CATALOG.get("child_allowance_claim") is claim
    assert CATALOG.by_number(1) is claim
    with pytest.raises(NotFound):
        CATALOG.get("child_allowance_claim", 2)
    with pytest.raises(NotFound):
        CATALOG.get("no_such_procedure")
    with pytest.raises(NotFound):
        CATALOG.get_ref("child_allowance_claim")


def test_select_by_life_event() -> None:
    moving = {d.number for d in CATALOG.select(life_event="引越し")}
    assert {1, 3, 4, 26, 30} <= moving
    assert [d.number for d in CATALOG.select(life_event="災害")] == [27]
    assert [d.number for d in CATALOG.select(category=Category.CARE, life_event="引越し")] == [26]
    assert "出産" in CATALOG.life_events()


def _copy_definitions(tmp_path: Path) -> Path:
    target = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS_DIR, target)
    return target


def test_lock_refuses_a_changed_released_version(tmp_path: Path) -> None:
    directory = _copy_definitions(tmp_path)
    assert len(Catalog.load(directory)) == 31
    path = directory / "child_allowance_claim.v1.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["description"] += "（変更）"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DefinitionError, match="differs from its released content"):
        Catalog.load(directory)
    with pytest.raises(DefinitionError, match="changed after release"):
        write_version_lock(directory)


def test_new_version_is_loaded_and_becomes_latest(tmp_path: Path) -> None:
    directory = _copy_definitions(tmp_path)
    raw = yaml.safe_load((directory / "child_allowance_claim.v1.yaml").read_text(encoding="utf-8"))
    raw["version"] = 2
    raw["form"]["properties"]["claimant"]["properties"]["email"] = {
        "type": "string",
        "format": "email",
        "title": "メールアドレス",
        "description": "連絡用のメールアドレスです。",
        "examples": ["taro@example.jp"],
    }
    (directory / "child_allowance_claim.v2.yaml").write_text(
        yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8"
    )
    with pytest.raises(DefinitionError, match="not recorded"):
        Catalog.load(directory)
    lock = write_version_lock(directory)
    assert "child_allowance_claim@2" in lock
    catalog = Catalog.load(directory)
    assert catalog.get("child_allowance_claim").version == 2
    assert catalog.get("child_allowance_claim", 1).version == 1
    assert (
        catalog.get("child_allowance_claim", 1).content_hash
        != catalog.get("child_allowance_claim").content_hash
    )
    assert len(catalog.versions("child_allowance_claim")) == 2


def test_file_name_must_match_id_and_version(tmp_path: Path) -> None:
    directory = _copy_definitions(tmp_path)
    shutil.move(directory / "pregnancy_notification.v1.yaml", directory / "pregnancy_notification.v7.yaml")
    with pytest.raises(DefinitionError, match="does not match"):
        Catalog.load(directory, verify_lock=False)


def _raw(procedure_id: str) -> dict[str, object]:
    path = DEFINITIONS_DIR / f"{procedure_id}.v1.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_meta_schema_refuses_bad_definitions() -> None:
    raw = _raw("pregnancy_notification")
    del raw["legal_basis"]
    with pytest.raises(DefinitionError, match="legal_basis"):
        build_definition(raw)
    raw = _raw("pregnancy_notification")
    raw["category"] = "税"
    with pytest.raises(DefinitionError, match="category"):
        build_definition(raw)


def test_form_lint_refuses_untitled_fields_and_unknown_formats() -> None:
    raw = _raw("pregnancy_notification")
    form = raw["form"]
    assert isinstance(form, dict)
    form["properties"]["mother"]["properties"]["postal_code"]["format"] = "zip-code"
    del form["properties"]["mother"]["properties"]["address"]["title"]
    problems = definition_problems(raw)
    assert any("unknown format 'zip-code'" in p for p in problems)
    assert any("mother.address: needs a Japanese title" in p for p in problems)


def test_form_lint_refuses_invalid_examples_and_typos_in_conditions() -> None:
    raw = _raw("child_allowance_claim")
    form = raw["form"]
    assert isinstance(form, dict)
    form["properties"]["claimant"]["properties"]["postal_code"]["examples"] = ["12-34"]
    form["properties"]["spouse"]["allOf"][0]["then"]["required"].append("nmae")
    problems = definition_problems(raw)
    assert any("example '12-34'" in p for p in problems)
    assert any("'nmae'" in p for p in problems)


def test_routing_rule_is_enforced() -> None:
    raw = _raw("care_certification_new")
    raw["handled_by"] = "child_allowance"
    assert any("handled by generic" in p for p in definition_problems(raw))
