"""A fast first check of form data with ``jsonschema_rs``, answering only "certainly valid".

The Python ``jsonschema`` validator (:func:`jichitai.procedures.validation.validator_for`) stays the
reference: it decides every verdict and words every message. Almost all submissions are valid,
though, and for those walking the form in Python costs ~1.5 ms against ~0.1 ms in Rust. So
:meth:`FastFormValidator.accepts` returns True only when the Python validator would report no error
at all; on False the caller runs the Python validator as before, whatever the reason (a real
error, or a case the fast path does not vouch for).

Where the two libraries differ, the schema given to Rust is rewritten so that the Python side's
rules run:

- ``format``: the project's checks apply to any JSON type in Python (``bank-account`` checks an
  object), while ``jsonschema_rs`` runs formats on strings only and asserts its own standard
  formats (``date``, ``email``, ``uri`` ...). Every ``format`` therefore becomes a custom keyword that
  calls :data:`~jichitai.procedures.formats.FORMAT_CHECKER`'s own function on whatever instance
  reaches it, and a format that checker does not know passes, as it does in Python.
- ``pattern``: Python's ``re`` and the ECMA-262 dialect of ``jsonschema_rs`` disagree on ``\\d``,
  ``\\s``, ``\\w`` and ``$``, so patterns run through :func:`re.search` too, as ``jsonschema`` does.
- Keywords whose equivalence is not established here (``$ref``, ``patternProperties``,
  ``unevaluatedProperties`` ...) make the form ineligible: :func:`fast_validator_for` returns None
  and the Python validator runs for every submission of it.

Data is vouched for only when it is plain JSON: ``jsonschema_rs`` reads a tuple as an array and a
``Decimal`` as a number where Python's validator does not, and compares large integers and floats
with a precision of its own, so anything but dict, list, str, bool, None and integers within
±2**53 goes to the Python validator.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

import jsonschema_rs

from jichitai.procedures.formats import FORMAT_CHECKER

_DRAFT_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"
_FORMAT_KEYWORD: Final = "jichitai-py-format"
_PATTERN_KEYWORD: Final = "jichitai-py-pattern"

# Keywords whose values are subschemas, by shape.
_ONE_SCHEMA: Final = frozenset({"items", "contains", "additionalProperties", "if", "then", "else", "not"})
_SCHEMA_LIST: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAP: Final = frozenset({"properties"})
# Assertions that behave the same in both libraries on plain JSON (see the tests), copied as is.
_SAME_ASSERTIONS: Final = frozenset(
    {
        "type", "required", "enum", "const", "minLength", "maxLength", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "uniqueItems",
        "minContains", "maxContains", "minProperties", "maxProperties", "dependentRequired",
    }
)  # fmt: skip
# Annotations: no effect on the verdict in either library, left out of the Rust schema.
_ANNOTATIONS: Final = frozenset(
    {"title", "description", "examples", "default", "$comment", "deprecated", "readOnly", "writeOnly"}
)
_MAX_EXACT_INT: Final = 2**53


class _Unsupported(Exception):
    """The schema uses something the fast path does not reproduce exactly."""


# A check that raised (rather than answered) inside Rust may have been absorbed by ``not``,
# ``contains`` or ``if``; the Python validator must then run and raise as it always did.
_calls = threading.local()


class _PyFormat:
    """``format`` as Python's FormatChecker applies it: the same function, on any instance type."""

    def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: list[str | int]) -> None:
        entry = FORMAT_CHECKER.checkers.get(value)
        self._func: Callable[[object], object] | None = entry[0] if entry else None
        self._raises: type[Exception] | tuple[type[Exception], ...] = entry[1] if entry else ()
        self._name = str(value)

    def validate(self, instance: Any) -> None:
        if self._func is None:
            return  # a format the checker does not know is not asserted
        try:
            result = self._func(instance)
        except self._raises:
            result = False
        except Exception:
            _calls.raised = True
            raise
        if not result:
            raise ValueError(f"not a {self._name}")


class _PyPattern:
    """``pattern`` with Python's ``re.search``, as ``jsonschema`` checks it."""

    def __init__(self, parent_schema: dict[str, Any], value: Any, schema_path: list[str | int]) -> None:
        self._search = re.compile(value).search

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and not self._search(instance):
            raise ValueError("does not match")


def _rewrite(node: Any, *, root: bool = False) -> Any:
    """The Rust copy of a schema node (see the module docstring); raises _Unsupported."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, Mapping):
        raise _Unsupported(f"schema node {node!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if not isinstance(key, str):
            raise _Unsupported(f"key {key!r}")
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if key == "$schema" and root:
            if value != _DRAFT_2020_12:
                # Python validates with draft 2020-12 whatever $schema says; keep it simple.
                raise _Unsupported(f"$schema {value!r}")
            continue
        if key == "format":
            if not isinstance(value, str):
                raise _Unsupported("format is not a string")
            out[_FORMAT_KEYWORD] = value
        elif key == "pattern":
            if not isinstance(value, str):
                raise _Unsupported("pattern is not a string")
            out[_PATTERN_KEYWORD] = value
        elif key in _SAME_ASSERTIONS:
            out[key] = value
        elif key in _ONE_SCHEMA:
            out[key] = _rewrite(value)
        elif key in _SCHEMA_LIST:
            if not isinstance(value, list):
                raise _Unsupported(f"{key} is not a list")
            out[key] = [_rewrite(v) for v in value]
        elif key in _SCHEMA_MAP:
            if not isinstance(value, Mapping):
                raise _Unsupported(f"{key} is not a mapping")
            out[key] = {k: _rewrite(v) for k, v in value.items()}
        else:
            raise _Unsupported(f"keyword {key!r}")
    return out


def _plain_json(value: Any) -> bool:
    """Whether ``value`` is made only of what both libraries read alike (see the module docstring)."""
    stack = [value]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        v = pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is dict:
            for k, sub in v.items():
                if type(k) is not str:
                    return False
                push(sub)
        elif t is list:
            extend(v)
        elif t is int:
            if not -_MAX_EXACT_INT <= v <= _MAX_EXACT_INT:
                return False
        else:
            return False
    return True


def _python_backed(node: Any) -> bool:
    """Whether a rewritten schema asserts anything through Python (``format``, ``pattern``)."""
    if isinstance(node, list):
        return any(_python_backed(v) for v in node)
    if not isinstance(node, dict):
        return False
    return any(
        key in (_FORMAT_KEYWORD, _PATTERN_KEYWORD) or (key not in _SAME_ASSERTIONS and _python_backed(value))
        for key, value in node.items()
    )


class FastFormValidator:
    """One form schema compiled for ``jsonschema_rs``; see :meth:`accepts` and :meth:`decides`."""

    def __init__(self, form: Mapping[str, Any]) -> None:
        rewritten = _rewrite(form, root=True)
        # without Python-backed keywords, Rust's answer is the verdict both ways on plain JSON
        self.exact = not _python_backed(rewritten)
        self._rs = jsonschema_rs.Draft202012Validator(
            rewritten,
            keywords={_FORMAT_KEYWORD: _PyFormat, _PATTERN_KEYWORD: _PyPattern},
            offline=True,
        )

    def decides(self, data: Any) -> bool | None:
        """Whether ``data`` is valid, when the schema is :attr:`exact` and ``data`` plain JSON (the
        Python validator's verdict, either way); None when the Python validator must judge."""
        if not self.exact or not _plain_json(data):
            return None
        try:
            return bool(self._rs.is_valid(data))
        except Exception:
            return None

    def accepts(self, data: Any) -> bool:
        """True when the Python validator would find no error in ``data``; False when unsure."""
        if not _plain_json(data):
            return False
        _calls.raised = False
        try:
            valid = self._rs.is_valid(data)
        except Exception:  # whatever Rust could not take, the Python validator judges (or raises on)
            return False
        return valid and not _calls.raised


_FAST: dict[str, FastFormValidator | None] = {}


def fast_validator_for(form: Mapping[str, Any], cache_key: str) -> FastFormValidator | None:
    """The fast validator of a form schema, cached by ``cache_key`` (its content hash).

    None when the schema uses something the fast path does not reproduce exactly.
    """
    try:
        return _FAST[cache_key]
    except KeyError:
        pass
    fast = compile_fast(form)
    _FAST[cache_key] = fast
    return fast


def compile_fast(schema: Mapping[str, Any]) -> FastFormValidator | None:
    """``schema`` compiled for the fast path (uncached), or None when it uses something the fast
    path does not reproduce exactly."""
    try:
        return FastFormValidator(schema)
    except (_Unsupported, ValueError, re.error):
        return None
