"""Every change form builds its change request from the posted values (pure, no storage)."""

from __future__ import annotations

from datetime import date

import pytest

from jichitai.mynumber.registry.screen_forms import CHANGE_FORMS, parse
from jichitai.mynumber.registry.service import ChangeRequest
from jichitai.mynumber.registry.service.changes import HANDLERS

ATENA = "000000000000018"


def _posted(slug: str) -> dict[str, str]:
    """Values that fill every required field of the form (whatever the registry says of them)."""
    form = CHANGE_FORMS[slug]
    values = {"idempotency_key": f"k-{slug}", "event_date_year": "2025", "event_date_month": "5",
              "event_date_day": "1"}  # fmt: skip
    for f in form.fields:
        if f.kind == "date":
            values |= {f"{f.name}_year": "2027", f"{f.name}_month": "9", f"{f.name}_day": "30"}
        elif f.kind == "select":
            values[f.name] = f.options[0][0]
        elif f.kind == "lines" and f.name == "fields":
            values[f.name] = "name_kana=ヤマダ　タロウ"
        elif f.kind == "lines" and "relationships" in f.name:
            values[f.name] = f"{ATENA}=妻"
        elif f.kind == "lines":
            values[f.name] = ATENA
        else:
            values[f.name] = ATENA if "number" in f.name or f.name.endswith("head") else "テスト"
    if form.person_slots:
        values |= {"p1_name": "山田　太郎", "p1_kana": "ヤマダ　タロウ", "p1_birth_year": "1980",
                   "p1_birth_month": "1", "p1_birth_day": "1", "p1_sex": "1",
                   "p1_relationship": "世帯主"}  # fmt: skip
    return values


@pytest.mark.parametrize("slug", sorted(CHANGE_FORMS))
def test_each_form_builds_the_change_the_registry_handles(slug: str) -> None:
    parsed = parse(CHANGE_FORMS[slug], _posted(slug))
    assert parsed.errors == {}
    request = parsed.request
    assert isinstance(request, ChangeRequest) and type(request) in HANDLERS
    assert request.change_type == CHANGE_FORMS[slug].title.removesuffix("届")
    assert (request.idempotency_key, request.event_date) == (f"k-{slug}", date(2025, 5, 1))


@pytest.mark.parametrize("slug", sorted(CHANGE_FORMS))
def test_each_form_names_what_is_missing(slug: str) -> None:
    parsed = parse(CHANGE_FORMS[slug], {"idempotency_key": "k"})
    assert parsed.request is None
    assert parsed.errors["event_date"] == "異動日を入力してください"
    required = [f.name for f in CHANGE_FORMS[slug].fields if f.required]
    assert all(name in parsed.errors for name in required), parsed.errors
