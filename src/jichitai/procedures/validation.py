"""Checking an application against its procedure definition, with one Japanese message per field.

:func:`validate_application` normalises what the resident typed (widths, hyphens, 和暦 dates to
ISO, empty inputs to absent), checks it with ``jsonschema`` and the custom formats, and returns
the normalised data with at most one :class:`FieldError` per field, keyed by JSON pointer
(``/claimant/postal_code``) and ordered as the fields appear on the form, so the portal can put
each message next to its field and list them all in a summary at the top.

:func:`lint_form_schema` is the other side: it checks a form schema itself (titles, formats,
examples, conditional clauses), for definitions and for tenants' extra fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Protocol, TypeVar

from jsonschema import Draft202012Validator
from jsonschema import ValidationError as SchemaViolation
from jsonschema.exceptions import SchemaError

from jichitai.platform import identifiers as ids
from jichitai.procedures.fast_validation import FastFormValidator, compile_fast, fast_validator_for
from jichitai.procedures.formats import FORMAT_CHECKER, KNOWN_FORMATS, coerce_scalar, string_normalizer
from jichitai.procedures.model import ProcedureDefinition

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldError:
    """One problem with one field, in words a resident understands."""

    pointer: str  # JSON pointer into the form data: /children/0/birth_date
    label: str  # where the field is on the form: 児童1 > 児童の生年月日
    message: str  # what to do: 児童の生年月日は正しい日付で入力してください
    keyword: str  # the rule that failed (required, format, pattern, ...), for tests and logs

    @property
    def summary_line(self) -> str:
        return f"{self.label}：{self.message}"


@dataclass(frozen=True)
class ValidationResult:
    data: dict[str, Any]  # the normalised application (what is stored and signed when ok)
    errors: tuple[FieldError, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_pointer(self) -> dict[str, FieldError]:
        return {e.pointer: e for e in self.errors}

    def message_for(self, pointer: str) -> str | None:
        found = self.by_pointer().get(pointer)
        return found.message if found else None

    def summary(self) -> list[str]:
        return [e.summary_line for e in self.errors]


@dataclass(frozen=True)
class AttachmentMeta:
    """What the portal knows of an uploaded file before it is stored."""

    kind: str
    filename: str
    content_type: str
    size: int


def pointer_of(path: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


# --- schema walking -------------------------------------------------------------------------------


def schema_at(root: Mapping[str, Any], path: Sequence[str | int]) -> Mapping[str, Any] | None:
    """The field schema at ``path`` (through ``properties`` and ``items``), or None."""
    node: Mapping[str, Any] = root
    for part in path:
        if isinstance(part, int):
            items = node.get("items")
            if not isinstance(items, Mapping):
                return None
            node = items
        else:
            props = node.get("properties")
            if not isinstance(props, Mapping) or part not in props:
                return None
            node = props[part]
    return node


def _title(schema: Mapping[str, Any] | None, fallback: str) -> str:
    if schema is not None and isinstance(schema.get("title"), str):
        return str(schema["title"])
    return fallback


def label_of(root: Mapping[str, Any], path: Sequence[str | int]) -> str:
    """``児童1 > 児童の氏名`` for ``/children/0/name``: the field's place on the form in titles."""
    parts: list[str] = []
    node: Mapping[str, Any] | None = root
    for part in path:
        if node is None:
            parts.append(str(part))
            continue
        if isinstance(part, int):
            template = node.get("x-item-label") or node.get("title") or ""
            n = part + 1
            item_label = template.replace("{n}", str(n)) if "{n}" in template else f"{template}{n}"
            if parts:
                parts[-1] = item_label
            else:
                parts.append(item_label)
            items = node.get("items")
            node = items if isinstance(items, Mapping) else None
        else:
            props = node.get("properties")
            child = props.get(part) if isinstance(props, Mapping) else None
            parts.append(_title(child, part))
            node = child
    return " > ".join(parts)


def _order_key(root: Mapping[str, Any], path: Sequence[str | int]) -> tuple[int, ...]:
    key: list[int] = []
    node: Mapping[str, Any] | None = root
    for part in path:
        if node is None:
            key.append(10_000)
            continue
        if isinstance(part, int):
            key.append(part)
            items = node.get("items")
            node = items if isinstance(items, Mapping) else None
        else:
            props = node.get("properties")
            names = list(props) if isinstance(props, Mapping) else []
            key.append(names.index(part) if part in names else 10_000)
            node = props.get(part) if isinstance(props, Mapping) else None
    return tuple(key)


# --- normalisation --------------------------------------------------------------------------------


def _merged_properties(schema: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    props: dict[str, Mapping[str, Any]] = {}
    raw = schema.get("properties")
    if isinstance(raw, Mapping):
        props.update(raw)
    return props


def normalize_application(data: Any, schema: Mapping[str, Any]) -> Any:
    """A normalised copy of ``data`` following ``schema`` (see the module docstring)."""
    if type(data) is str:  # most nodes: spare them the slower Mapping (ABC) check below
        return _normalize_text(data, schema)
    if isinstance(data, Mapping):
        raw = schema.get("properties")
        props: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if type(value) is str:  # most fields: normalised here, without a call per field
                if value.strip():
                    sub = props.get(key)
                    out[key] = _normalize_text(value, sub) if sub is not None else value
                continue
            if value is None or (isinstance(value, str) and not value.strip()):
                continue  # an empty input is an absent one: ``required`` then says 入力してください
            sub = props.get(key)
            out[key] = normalize_application(value, sub) if sub is not None else value
        return out
    if isinstance(data, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            return [normalize_application(v, items) for v in data]
        return list(data)
    if isinstance(data, str):
        return _normalize_text(data, schema)
    return data


def _normalize_text(data: str, schema: Mapping[str, Any]) -> Any:
    return _by_identity(_TEXT_NORMALIZERS, schema, _text_normalizer)(data)


_T = TypeVar("_T")


def _by_identity(
    cache: dict[int, tuple[Mapping[str, Any], _T]],
    key: Mapping[str, Any],
    make: Callable[[Mapping[str, Any]], _T],
) -> _T:
    """``make(key)``, kept in ``cache`` by the identity of ``key`` (a part of a definition's schema;
    definitions live as long as the catalog that loaded them). The entry holds ``key`` itself, so
    its id is not reused while the entry stands; the cache is emptied past 4,096 entries."""
    hit = cache.get(id(key))
    if hit is None or hit[0] is not key:
        if len(cache) > 4096:
            cache.clear()
        hit = (key, make(key))
        cache[id(key)] = hit
    return hit[1]


# A field schema's text normaliser, compiled once (its keywords read, its pattern compiled):
# validate_application of the child allowance claim went from about 101 to 91 µs.
_TEXT_NORMALIZERS: dict[int, tuple[Mapping[str, Any], Callable[[str], Any]]] = {}


def _text_normalizer(schema: Mapping[str, Any]) -> Callable[[str], Any]:
    """``coerce_scalar`` then :func:`string_normalizer`'s normaliser, for text typed into the field
    ``schema``."""
    to_text = string_normalizer(schema)
    if schema.get("type") not in ("integer", "boolean"):
        return to_text  # coerce_scalar leaves text for any other type as it is

    def coerced(data: str) -> Any:
        value = coerce_scalar(data, schema)
        return to_text(value) if isinstance(value, str) else value

    return coerced


def _future_dates(data: Any, schema: Mapping[str, Any], today: date, path: Path) -> Iterator[Path]:
    if isinstance(data, Mapping):
        props = _merged_properties(schema)
        for key, value in data.items():
            if key in props:
                yield from _future_dates(value, props[key], today, (*path, key))
    elif isinstance(data, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, value in enumerate(data):
                yield from _future_dates(value, items, today, (*path, i))
    elif isinstance(data, str) and schema.get("x-not-future") and schema.get("format") == "date":
        try:
            if date.fromisoformat(data) > today:
                yield path
        except ValueError:
            return


def _not_future_skeleton(schema: Any) -> Any:
    """The parts of ``schema`` that :func:`_future_dates` follows and can yield in, or None.

    Walking this instead of the whole form skips the subtrees without an ``x-not-future`` date;
    the paths found, and their order, are the same. Property schemas that are not mappings are
    kept as they are, so that anything the full walk would raise on it still raises on.
    """
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    if schema.get("x-not-future") and schema.get("format") == "date":
        out["x-not-future"] = schema["x-not-future"]
        out["format"] = "date"
    props = schema.get("properties")
    if isinstance(props, Mapping):
        kept = {}
        for key, sub in props.items():
            skeleton = _not_future_skeleton(sub)
            if skeleton is not None:
                kept[key] = skeleton
        if kept:
            out["properties"] = kept
    items = schema.get("items")
    if isinstance(items, Mapping):
        skeleton = _not_future_skeleton(items)
        if skeleton is not None:
            out["items"] = skeleton
    return out or None


_NOT_FUTURE: dict[str, Mapping[str, Any] | None] = {}


def _not_future_schema(form: Mapping[str, Any], cache_key: str) -> Mapping[str, Any] | None:
    try:
        return _NOT_FUTURE[cache_key]
    except KeyError:
        skeleton: Mapping[str, Any] | None = _not_future_skeleton(form)
        _NOT_FUTURE[cache_key] = skeleton
        return skeleton


# --- messages -------------------------------------------------------------------------------------

# When several rules fail on one field, the first in this order speaks for it.
_PRIORITY: Final = (
    "required", "type", "minLength", "format", "pattern", "enum", "const", "x-not-future",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "maxLength",
    "minItems", "maxItems", "uniqueItems", "additionalProperties",
)  # fmt: skip


def _custom(schema: Mapping[str, Any] | None, keyword: str) -> str | None:
    if schema is None:
        return None
    messages = schema.get("x-error-messages")
    if isinstance(messages, Mapping) and isinstance(messages.get(keyword), str):
        return str(messages[keyword])
    return None


def _is_choice(schema: Mapping[str, Any] | None) -> bool:
    if schema is None:
        return False
    if "enum" in schema or schema.get("type") == "boolean":
        return True
    items = schema.get("items")
    return schema.get("type") == "array" and isinstance(items, Mapping) and "enum" in items


def required_message(schema: Mapping[str, Any] | None, title: str) -> str:
    custom = _custom(schema, "required") or _custom(schema, "const")
    if custom:
        return custom
    if schema is not None and schema.get("const") is True:
        return f"{title}にチェックを入れてください"
    if _is_choice(schema):
        return f"{title}を選択してください"
    if schema is not None and schema.get("type") == "array":
        return f"{title}を1件以上入力してください"
    return f"{title}を入力してください"


def format_message(fmt: str, title: str, instance: object) -> str:
    if fmt == "postal-code":
        return f"{title}は7桁の数字で入力してください"
    if fmt == "phone-jp":
        return f"{title}は0から始まる10桁または11桁の数字で入力してください（ハイフンは省略できます）"
    if fmt == "katakana":
        return f"{title}は全角カタカナで入力してください"
    if fmt == "individual-number":
        if isinstance(instance, str) and ids.individual_number_has_twelve_digits(instance):
            return f"{title}が正しくありません。番号に誤りがないか、マイナンバーカードでご確認ください"
        return f"{title}は12桁の数字で入力してください"
    if fmt == "date":
        return f"{title}は正しい日付で入力してください（例：2024-04-01 または 令和6年4月1日）"
    if fmt == "account-holder-kana":
        return f"{title}はカタカナで入力してください"
    if fmt == "email":
        return f"{title}の形式が正しくありません（例：taro@example.jp）"
    return f"{title}の形式が正しくありません"


def _unit(schema: Mapping[str, Any]) -> str:
    unit = schema.get("x-unit")
    return unit if isinstance(unit, str) else ""


def _message(keyword: str, err: SchemaViolation, schema: Mapping[str, Any] | None, title: str) -> str:
    custom = _custom(schema, keyword) or _custom(
        err.schema if isinstance(err.schema, Mapping) else None, keyword
    )
    if custom:
        return custom
    value = err.validator_value
    s: Mapping[str, Any] = schema or {}
    if keyword == "type":
        if value == "integer":
            return f"{title}は半角数字（整数）で入力してください"
        if value == "boolean":
            return f"{title}を選択してください"
        return f"{title}の形式が正しくありません"
    if keyword == "minLength":
        return f"{title}を入力してください" if value == 1 else f"{title}は{value}文字以上で入力してください"
    if keyword == "maxLength":
        return f"{title}は{value}文字以内で入力してください"
    if keyword == "format":
        return format_message(str(value), title, err.instance)
    if keyword == "pattern":
        return f"{title}の形式が正しくありません"
    if keyword == "enum":
        return f"{title}は選択肢から選んでください"
    if keyword == "const":
        return f"{title}にチェックを入れてください" if value is True else f"{title}の値が正しくありません"
    if keyword in ("minimum", "exclusiveMinimum"):
        edge = "以上" if keyword == "minimum" else "より大きい値"
        return f"{title}は{value:,}{_unit(s)}{edge}で入力してください"
    if keyword in ("maximum", "exclusiveMaximum"):
        edge = "以下" if keyword == "maximum" else "より小さい値"
        return f"{title}は{value:,}{_unit(s)}{edge}で入力してください"
    if keyword == "minItems":
        return f"{title}を{value}件以上入力してください"
    if keyword == "maxItems":
        return f"{title}は{value}件まで入力できます"
    if keyword == "uniqueItems":
        return f"{title}に同じものが重複しています"
    return f"{title}の入力内容が正しくありません"


def _explain(err: SchemaViolation, root: Mapping[str, Any]) -> Iterator[tuple[Path, str, str]]:
    """(path, keyword, message) for one jsonschema error; some errors name several fields."""
    path: Path = tuple(err.absolute_path)
    keyword = str(err.validator)
    if keyword == "required":
        instance = err.instance if isinstance(err.instance, Mapping) else {}
        names: list[str] = list(err.validator_value) if isinstance(err.validator_value, list) else []
        for prop in names:
            if prop not in instance:
                sub = schema_at(root, (*path, prop))
                yield (*path, prop), "required", required_message(sub, _title(sub, prop))
        return
    if keyword == "additionalProperties" and isinstance(err.instance, Mapping):
        known = err.schema.get("properties", {}) if isinstance(err.schema, Mapping) else {}
        for key in err.instance:
            if key not in known:
                yield (*path, key), keyword, f"「{key}」はこの手続では受け付けない項目です"
        return
    if keyword == "format" and err.validator_value == "bank-account" and isinstance(err.instance, Mapping):
        account = schema_at(root, path)
        for sub_key, message in ids.bank_account_problems(err.instance).items():
            sub = schema_at(account or {}, (sub_key,))
            # The same words as the sub-field's own check would use, whichever jsonschema reports first.
            own_format = sub.get("format") if sub is not None else None
            if isinstance(own_format, str):
                message = format_message(own_format, _title(sub, sub_key), err.instance.get(sub_key))
            yield (*path, sub_key), "format", _custom(sub, "pattern") or message
        return
    schema = schema_at(root, path)
    last = path[-1] if path else "form"
    yield path, keyword, _message(keyword, err, schema, _title(schema, str(last)))


def _rank(keyword: str) -> int:
    return _PRIORITY.index(keyword) if keyword in _PRIORITY else len(_PRIORITY)


# --- validators -----------------------------------------------------------------------------------

_VALIDATORS: dict[str, Draft202012Validator] = {}


def validator_for(form: Mapping[str, Any], cache_key: str | None = None) -> Draft202012Validator:
    """A validator for a form schema, cached by ``cache_key`` (a content hash) when given."""
    if cache_key is not None and cache_key in _VALIDATORS:
        return _VALIDATORS[cache_key]
    validator = Draft202012Validator(form, format_checker=FORMAT_CHECKER)
    if cache_key is not None:
        _VALIDATORS[cache_key] = validator
    return validator


class HasDefinition(Protocol):
    """Anything that carries a definition to validate against (an EffectiveDefinition)."""

    @property
    def definition(self) -> ProcedureDefinition: ...


def definition_of(defn: ProcedureDefinition | HasDefinition) -> ProcedureDefinition:
    return defn if isinstance(defn, ProcedureDefinition) else defn.definition


def validate_form_data(
    form: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    today: date | None = None,
    cache_key: str | None = None,
    fast_path: bool = True,
) -> ValidationResult:
    """Normalise and check ``data`` against a form schema.

    With a ``cache_key`` (and ``fast_path``), ``jsonschema_rs`` first checks whether the data is
    certainly valid (see :mod:`jichitai.procedures.fast_validation`); only when it is not does the
    Python validator run, to find and word the errors. The result is the same either way.
    """
    normalized = normalize_application(dict(data), form)
    found: dict[Path, tuple[int, str, str]] = {}

    def keep(path: Path, keyword: str, message: str) -> None:
        rank = _rank(keyword)
        if path not in found or rank < found[path][0]:
            found[path] = (rank, keyword, message)

    fast = fast_validator_for(form, cache_key) if fast_path and cache_key is not None else None
    if fast is None or not fast.accepts(normalized):
        for err in validator_for(form, cache_key).iter_errors(normalized):
            for path, keyword, message in _explain(err, form):
                keep(path, keyword, message)
    dated: Mapping[str, Any] | None = form
    if fast_path and cache_key is not None:
        dated = _not_future_schema(form, cache_key)
    future = _future_dates(normalized, dated, today or date.today(), ()) if dated is not None else ()
    for path in future:
        sub = schema_at(form, path)
        keep(
            path,
            "x-not-future",
            _custom(sub, "x-not-future") or f"{_title(sub, str(path[-1]))}に未来の日付は入力できません",
        )
    # A missing or malformed object already has its own message; messages about the parts of a
    # field that has one are noise beside it.
    paths = sorted(found, key=len)
    for path in paths:
        if path in found and any(path[: len(p)] == p and p != path for p in found):
            del found[path]
    errors = tuple(
        FieldError(pointer_of(path), label_of(form, path), message, keyword)
        for path, (_, keyword, message) in sorted(found.items(), key=lambda kv: _order_key(form, kv[0]))
    )
    return ValidationResult(normalized, errors)


def validate_application(
    definition: ProcedureDefinition | HasDefinition, data: Mapping[str, Any], *, today: date | None = None
) -> ValidationResult:
    """Normalise and check an application's form data against its (effective) definition."""
    defn = definition_of(definition)
    return validate_form_data(defn.form, data, today=today, cache_key=defn.content_hash)


# Conditions of attachments, compiled for the fast path (see fast_validation.FastFormValidator
# .decides): a few µs where building and running a Python validator cost about 60 µs per
# condition, on every submission. Keyed by the condition object (definitions live as long as the
# catalog that loaded them).
_CONDITIONS: dict[int, tuple[Mapping[str, Any], FastFormValidator | None]] = {}


def attachment_required(spec_required_when: Mapping[str, Any] | None, data: Mapping[str, Any]) -> bool:
    """Whether the answers in ``data`` (normalised form data) make the attachment required:
    ``data`` is valid against the ``required_when`` condition of its definition."""
    if spec_required_when is None:
        return False
    fast = _by_identity(_CONDITIONS, spec_required_when, compile_fast)
    verdict = fast.decides(data) if fast is not None else None
    if verdict is None:
        verdict = bool(validator_for(spec_required_when).is_valid(data))
    return verdict


def validate_attachments(
    definition: ProcedureDefinition | HasDefinition,
    data: Mapping[str, Any],
    attachments: Sequence[AttachmentMeta],
) -> tuple[FieldError, ...]:
    """Kinds, counts, sizes and content types of the files of an application.

    ``data`` is the normalised form data: some attachments are required only for some answers
    (別居監護申立書 when a child lives apart). Errors use the pointer ``/attachments/<kind>``.
    """
    defn = definition_of(definition)
    errors: list[FieldError] = []
    by_kind: dict[str, list[AttachmentMeta]] = {}
    for a in attachments:
        by_kind.setdefault(a.kind, []).append(a)
    for kind in by_kind:
        if defn.attachment(kind) is None:
            errors.append(
                FieldError(
                    f"/attachments/{kind}",
                    "添付書類",
                    f"この手続では「{kind}」の添付は受け付けていません",
                    "kind",
                )
            )
    for spec in defn.attachments:
        files = by_kind.get(spec.kind, [])
        pointer = f"/attachments/{spec.kind}"
        minimum = max(spec.min_count, 1 if attachment_required(spec.required_when, data) else 0)
        problem: tuple[str, str] | None = None
        if len(files) < minimum:
            problem = ("min_count", f"{spec.name}を添付してください")
        elif len(files) > spec.max_count:
            problem = ("max_count", f"{spec.name}は{spec.max_count}件まで添付できます")
        else:
            for f in files:
                if f.content_type not in spec.content_types:
                    kinds = "・".join(_CONTENT_TYPE_LABELS.get(t, t) for t in spec.content_types)
                    problem = (
                        "content_type",
                        f"{spec.name}（{f.filename}）は{kinds}の形式で添付してください",
                    )
                    break
                if f.size > spec.max_size_bytes:
                    problem = (
                        "max_size",
                        f"{spec.name}（{f.filename}）は{_mib(spec.max_size_bytes)}MB以下にしてください",
                    )
                    break
                if f.size <= 0:
                    problem = ("empty", f"{spec.name}（{f.filename}）が空のファイルです")
                    break
        if problem:
            errors.append(FieldError(pointer, spec.name, problem[1], problem[0]))
    return tuple(errors)


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


_CONTENT_TYPE_LABELS: Final = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}


# --- linting form schemas -------------------------------------------------------------------------

_MESSAGE_KEYWORDS: Final = frozenset(_PRIORITY) | {"x-not-future"}
_LEAF_TYPES: Final = frozenset({"string", "integer", "boolean"})


def lint_form_schema(form: Mapping[str, Any], *, where: str = "form") -> list[str]:
    """Problems of a form schema, in English for whoever maintains the definition; [] when fine."""
    problems: list[str] = []
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        return [f"{where}: not a valid JSON Schema: {exc.message}"]
    _lint_node(form, where, problems, top=True)
    return problems


def _lint_node(node: Mapping[str, Any], where: str, problems: list[str], *, top: bool = False) -> None:
    if "$ref" in node or "$defs" in node:
        problems.append(f"{where}: $ref/$defs are not used in forms; write the field out")
    if not top:
        for key in ("title", "description"):
            if not isinstance(node.get(key), str) or not node.get(key):
                problems.append(f"{where}: needs a Japanese {key}")
    fmt = node.get("format")
    if fmt is not None and fmt not in KNOWN_FORMATS:
        problems.append(f"{where}: unknown format {fmt!r}")
    if node.get("type") == "number":
        problems.append(f"{where}: use integer, not number (canonical form bytes refuse floats)")
    messages = node.get("x-error-messages")
    if messages is not None and (not isinstance(messages, Mapping) or set(messages) - _MESSAGE_KEYWORDS):
        problems.append(f"{where}: x-error-messages may only name keywords {sorted(_MESSAGE_KEYWORDS)}")
    kind = node.get("type")
    if kind == "object":
        props = node.get("properties")
        if not isinstance(props, Mapping) or not props:
            problems.append(f"{where}: an object needs properties")
            return
        if node.get("additionalProperties") is not False:
            problems.append(f"{where}: objects must set additionalProperties: false")
        for name in node.get("required", []):
            if name not in props:
                problems.append(f"{where}: required {name!r} is not a property")
        for i, clause in enumerate(node.get("allOf", [])):
            _lint_conditional(clause, props, f"{where}.allOf[{i}]", problems)
        for name, sub in props.items():
            _lint_node(sub, f"{where}.{name}", problems)
    elif kind == "array":
        items = node.get("items")
        if not isinstance(items, Mapping):
            problems.append(f"{where}: an array needs an items schema")
            return
        if items.get("type") == "object":
            _lint_node(items, f"{where}[]", problems)
        elif "enum" not in items:
            problems.append(f"{where}: arrays hold objects or enum choices")
        _lint_example(node, where, problems)
    elif kind in _LEAF_TYPES:
        _lint_example(node, where, problems)
    else:
        problems.append(f"{where}: type must be one of object, array, string, integer, boolean")


def _lint_conditional(
    clause: Mapping[str, Any], props: Mapping[str, Any], where: str, problems: list[str]
) -> None:
    if_part = clause.get("if", {})
    for name in if_part.get("properties", {}):
        if name not in props:
            problems.append(f"{where}: condition on unknown property {name!r}")
    for branch in ("then", "else"):
        for name in clause.get(branch, {}).get("required", []):
            if name not in props:
                problems.append(f"{where}.{branch}: requires unknown property {name!r}")


def _lint_example(node: Mapping[str, Any], where: str, problems: list[str]) -> None:
    examples = node.get("examples")
    if examples is None:
        if node.get("type") == "string" and "enum" not in node and "format" not in node:
            problems.append(f"{where}: free-text fields need an example (used as placeholder and sample)")
        return
    checker = Draft202012Validator(node, format_checker=FORMAT_CHECKER)
    for example in examples:
        if not checker.is_valid(example):
            problems.append(f"{where}: example {example!r} does not pass the field's own rules")
