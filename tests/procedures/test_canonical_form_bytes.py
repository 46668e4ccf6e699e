"""The bytes a resident signs do not depend on key order or Unicode composition."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jichitai.platform.errors import ValidationError
from jichitai.procedures import canonical_form_bytes, default_catalog, sample_application


def test_exact_bytes() -> None:
    assert canonical_form_bytes({"b": 1, "a": {"d": [True, None], "c": "が"}}) == (
        '{"a":{"c":"が","d":[true,null]},"b":1}'.encode()
    )


def test_key_order_does_not_matter() -> None:
    data = sample_application(default_catalog().get("child_allowance_claim"))
    reordered = json.loads(json.dumps(data, sort_keys=True))
    reversed_keys = {k: data[k] for k in reversed(list(data))}
    assert (
        canonical_form_bytes(data) == canonical_form_bytes(reordered) == canonical_form_bytes(reversed_keys)
    )


def test_nfc_normalisation() -> None:
    decomposed = unicodedata.normalize("NFD", "ヤマダ ガクト")
    assert decomposed != "ヤマダ ガクト"
    assert canonical_form_bytes({"kana": decomposed}) == canonical_form_bytes({"kana": "ヤマダ ガクト"})
    assert canonical_form_bytes({unicodedata.normalize("NFD", "が"): 1}) == canonical_form_bytes({"が": 1})


def test_different_data_gives_different_bytes() -> None:
    assert canonical_form_bytes({"a": "1"}) != canonical_form_bytes({"a": 1})


@pytest.mark.parametrize("value", [1.5, float("nan"), b"bytes", {1: "x"}, object()])
def test_refuses_non_plain_json(value: object) -> None:
    with pytest.raises(ValidationError):
        canonical_form_bytes({"x": value})


def test_keys_equal_after_nfc_are_refused() -> None:
    with pytest.raises(ValidationError):
        canonical_form_bytes({"が": 1, unicodedata.normalize("NFD", "が"): 2})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60)
@given(json_values)
def test_round_trip_is_stable(value: object) -> None:
    try:
        first = canonical_form_bytes(value)
    except ValidationError:
        return  # keys colliding after NFC
    assert canonical_form_bytes(json.loads(first)) == first


def test_values_that_are_not_exactly_parser_types_give_the_same_bytes() -> None:
    from collections import OrderedDict
    from enum import IntEnum, StrEnum

    class Count(IntEnum):
        TWO = 2

    class Kind(StrEnum):
        CHILD = "子"

    general = OrderedDict([("n", Count.TWO), ("k", Kind.CHILD), ("l", ("a", True))])
    assert canonical_form_bytes(general) == canonical_form_bytes({"n": 2, "k": "子", "l": ["a", True]})
    assert canonical_form_bytes({"b": True, "z": False, "n": None}) == b'{"b":true,"n":null,"z":false}'
