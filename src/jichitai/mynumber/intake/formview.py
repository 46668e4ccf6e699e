"""An application's form as rows of (label, value, depth), labelled from its procedure definition.

Screens show the form the way the resident saw it: each value under the field's title from the
definition's JSON schema, nested groups indented, lists numbered. Values without a schema entry
keep their key as the label. 個人番号 is masked except for the last four digits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FormRow:
    label: str
    value: str
    depth: int
    heading: bool = False


def _schema(procedure_id: str, version: str) -> Mapping[str, Any]:
    try:
        from jichitai.procedures.catalog import default_catalog

        definition = default_catalog().get(procedure_id, int(version) if version.isdigit() else None)
        return definition.form
    except Exception:
        return {}


def _text(value: Any, schema: Mapping[str, Any]) -> str:
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    text = str(value)
    if schema.get("format") == "individual-number" and len(text) >= 4:
        return "●" * (len(text) - 4) + text[-4:]
    return text


def _walk(data: Mapping[str, Any], schema: Mapping[str, Any], depth: int, out: list[FormRow]) -> None:
    props: Mapping[str, Any] = schema.get("properties", {}) if isinstance(schema, Mapping) else {}
    keys = [k for k in props if k in data] + [k for k in data if k not in props]
    for key in keys:
        value = data[key]
        sub = props.get(key, {})
        label = str(sub.get("title", key))
        if isinstance(value, Mapping):
            out.append(FormRow(label, "", depth, heading=True))
            _walk(value, sub, depth + 1, out)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            items = sub.get("items", {})
            for n, item in enumerate(value, start=1):
                out.append(FormRow(f"{label}（{n}）", "", depth, heading=True))
                _walk(item, items, depth + 1, out)
        else:
            out.append(FormRow(label, _text(value, sub), depth))


def form_rows(procedure_id: str, version: str, form: Mapping[str, Any]) -> list[FormRow]:
    out: list[FormRow] = []
    _walk(form, _schema(procedure_id, version), 0, out)
    return out
