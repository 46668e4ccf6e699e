"""Values read from crafted requests: each refused cleanly, none a server error."""

from __future__ import annotations

from datetime import UTC, datetime

import pydantic
import pytest

from jichitai.contracts.transfer import MessageType, TransferEnvelope
from jichitai.mynumber.child_allowance.rules import YearMonth
from jichitai.platform.errors import ValidationError
from jichitai.platform.messaging.envelope import check_hash, new_envelope
from jichitai.platform.web.deps import parse_json, posted_index
from jichitai.platform.zones import Zone
from jichitai.procedures.formats import coerce_scalar


def test_posted_index_takes_few_ascii_digits_of_text_only() -> None:
    assert posted_index("12") == 12
    # "²" is a digit to str.isdigit, not to int(); int() refuses 5,000 digits; a file part is no text
    for odd in ("²", "１", "9" * 5000, "-1", "", object()):
        assert posted_index(odd) is None


def test_json_bodies_are_parsed_without_lone_surrogates_or_deep_recursion() -> None:
    assert parse_json(b'{"a": "\\ud83d\\ude00"}') == {"a": "\U0001f600"}  # a proper pair is a character
    for body in (b'{"a": "\\udc80"}', b"[" * 1000 + b"]" * 1000, b'{"a": ' + b"9" * 5000 + b"}"):
        with pytest.raises(ValueError):
            parse_json(body)


def test_integer_fields_do_not_convert_thousands_of_digits() -> None:
    assert coerce_scalar("1,200", {"type": "integer"}) == 1200
    # int() raises past 4,300 digits; the text stays, and the schema's type check refuses it
    assert coerce_scalar("1" * 4301, {"type": "integer"}) == "1" * 4301


def test_year_months_beyond_the_calendar_are_refused() -> None:
    assert YearMonth(2026, 12).month == 12
    for year in (0, 10_000, 10**20):
        with pytest.raises(ValidationError):
            YearMonth(year, 2)


def test_envelopes_refuse_identifiers_and_payload_text_that_cannot_be_encoded() -> None:
    env = new_envelope(
        MessageType.ACCEPTED_APPLICATION, source=Zone.LGWAN, destination=Zone.MYNUMBER, tenant="131016",
        payload={"name": "山田"}, created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    body = env.model_dump(mode="json")
    for field, value in (("message_id", "\udc80"), ("source", "lgwan\udc80"), ("tenant", "13101６")):
        with pytest.raises(pydantic.ValidationError):
            TransferEnvelope.model_validate({**body, field: value})
    broken = env.model_copy(update={"payload": {"name": "\udc80"}})
    with pytest.raises(ValidationError) as refused:
        check_hash(broken)  # raised UnicodeEncodeError, a server error at the receiving zone
    assert refused.value.message_ja == "連携データに不正な文字が含まれています"
