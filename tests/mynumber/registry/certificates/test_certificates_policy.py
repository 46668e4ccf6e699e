from __future__ import annotations

import pytest

from jichitai.mynumber.registry.certificates import CertificateKind, Layout, OptionalItem, RequesterKind
from jichitai.mynumber.registry.certificates.policy import allowed_items, decide_items
from jichitai.mynumber.registry.certificates.samples import sample_options

ALL = frozenset(OptionalItem)
NUMBERS = {OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.RESIDENT_CODE}


@pytest.mark.parametrize("requester", [RequesterKind.SELF, RequesterKind.SAME_HOUSEHOLD])
def test_self_and_household_may_have_everything(requester: RequesterKind) -> None:
    assert allowed_items(requester) == ALL


@pytest.mark.parametrize(
    "requester", [RequesterKind.PUBLIC_BODY, RequesterKind.LEGAL_PROFESSIONAL, RequesterKind.PROXY]
)
def test_numbers_never_go_to_others(requester: RequesterKind) -> None:
    allowed = allowed_items(requester)
    assert not (allowed & NUMBERS)
    assert OptionalItem.HONSEKI in allowed


def test_proxy_gets_numbers_only_by_mail_to_the_registered_address() -> None:
    assert allowed_items(RequesterKind.PROXY, deliver_to_registered_address=True) >= NUMBERS


def test_third_party_gets_only_basic_items() -> None:
    assert allowed_items(RequesterKind.THIRD_PARTY) == frozenset()


def test_decision_prints_requested_and_allowed_only() -> None:
    decision = decide_items(
        sample_options(
            requester=RequesterKind.PUBLIC_BODY,
            requested_items=frozenset({OptionalItem.HONSEKI, OptionalItem.INDIVIDUAL_NUMBER}),
        )
    )
    assert decision.printed == {OptionalItem.HONSEKI}
    assert set(decision.refused) == {OptionalItem.INDIVIDUAL_NUMBER}
    assert "本人又は同一世帯員" in decision.refused[OptionalItem.INDIVIDUAL_NUMBER]


def test_nothing_requested_nothing_printed() -> None:
    decision = decide_items(sample_options(requester=RequesterKind.SELF))
    assert decision.printed == frozenset()
    assert decision.refused == {}


def test_kind_and_layout_are_plain_enums() -> None:
    assert CertificateKind.JOHYO.value == "住民票の除票の写し"
    assert Layout.HOUSEHOLD.value == "世帯連記式"
