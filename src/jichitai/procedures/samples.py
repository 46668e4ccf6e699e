"""Sample applications for any definition: one valid, and typical wrong ones.

Deterministic, for tests, demos and the portal's preview. Values come from each field's
``examples`` (realistic Japanese values written in the definition), falling back on a value per
format or type. Every property is filled, optional ones included, so every conditional clause of a
form is satisfied whichever way its condition goes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from jichitai.platform.wareki import format_wareki
from jichitai.procedures.model import ProcedureDefinition
from jichitai.procedures.validation import (
    AttachmentMeta,
    HasDefinition,
    Path,
    attachment_required,
    definition_of,
    format_message,
    pointer_of,
    required_message,
    schema_at,
)

_FORMAT_SAMPLES: Final[dict[str, str]] = {
    "postal-code": "102-0082",
    "phone-jp": "03-1234-5678",
    "katakana": "ヤマダ タロウ",
    "individual-number": "123456789018",
    "date": "2024-04-01",
    "account-holder-kana": "ﾔﾏﾀﾞ ﾀﾛｳ",
    "email": "taro.yamada@example.jp",
}


def sample_value(schema: Mapping[str, Any], *, wareki_dates: bool = False) -> Any:
    """A valid value for a field or section schema."""
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: sample_value(v, wareki_dates=wareki_dates) for k, v in props.items()}
    if kind == "array":
        items = schema.get("items", {})
        if "enum" in items:
            examples = schema.get("examples")
            return list(examples[0]) if examples else [items["enum"][0]]
        count = max(int(schema.get("minItems", 0)), 1)
        return [sample_value(items, wareki_dates=wareki_dates) for _ in range(count)]
    examples = schema.get("examples")
    value: Any
    if examples:
        value = copy.deepcopy(examples[0])
    elif "enum" in schema:
        value = schema["enum"][0]
    elif kind == "boolean":
        value = True
    elif kind == "integer":
        value = max(int(schema.get("minimum", 1)), 1)
    else:
        value = _FORMAT_SAMPLES.get(str(schema.get("format")), "サンプル")
    if (
        wareki_dates
        and schema.get("format") == "date"
        and schema.get("x-accept-wareki")
        and isinstance(value, str)
    ):
        value = format_wareki(date.fromisoformat(value))
    return value


def sample_application(
    definition: ProcedureDefinition | HasDefinition, *, wareki_dates: bool = False
) -> dict[str, Any]:
    """A complete, valid application for the definition (dates in 和暦 when ``wareki_dates``)."""
    value = sample_value(definition_of(definition).form, wareki_dates=wareki_dates)
    assert isinstance(value, dict)
    return value


def sample_attachments(
    definition: ProcedureDefinition | HasDefinition, data: Mapping[str, Any]
) -> list[AttachmentMeta]:
    """The files a valid submission of ``data`` needs (one small PDF or image per required kind)."""
    files: list[AttachmentMeta] = []
    for spec in definition_of(definition).attachments:
        count = max(spec.min_count, 1 if attachment_required(spec.required_when, data) else 0)
        extension = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}[spec.content_types[0]]
        files.extend(
            AttachmentMeta(spec.kind, f"{spec.kind}_{i + 1}.{extension}", spec.content_types[0], 120_000)
            for i in range(count)
        )
    return files


@dataclass(frozen=True)
class InvalidSample:
    """A wrong application and the message the resident must see, at the field it must be on."""

    case: str  # bad_postal_code, bad_individual_number, missing_required, bad_katakana, ...
    data: dict[str, Any]
    pointer: str
    message: str


def _leaves(
    data: Any, schema: Mapping[str, Any], path: Path = ()
) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    yield path, schema
    if isinstance(data, Mapping):
        props = schema.get("properties", {})
        for key, value in data.items():
            if key in props:
                yield from _leaves(value, props[key], (*path, key))
    elif (
        isinstance(data, list)
        and isinstance(schema.get("items"), Mapping)
        and schema["items"].get("type") == "object"
    ):
        for i, value in enumerate(data):
            yield from _leaves(value, schema["items"], (*path, i))


def _set(data: dict[str, Any], path: Path, value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _delete(data: dict[str, Any], path: Path) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]


def _first_required_leaf(schema: Mapping[str, Any], path: Path = ()) -> Path | None:
    for name in schema.get("required", []):
        sub = schema["properties"][name]
        if sub.get("type") == "object":
            deeper = _first_required_leaf(sub, (*path, name))
            if deeper is not None:
                return deeper
        else:
            return (*path, name)
    return None


def sample_invalid_applications(definition: ProcedureDefinition | HasDefinition) -> list[InvalidSample]:
    """Typical mistakes, each on the first field of its kind the form has."""
    form = definition_of(definition).form
    valid = sample_application(definition)
    leaves = list(_leaves(valid, form))
    out: list[InvalidSample] = []

    def first(fmt: str) -> tuple[Path, Mapping[str, Any]] | None:
        return next(((p, s) for p, s in leaves if s.get("format") == fmt), None)

    def mutate(case: str, path: Path, value: Any, message: str) -> None:
        data = copy.deepcopy(valid)
        _set(data, path, value)
        out.append(InvalidSample(case, data, pointer_of(path), message))

    def title(schema: Mapping[str, Any]) -> str:
        return str(schema.get("title", ""))

    if found := first("postal-code"):
        mutate(
            "bad_postal_code", found[0], "12-345", format_message("postal-code", title(found[1]), "12-345")
        )
    if found := first("individual-number"):
        good = str(_at(valid, found[0]))
        wrong = good[:11] + str((int(good[11]) + 1) % 10)
        mutate(
            "bad_individual_number",
            found[0],
            wrong,
            format_message("individual-number", title(found[1]), wrong),
        )
        mutate("short_individual_number", found[0], good[:10],
               format_message("individual-number", title(found[1]), good[:10]))  # fmt: skip
    if found := first("katakana"):
        mutate("bad_katakana", found[0], "やまだ たろう", format_message("katakana", title(found[1]), ""))
    if found := first("phone-jp"):
        mutate("bad_phone", found[0], "1234-5678", format_message("phone-jp", title(found[1]), ""))
    if found := next(
        ((p, s) for p, s in leaves if s.get("format") == "date" and s.get("x-accept-wareki")), None
    ):
        mutate("bad_date", found[0], "令和6年2月30日", format_message("date", title(found[1]), ""))
    if found := first("bank-account"):
        path = (*found[0], "account_number")
        mutate("bad_bank_account", path, "12345",
               "口座番号は7桁の数字で入力してください（7桁未満の場合は先頭に0を付けます）")  # fmt: skip
    required = _first_required_leaf(form)
    if required is not None:
        data = copy.deepcopy(valid)
        _delete(data, required)
        sub = schema_at(form, required)
        out.append(
            InvalidSample(
                "missing_required", data, pointer_of(required), required_message(sub, title(sub or {}))
            )
        )
    data = copy.deepcopy(valid)
    data["unexpected_field"] = "x"
    out.append(
        InvalidSample(
            "unknown_field",
            data,
            "/unexpected_field",
            "「unexpected_field」はこの手続では受け付けない項目です",
        )
    )
    return out


def _at(data: Any, path: Path) -> Any:
    for part in path:
        data = data[part]
    return data
