"""The jsonschema_rs fast path gives the same verdicts and messages as the Python validator.

For every procedure definition, the sample applications (valid, 和暦, typical mistakes) and a set
of systematic mutations of the valid one (wrong types, missing and extra fields, bad formats, bad
bank accounts, lengths, bounds, every enum choice so that conditional clauses switch both ways) are
checked twice: the fast path's verdict against the Python validator's, and the whole result of
:func:`validate_form_data` with the fast path against the result without it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from jichitai.procedures import (
    ProcedureDefinition,
    default_catalog,
    effective_definition,
    sample_application,
    sample_invalid_applications,
)
from jichitai.procedures.fast_validation import fast_validator_for
from jichitai.procedures.formats import FORMAT_CHECKER
from jichitai.procedures.overrides import TenantOverride
from jichitai.procedures.validation import (
    normalize_application,
    validate_application,
    validate_form_data,
    validator_for,
)

CATALOG = default_catalog()
ALL = CATALOG.all_versions()
IDS = [f"{d.number:02d}-{d.id}@{d.version}" for d in ALL]
TODAY = date(2025, 6, 1)
Path = tuple[str | int, ...]

_BAD_STRINGS: dict[str, list[Any]] = {
    "postal-code": ["12-345", "1000-001", "郵便番号"],
    "phone-jp": ["1234-5678", "03-1234-567", "０３１２３４５６７８９０１２"],
    "katakana": ["やまだ たろう", "山田", "ﾔﾏﾀﾞ1"],
    "individual-number": ["123456789012", "12345", "1234567890１", "12345678901a"],
    "date": ["令和6年2月30日", "2024-13-01", "2024/2/30", "昨日", "2099-01-01"],
    "account-holder-kana": ["山田太郎", "1234", "やまだ"],
    "email": ["taro@", "taro example.jp"],
}


def _nodes(
    data: Any, schema: Mapping[str, Any], path: Path = ()
) -> Iterator[tuple[Path, Any, Mapping[str, Any]]]:
    yield path, data, schema
    if isinstance(data, dict):
        props = schema.get("properties", {})
        for key, value in data.items():
            if key in props:
                yield from _nodes(value, props[key], (*path, key))
    elif isinstance(data, list) and isinstance(schema.get("items"), Mapping):
        for i, value in enumerate(data):
            yield from _nodes(value, schema["items"], (*path, i))


def _with(data: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def _without(data: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node: Any = out
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return out


def _leaf_values(value: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    """Replacement values for one field: wrong ones, edge ones and every allowed choice."""
    kind = schema.get("type")
    fmt = schema.get("format")
    yield None  # an absent field, as normalisation reads it
    if kind == "string":
        yield 123
        yield from _BAD_STRINGS.get(str(fmt), [])
        if "pattern" in schema:
            yield from ("!!", "１２３４５６７８９０", "abc\n", "\ufeff")
        if "maxLength" in schema:
            yield "ア" * (int(schema["maxLength"]) + 1)
        if "minLength" in schema and int(schema["minLength"]) > 1:
            yield "ア" * (int(schema["minLength"]) - 1)
        for choice in schema.get("enum", []):
            yield choice
        if "enum" in schema:
            yield "選択肢にない値"
    elif kind == "integer":
        yield from ("abc", "１，２３４", True, 1.5, 10**20, Decimal(1))
        for bound in ("minimum", "maximum"):
            if bound in schema:
                yield int(schema[bound])
                yield int(schema[bound]) + (-1 if bound == "minimum" else 1)
    elif kind == "boolean":
        yield from (True, False, "maybe", 1)
    elif kind == "array":
        yield []
        yield "x"
        yield (*value,) if isinstance(value, list) else ()
        if isinstance(value, list) and value:
            yield [*value, value[0]]  # a duplicate
            if "maxItems" in schema:
                yield [copy.deepcopy(value[0]) for _ in range(int(schema["maxItems"]) + 1)]
        items = schema.get("items", {})
        for choice in items.get("enum", []):
            yield [choice]
    elif kind == "object":
        yield "x"
        yield []
        yield {}
    if fmt == "bank-account" and isinstance(value, dict):
        for sub, bad in (
            ("bank_code", "12"),
            ("branch_code", "1234"),
            ("account_type", "外貨"),
            ("account_number", "12345"),
            ("account_holder_kana", "山田太郎"),
            ("bank_code", 1234),
        ):
            yield {**value, sub: bad}
        for sub in value:
            yield {k: v for k, v in value.items() if k != sub}
    if "const" in schema:
        yield not schema["const"] if isinstance(schema["const"], bool) else "違う値"


def _mutations(form: Mapping[str, Any], valid: dict[str, Any]) -> list[dict[str, Any]]:
    unique = {repr(m): m for m in _all_mutations(form, valid)}
    return list(unique.values())


def _all_mutations(form: Mapping[str, Any], valid: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path, value, schema in list(_nodes(valid, form)):
        if isinstance(value, dict):
            yield _with(valid, (*path, "unexpected_field"), "x")
            for key in value:
                yield _without(valid, (*path, key))
        if path:
            for replacement in _leaf_values(value, schema):
                yield _with(valid, path, replacement)
    yield {**valid, "children": "surrogate \ud800"}
    non_string_key: dict[Any, Any] = dict(valid)
    non_string_key[1] = "non-string key"
    yield non_string_key


def _python_verdict(form: Mapping[str, Any], normalized: Any) -> bool | type[BaseException]:
    try:
        return bool(validator_for(form).is_valid(normalized))
    except Exception as exc:
        return type(exc)


def _json_like(value: Any) -> bool:
    """No tuple, Decimal, float, huge integer, non-string key or lone surrogate anywhere."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(k) and _json_like(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_like(v) for v in value)
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, bool) or value is None:
        return True
    return type(value) is int and abs(value) < 2**53


def _result(form: Mapping[str, Any], data: dict[str, Any], key: str, *, fast_path: bool) -> Any:
    try:
        return validate_form_data(form, data, today=TODAY, cache_key=key, fast_path=fast_path)
    except Exception as exc:
        return type(exc)


def _check_same(
    form: Mapping[str, Any], key: str, cases: list[dict[str, Any]], *, compare_all: bool = False
) -> tuple[int, int]:
    fast = fast_validator_for(form, key)
    assert fast is not None, "every procedure form is eligible for the fast path"
    accepted = rejected = 0
    for data in cases:
        normalized = normalize_application(dict(data), form)
        python = _python_verdict(form, normalized)
        verdict = fast.accepts(normalized)
        if python is True:
            # Plain JSON valid in Python must be valid in Rust too, or the fast path is no faster;
            # anything else may be left to the Python validator.
            if _json_like(normalized):
                assert verdict, data
        else:
            assert not verdict, (data, python)
        accepted += verdict
        rejected += not verdict
        if verdict or compare_all:
            # When the fast path declines, the Python path runs as before: comparing every such
            # case would only repeat the same code, so the sample mistakes stand for them.
            assert _result(form, data, key, fast_path=True) == _result(form, data, key, fast_path=False), data
    return accepted, rejected


@pytest.mark.parametrize("definition", ALL, ids=IDS)
def test_fast_path_agrees_with_the_python_validator(definition: ProcedureDefinition) -> None:
    samples = [
        sample_application(definition),
        sample_application(definition, wareki_dates=True),
        *(s.data for s in sample_invalid_applications(definition)),
    ]
    _check_same(definition.form, definition.content_hash, samples, compare_all=True)
    cases = _mutations(definition.form, samples[0])
    accepted, rejected = _check_same(definition.form, definition.content_hash, cases)
    # The corpus really has both kinds, so the agreement means something.
    assert accepted >= 2 and rejected >= 20, (accepted, rejected)


def test_sample_mistakes_keep_their_messages_with_the_fast_path() -> None:
    for definition in ALL:
        for sample in sample_invalid_applications(definition):
            result = validate_application(definition, sample.data, today=TODAY)
            assert [(e.pointer, e.message) for e in result.errors] == [(sample.pointer, sample.message)]


def test_valid_samples_are_accepted_by_the_fast_path_itself() -> None:
    for definition in ALL:
        fast = fast_validator_for(definition.form, definition.content_hash)
        assert fast is not None
        for wareki in (False, True):
            data = normalize_application(sample_application(definition, wareki_dates=wareki), definition.form)
            assert fast.accepts(data), definition.ref


def test_a_bad_bank_account_object_is_not_accepted_by_the_fast_path() -> None:
    claim = CATALOG.get("child_allowance_claim")
    data = sample_application(claim)
    data["payee"]["bank_account"]["account_number"] = "12345"
    fast = fast_validator_for(claim.form, claim.content_hash)
    assert fast is not None
    assert not fast.accepts(normalize_application(data, claim.form))
    result = validate_application(claim, data, today=TODAY)
    assert [(e.pointer, e.message) for e in result.errors] == [
        (
            "/payee/bank_account/account_number",
            "口座番号は7桁の数字で入力してください（7桁未満の場合は先頭に0を付けます）",
        )
    ]


def _tiny_form(field: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"f": {"title": "項目", **field}},
        "additionalProperties": False,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # Formats the project's checker does not define are not asserted in Python: nor in Rust.
        ({"type": "string", "format": "uri"}, "not a uri"),
        ({"type": "string", "format": "date-time"}, "yesterday"),
        ({"type": "string", "format": "ipv4"}, "999.1.1.1"),
        # The project's own date and email rules, not jsonschema_rs's.
        ({"type": "string", "format": "date"}, "2024-02-30"),
        ({"type": "string", "format": "date"}, "2024-2-3"),
        ({"type": "string", "format": "email"}, "taro@localhost"),
        ({"type": "string", "format": "email"}, "taro@example.jp"),
        # Python's re, not ECMA-262: \d and \w are Unicode-wide, \s is not \ufeff, $ allows a final \n.
        ({"type": "string", "pattern": "^\\d{4}$"}, "١٢٣٤"),
        ({"type": "string", "pattern": "^\\w+$"}, "é"),
        ({"type": "string", "pattern": "^\\s$"}, "\ufeff"),
        ({"type": "string", "pattern": "^\\S$"}, "\ufeff"),
        # A format on an object or a number is checked by the function in Python, whatever its type.
        ({"type": "object", "format": "bank-account", "properties": {}}, {}),
        ({"type": "integer", "format": "postal-code"}, 1000001),
        ({"type": "string", "format": "bank-account"}, "x"),
    ],
)
def test_format_and_pattern_semantics_follow_python(field: dict[str, Any], value: Any) -> None:
    form = _tiny_form(field)
    key = f"test-{field!r}-{value!r}"
    fast = fast_validator_for(form, key)
    assert fast is not None
    normalized = {"f": value}  # checked as is: normalisation is the same on both paths
    assert fast.accepts(normalized) == validator_for(form).is_valid(normalized)


def test_schemas_with_unmatched_keywords_use_the_python_validator_only() -> None:
    for field in (
        {"$ref": "#/$defs/x"},
        {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
        {"type": "object", "unevaluatedProperties": False},
        {"type": "string", "format": ["not", "a", "name"]},
    ):
        assert fast_validator_for(_tiny_form(field), f"unsupported-{field!r}") is None
    draft7 = {**_tiny_form({"type": "string"}), "$schema": "http://json-schema.org/draft-07/schema#"}
    assert fast_validator_for(draft7, "draft7") is None
    result = validate_form_data(draft7, {"f": 1}, today=TODAY, cache_key="draft7")
    assert [e.pointer for e in result.errors] == ["/f"]


def test_a_check_that_raises_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    # A format check that raises must not become "valid" in the fast path (here inside a `not`):
    # the Python validator raises, and so must the whole validation.
    def explode(instance: object) -> bool:
        raise ValueError("check failed to run")

    monkeypatch.setitem(FORMAT_CHECKER.checkers, "test-exploding", (explode, ()))
    form = _tiny_form({"type": "string", "not": {"format": "test-exploding"}})
    fast = fast_validator_for(form, "raising-check")
    assert fast is not None
    value = {"f": "x"}
    assert not fast.accepts(value)
    with pytest.raises(ValueError):
        validator_for(form).is_valid(value)


def test_non_ascii_digits_are_refused_by_both_paths() -> None:
    form = _tiny_form({"type": "string", "format": "individual-number"})
    fast = fast_validator_for(form, "arabic-digits")
    assert fast is not None
    value = {"f": "١٢٣٤٥٦٧٨٩٠١٨"}
    assert not fast.accepts(value)
    assert not validator_for(form).is_valid(value)


def test_tenant_extra_fields_take_the_fast_path_too() -> None:
    base = CATALOG.get("child_allowance_claim")
    override = TenantOverride(
        tenant_code="131016",
        procedure_id=base.id,
        revision=1,
        extra_fields={
            "work_postal_code": {
                "type": "string",
                "title": "保護者の勤務先郵便番号",
                "description": "区独自の確認項目です。",
                "format": "postal-code",
                "examples": ["100-0005"],
            },
            # Sub-fields without rules of their own: only the object's format checks them.
            "refund_account": {
                "type": "object",
                "title": "還付先口座",
                "description": "還付金の振込先です。",
                "format": "bank-account",
                "properties": {
                    name: {"type": "string", "title": title, "description": title, "examples": [example]}
                    for name, title, example in (
                        ("bank_code", "金融機関コード", "0001"),
                        ("branch_code", "支店コード", "021"),
                        ("account_type", "預金種目", "普通"),
                        ("account_number", "口座番号", "1234567"),
                        ("account_holder_kana", "口座名義（カナ）", "ﾔﾏﾀﾞ ﾀﾛｳ"),
                    )
                },
                "additionalProperties": False,
            },
        },
        extra_required=("work_postal_code", "refund_account"),
    )
    effective = effective_definition(base, "131016", override).definition
    valid = sample_application(effective)
    bad_account = _with(valid, ("x_tenant", "refund_account", "account_number"), "12345")
    assert [e.pointer for e in validate_application(effective, bad_account, today=TODAY).errors] == [
        "/x_tenant/refund_account/account_number"
    ]
    fast = fast_validator_for(effective.form, effective.content_hash)
    assert fast is not None
    assert not fast.accepts(normalize_application(bad_account, effective.form))
    cases = [
        valid,
        bad_account,
        _with(valid, ("x_tenant", "work_postal_code"), "12-345"),
        _without(valid, ("x_tenant",)),
        *_mutations(effective.form, valid),
    ]
    accepted, rejected = _check_same(effective.form, effective.content_hash, cases)
    assert accepted >= 1 and rejected >= 20
