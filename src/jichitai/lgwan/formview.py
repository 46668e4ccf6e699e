"""The form as the resident saw it: labels from the definition version it was made with (pure).

Walks the form's JSON Schema in its own order and gives one :class:`FormLine` per answered field,
with section headings for objects and numbered items for lists (``児童1``). 個人番号 is masked on
screen: staff review the application, the core system receives the number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from jichitai.platform.wareki import format_wareki

MASKED_FORMATS = frozenset({"individual-number"})


@dataclass(frozen=True)
class FormLine:
    label: str
    value: str  # empty for a heading
    depth: int
    heading: bool = False


def _scalar(value: Any, schema: Mapping[str, Any]) -> str:
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if value is None:
        return ""
    text = str(value)
    fmt = schema.get("format")
    if fmt in MASKED_FORMATS and len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    if fmt == "date":
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return text
        return f"{format_wareki(day)}({day.isoformat()})"
    return text


def render_form(schema: Mapping[str, Any], data: Any) -> list[FormLine]:
    lines: list[FormLine] = []
    _walk(schema, data, 0, lines)
    return lines


def _walk(schema: Mapping[str, Any], data: Any, depth: int, lines: list[FormLine]) -> None:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not isinstance(data, Mapping):
        return
    for name, sub in props.items():
        if name not in data or not isinstance(sub, Mapping):
            continue
        _field(str(sub.get("title") or name), sub, data[name], depth, lines)
    for name in data:  # answers the definition does not know: shown, never hidden
        if name not in props:
            lines.append(FormLine(f"(定義にない項目) {name}", str(data[name]), depth))


def _field(title: str, schema: Mapping[str, Any], value: Any, depth: int, lines: list[FormLine]) -> None:
    if isinstance(value, Mapping):
        lines.append(FormLine(title, "", depth, heading=True))
        _walk(schema, value, depth + 1, lines)
    elif isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else {}
        assert isinstance(items, Mapping)
        template = str(schema.get("x-item-label") or items.get("title") or title)
        if not value:
            lines.append(FormLine(title, "なし", depth))
        for i, item in enumerate(value, start=1):
            label = template.replace("{n}", str(i)) if "{n}" in template else f"{template}{i}"
            if isinstance(item, Mapping):
                lines.append(FormLine(label, "", depth, heading=True))
                _walk(items, item, depth + 1, lines)
            else:
                lines.append(FormLine(label, _scalar(item, items), depth))
    else:
        lines.append(FormLine(title, _scalar(value, schema), depth))
