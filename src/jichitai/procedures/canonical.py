"""Canonical bytes of form data: what the resident signs with the 署名用電子証明書.

The same data must give the same bytes wherever it is serialised (portal, card-reader helper,
receiving side), so the signature verifies after the data has travelled as JSON:

- keys sorted by Unicode code point, no whitespace, UTF-8 without escapes;
- every string and key in NFC, so a name typed with a decomposed dakuten (か + ゛) signs the same
  as the precomposed が;
- integers, strings, booleans, null, arrays and objects only. Floats are refused because their
  text form differs between languages (JavaScript prints 1e21 where Python prints 1e+21); form
  schemas use ``integer`` for amounts and counts.

This is close to, but not, RFC 8785 (JCS): JCS orders keys by UTF-16 code units, which differs only
for characters outside the BMP; form keys are ASCII identifiers.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from jichitai.platform.errors import ValidationError

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


def nfc_json(value: Any) -> JsonValue:
    """A copy of ``value`` with every string and key in NFC; refuses what is not plain JSON."""
    # What a JSON parser gives (exact str, dict, list, int) is taken first, by type: the general
    # checks below go through the Mapping and Sequence ABCs, which cost more than the copy itself
    # on every node of every submission's form.
    kind = type(value)
    if kind is str:
        return unicodedata.normalize("NFC", value)
    if kind is dict:
        return _nfc_object(value)
    if kind is list:
        return [nfc_json(item) for item in value]
    if kind is int:
        return int(value)
    return _nfc_other(value)


def _nfc_object(value: Mapping[Any, Any]) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValidationError(f"object key {key!r} is not a string")
        nkey = unicodedata.normalize("NFC", key)
        if nkey in out:
            raise ValidationError(f"two keys are equal after NFC normalisation: {nkey!r}")
        out[nkey] = nfc_json(item)
    return out


def _nfc_other(value: Any) -> JsonValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, float):
        raise ValidationError(
            "canonical form data holds a float; use integers",
            message_ja="数値は整数で入力してください",
        )
    if isinstance(value, Mapping):
        return _nfc_object(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [nfc_json(item) for item in value]
    raise ValidationError(f"value of type {type(value).__name__} cannot be part of canonical form data")


def canonical_form_bytes(data: Any) -> bytes:
    """The bytes a resident signs: sorted keys, UTF-8, no whitespace, NFC."""
    return json.dumps(
        nfc_json(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")
