"""The form of a procedure as the page shows it, built from its JSON Schema; pure, no I/O.

- :func:`build_form` turns the schema, what the resident typed and the per-field errors into a tree
  of :class:`Section` (objects, as fieldsets), :class:`Rows` (arrays of objects such as 児童, whose
  rows are added and removed by server round trips, so no JavaScript is needed) and :class:`Field`.
- :func:`parse_post` reads a posted form back into the nested data, following the schema (not
  the posted names, so nothing outside the schema gets in).
- :func:`add_row` / :func:`remove_row` change the number of rows of an array.
- :func:`summary_lines` lists what will be sent (review page, receipt), 個人番号 masked on request.

Input names are dotted paths (``claimant.postal_code``, ``children.0.name``); element ids are
``f-`` plus the path with hyphens (``f-children-0-name``), and :func:`field_id` gives the id for a
validation error's JSON pointer.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from jichitai.platform.wareki import format_wareki
from jichitai.platform.web.deps import posted_index

Path = tuple[str | int, ...]
Requirement = Literal["required", "conditional", "optional"]
ROWS_PREFIX = "__rows."
MASK = "●"


def input_name(path: Path) -> str:
    return ".".join(str(p) for p in path)


def element_id(path: Path) -> str:
    return "f-" + "-".join(str(p) for p in path) if path else "f-form"


def parse_pointer(pointer: str) -> Path:
    parts: list[str | int] = []
    for raw in pointer.split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        index = posted_index(part)
        parts.append(part if index is None else index)
    return tuple(parts)


@dataclass
class Field:
    """One input (or group of radio buttons / checkbox)."""

    path: Path
    title: str
    description: str
    help: str
    widget: Literal["text", "textarea", "radio", "select", "checkbox", "choices"]
    requirement: Requirement
    value: Any
    error: str | None = None
    options: tuple[str, ...] = ()
    example: str = ""
    inputmode: str | None = None
    autocomplete: str | None = None
    maxlength: int | None = None
    is_date: bool = False
    kind: Literal["field"] = "field"

    @property
    def name(self) -> str:
        return input_name(self.path)

    @property
    def id(self) -> str:
        return element_id(self.path)


@dataclass
class Section:
    """An object of the schema: a fieldset with a legend."""

    path: Path
    title: str
    description: str
    requirement: Requirement
    children: list[Field | Section | Rows] = field(default_factory=list)
    error: str | None = None
    heading_level: int = 2
    kind: Literal["section"] = "section"

    @property
    def id(self) -> str:
        return element_id(self.path)


@dataclass
class Rows:
    """An array of objects (児童1, 児童2, …) with add and remove buttons."""

    path: Path
    title: str
    description: str
    item_label: str
    requirement: Requirement
    rows: list[Section]
    min_items: int
    max_items: int
    error: str | None = None
    heading_level: int = 2
    kind: Literal["rows"] = "rows"

    @property
    def id(self) -> str:
        return element_id(self.path)

    @property
    def name(self) -> str:
        return input_name(self.path)

    @property
    def can_add(self) -> bool:
        return len(self.rows) < self.max_items

    @property
    def can_remove(self) -> bool:
        return len(self.rows) > self.min_items


Node = Field | Section | Rows

# autocomplete tokens (WCAG 1.3.5) for the claimant's own fields, by property name
_AUTOCOMPLETE = {"postal_code": "postal-code", "phone": "tel", "email": "email"}
_INPUTMODE_FORMATS = {"postal-code": "numeric", "phone-jp": "tel", "individual-number": "numeric"}


def _conditional_names(schema: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for clause in schema.get("allOf", []):
        for branch in ("then", "else"):
            part = clause.get(branch)
            if isinstance(part, Mapping):
                names.update(part.get("required", []))
    return names


def _requirement(name: str, parent: Mapping[str, Any]) -> Requirement:
    if name in parent.get("required", []):
        return "required"
    if name in _conditional_names(parent):
        return "conditional"
    return "optional"


def _item_label(schema: Mapping[str, Any], index: int) -> str:
    template = str(schema.get("x-item-label") or schema.get("items", {}).get("title") or "")
    n = index + 1
    return template.replace("{n}", str(n)) if "{n}" in template else f"{template}{n}"


def _leaf(
    path: Path, schema: Mapping[str, Any], value: Any, requirement: Requirement, errors: Mapping[Path, str]
) -> Field:
    kind = schema.get("type")
    fmt = schema.get("format")
    options: tuple[str, ...] = ()
    widget: Literal["text", "textarea", "radio", "select", "checkbox", "choices"] = "text"
    if kind == "boolean":
        widget = "checkbox"
    elif kind == "array":
        widget = "choices"
        options = tuple(str(o) for o in schema.get("items", {}).get("enum", []))
    elif "enum" in schema:
        options = tuple(str(o) for o in schema["enum"])
        wanted = schema.get("x-widget")
        widget = "select" if wanted == "select" or (wanted is None and len(options) > 6) else "radio"
    elif schema.get("x-widget") == "textarea":
        widget = "textarea"
    examples = schema.get("examples") or []
    example = str(examples[0]) if examples and kind == "string" and "enum" not in schema else ""
    inputmode = _INPUTMODE_FORMATS.get(str(fmt)) if fmt else None
    if kind == "integer":
        inputmode = "numeric"
    last = path[-1] if path else ""
    autocomplete = _AUTOCOMPLETE.get(str(last)) if len(path) == 2 and path[0] == "claimant" else None
    if fmt == "individual-number":
        autocomplete = "off"
    return Field(
        path=path,
        title=str(schema.get("title", last)),
        description=str(schema.get("description", "")),
        help=str(schema.get("x-help", "")),
        widget=widget,
        requirement=requirement,
        value=value,
        error=errors.get(path),
        options=options,
        example=example,
        inputmode=inputmode,
        autocomplete=autocomplete,
        maxlength=schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None,
        is_date=fmt == "date",
    )


def _node(
    path: Path,
    schema: Mapping[str, Any],
    value: Any,
    requirement: Requirement,
    errors: Mapping[Path, str],
    level: int,
) -> Node:
    kind = schema.get("type")
    if kind == "object":
        return _section(path, schema, value, requirement, errors, level)
    if kind == "array" and schema.get("items", {}).get("type") == "object":
        items = schema["items"]
        present = value if isinstance(value, list) else []
        min_items = int(schema.get("minItems", 0))
        count = len(present) if isinstance(value, list) else min_items
        rows = []
        for i in range(count):
            row = _section(
                (*path, i),
                items,
                present[i] if i < len(present) else {},
                "required",
                errors,
                min(level + 1, 4),
            )
            row.title = _item_label(schema, i)
            rows.append(row)
        return Rows(
            path=path,
            title=str(schema.get("title", "")),
            description=str(schema.get("description", "")),
            item_label=_item_label(schema, count).rstrip("0123456789") or str(schema.get("title", "")),
            requirement=requirement,
            rows=rows,
            min_items=min_items,
            max_items=int(schema.get("maxItems", 50)),
            error=errors.get(path),
            heading_level=level,
        )
    return _leaf(path, schema, value, requirement, errors)


def _section(
    path: Path,
    schema: Mapping[str, Any],
    value: Any,
    requirement: Requirement,
    errors: Mapping[Path, str],
    level: int,
) -> Section:
    data = value if isinstance(value, Mapping) else {}
    section = Section(
        path=path,
        title=str(schema.get("title", "")),
        description=str(schema.get("description", "")),
        requirement=requirement,
        error=errors.get(path),
        heading_level=level,
    )
    for name, sub in schema.get("properties", {}).items():
        section.children.append(
            _node((*path, name), sub, data.get(name), _requirement(name, schema), errors, min(level + 1, 4))
        )
    return section


def _known_path(schema: Mapping[str, Any], path: Path) -> Path:
    """The longest prefix of ``path`` that the page shows as an element (for error links)."""
    node: Mapping[str, Any] | None = schema
    known: Path = ()
    for part in path:
        if node is None:
            break
        if isinstance(part, int):
            items = node.get("items")
            node = items if isinstance(items, Mapping) else None
        else:
            props = node.get("properties")
            node = props.get(part) if isinstance(props, Mapping) else None
        if node is None:
            break
        known = (*known, part)
    return known


def errors_by_path(schema: Mapping[str, Any], pointers: Mapping[str, str]) -> dict[Path, str]:
    """Messages keyed by the path of the element that shows them (first message wins)."""
    found: dict[Path, str] = {}
    for pointer, message in pointers.items():
        path = _known_path(schema, parse_pointer(pointer))
        found.setdefault(path, message)
    return found


def field_id(schema: Mapping[str, Any], pointer: str) -> str:
    """The id of the element an error with this JSON pointer is shown next to."""
    parts = parse_pointer(pointer)
    if parts and parts[0] == "attachments":
        return "f-attachments-" + "-".join(str(p) for p in parts[1:2])
    return element_id(_known_path(schema, parts))


def build_form(schema: Mapping[str, Any], data: Mapping[str, Any], errors: Mapping[str, str]) -> Section:
    """The whole form; ``errors`` maps JSON pointers to Japanese messages."""
    return _section((), schema, data, "required", errors_by_path(schema, errors), 1)


# --- reading a post back --------------------------------------------------------------------------


class FormLike:
    """What :func:`parse_post` needs of a posted form (Starlette's FormData fits)."""

    def __init__(self, values: Mapping[str, str | Sequence[str]]) -> None:
        self._values = values

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        if isinstance(value, str) or value is None:
            return value
        return value[0] if value else None

    def getlist(self, name: str) -> list[str]:
        value = self._values.get(name)
        if value is None:
            return []
        return [value] if isinstance(value, str) else list(value)


Getter = Callable[[str], str | None]
ListGetter = Callable[[str], list[str]]

MAX_TEXT = 4000


def _read(schema: Mapping[str, Any], path: Path, get: Getter, getlist: ListGetter) -> Any:
    kind = schema.get("type")
    name = input_name(path)
    if kind == "object":
        out: dict[str, Any] = {}
        for key, sub in schema.get("properties", {}).items():
            value = _read(sub, (*path, key), get, getlist)
            if value is not None:
                out[key] = value
        return out
    if kind == "array":
        items = schema.get("items", {})
        if items.get("type") == "object":
            raw = get(ROWS_PREFIX + name) or "0"
            count = min(posted_index(raw) or 0, int(schema.get("maxItems", 50)))
            return [_read(items, (*path, i), get, getlist) for i in range(count)]
        allowed = [str(o) for o in items.get("enum", [])]
        return [v for v in getlist(name) if v in allowed]
    if kind == "boolean":
        # A checkbox posts nothing when unchecked: that is an answer (いいえ), not a missing one.
        return get(name) == "true"
    text = get(name)
    if text is None:
        return None
    text = text.replace("\r\n", "\n").strip()[:MAX_TEXT]
    return text or None


def _prune(value: Any) -> Any:
    """Objects left with nothing typed in them are absent (an optional 振込先口座 left blank)."""
    if isinstance(value, dict):
        out = {k: p for k, v in value.items() if (p := _prune(v)) is not None}
        return out or None
    if isinstance(value, list):
        return [(_prune(v) if not isinstance(v, dict) else (_prune(v) or {})) for v in value]
    return value


def parse_post(schema: Mapping[str, Any], form: Any) -> dict[str, Any]:
    """The nested form data from a posted form (``form`` has ``get`` and ``getlist``).

    Only text values are read: a field posted as a file part (a crafted multipart post) is absent.
    """

    def get(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    def getlist(name: str) -> list[str]:
        return [v for v in form.getlist(name) if isinstance(v, str)]

    raw = _read(schema, (), get, getlist)
    pruned = _prune(raw)
    return pruned if isinstance(pruned, dict) else {}


def to_post(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields a browser would post for ``data`` (the inverse of :func:`parse_post`)."""
    out: list[tuple[str, str]] = []

    def walk(sub: Mapping[str, Any], value: Any, path: Path) -> None:
        kind = sub.get("type")
        name = input_name(path)
        if kind == "object":
            for key, prop in sub.get("properties", {}).items():
                walk(prop, value.get(key) if isinstance(value, Mapping) else None, (*path, key))
        elif kind == "array" and sub.get("items", {}).get("type") == "object":
            rows = value if isinstance(value, list) else []
            out.append((ROWS_PREFIX + name, str(len(rows))))
            for i, row in enumerate(rows):
                walk(sub["items"], row, (*path, i))
        elif kind == "array":
            out.extend((name, str(v)) for v in (value or []))
        elif kind == "boolean":
            if value is True:
                out.append((name, "true"))
        elif value is not None:
            out.append((name, str(value)))

    walk(schema, data, ())
    return out


# --- rows -----------------------------------------------------------------------------------------


def _schema_at(schema: Mapping[str, Any], path: Path) -> Mapping[str, Any] | None:
    node: Mapping[str, Any] | None = schema
    for part in path:
        if node is None:
            return None
        node = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
    return node


def _container(data: dict[str, Any], path: Path, create: bool) -> Any:
    node: Any = data
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return None
            node = node[part]
        else:
            if not isinstance(node, dict):
                return None
            if part not in node:
                if not create:
                    return None
                node[part] = {}
            node = node[part]
    return node


def add_row(schema: Mapping[str, Any], data: dict[str, Any], path: Path) -> tuple[dict[str, Any], int | None]:
    """A copy of ``data`` with one more (empty) row in the array at ``path``; and the new row's index."""
    sub = _schema_at(schema, path)
    if sub is None or sub.get("type") != "array" or not path:
        return data, None
    out = copy.deepcopy(data)
    parent = _container(out, path[:-1], create=True)
    if not isinstance(parent, dict):
        return data, None
    rows = parent.get(path[-1])
    if not isinstance(rows, list):
        rows = [{} for _ in range(int(sub.get("minItems", 0)))]
    if len(rows) >= int(sub.get("maxItems", 50)):
        return data, None
    rows.append({})
    parent[path[-1]] = rows
    return out, len(rows) - 1


def remove_row(schema: Mapping[str, Any], data: dict[str, Any], path: Path) -> dict[str, Any]:
    """A copy of ``data`` without the row at ``path`` (``children.1``); never below minItems."""
    if len(path) < 2 or not isinstance(path[-1], int):
        return data
    sub = _schema_at(schema, path[:-1])
    out = copy.deepcopy(data)
    rows = _container(out, path[:-1], create=False)
    if sub is None or not isinstance(rows, list) or path[-1] >= len(rows):
        return data
    if len(rows) <= int(sub.get("minItems", 0)):
        return data
    del rows[path[-1]]
    return out


# --- what is sent, in words -----------------------------------------------------------------------


def mask_individual_number(value: str) -> str:
    """``123456789018`` → ``●●●●●●●●9018``: the receipt never prints a 個人番号 in full."""
    digits = "".join(c for c in value if c.isdigit())
    return MASK * max(len(digits) - 4, 0) + digits[-4:]


def display_value(schema: Mapping[str, Any], value: Any, *, mask: bool) -> str:
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list):
        return "、".join(str(v) for v in value) or "（なし）"
    text = str(value)
    fmt = schema.get("format")
    if fmt == "individual-number" and mask:
        return mask_individual_number(text)
    if fmt == "date":
        try:
            return f"{text}（{format_wareki(date.fromisoformat(text))}）"
        except ValueError:
            return text
    return text


@dataclass(frozen=True)
class SummaryGroup:
    title: str
    lines: tuple[tuple[str, str], ...]


def summary_groups(schema: Mapping[str, Any], data: Mapping[str, Any], *, mask: bool) -> list[SummaryGroup]:
    """What was entered, grouped by section (and by row), in form order; absent fields skipped."""
    groups: list[SummaryGroup] = []
    top: list[tuple[str, str]] = []

    def walk(sub: Mapping[str, Any], value: Any, title: str, lines: list[tuple[str, str]]) -> None:
        for key, prop in sub.get("properties", {}).items():
            if not isinstance(value, Mapping) or key not in value:
                continue
            item = value[key]
            kind = prop.get("type")
            if kind == "object":
                inner: list[tuple[str, str]] = []
                walk(prop, item, str(prop.get("title", key)), inner)
                if inner:
                    groups.append(SummaryGroup(f"{title} > {prop.get('title', key)}", tuple(inner)))
            elif kind == "array" and prop.get("items", {}).get("type") == "object":
                for i, row in enumerate(item if isinstance(item, list) else []):
                    inner = []
                    walk(prop["items"], row, "", inner)
                    groups.append(SummaryGroup(_item_label(prop, i), tuple(inner)))
            else:
                lines.append((str(prop.get("title", key)), display_value(prop, item, mask=mask)))

    for key, prop in schema.get("properties", {}).items():
        if key not in data:
            continue
        kind = prop.get("type")
        if kind == "object":
            lines: list[tuple[str, str]] = []
            start = len(groups)
            walk(prop, data[key], str(prop.get("title", key)), lines)
            groups.insert(start, SummaryGroup(str(prop.get("title", key)), tuple(lines)))
        elif kind == "array" and prop.get("items", {}).get("type") == "object":
            for i, row in enumerate(data[key] if isinstance(data[key], list) else []):
                row_lines: list[tuple[str, str]] = []
                walk(prop["items"], row, "", row_lines)
                groups.append(SummaryGroup(_item_label(prop, i), tuple(row_lines)))
        else:
            top.append((str(prop.get("title", key)), display_value(prop, data[key], mask=mask)))
    if top:
        groups.append(SummaryGroup("確認事項", tuple(top)))
    return [g for g in groups if g.lines]


__all__ = [
    "ROWS_PREFIX",
    "Field",
    "FormLike",
    "Node",
    "Rows",
    "Section",
    "SummaryGroup",
    "add_row",
    "build_form",
    "display_value",
    "element_id",
    "errors_by_path",
    "field_id",
    "input_name",
    "mask_individual_number",
    "parse_pointer",
    "parse_post",
    "remove_row",
    "summary_groups",
    "to_post",
]
