"""The registry's staff screens and the public verification page, through the HTTP interface."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jichitai.mynumber.registry.issuance import verify
from jichitai.mynumber.registry.service import MoveIn, MoveOut, NewPerson, RegistryService
from jichitai.platform.storage import Storage
from tests.conftest import ctx
from tests.mynumber.registry.issuance.support import register_family
from tests.mynumber.registry.screens.conftest import csrf_of, log_in

ON = date(2024, 4, 1)


@pytest.fixture(scope="module")
def family(screen_storage: Storage) -> tuple[tuple[str, ...], str]:
    result, _ = register_family(RegistryService(screen_storage), "髙木", "タカギ", children=3, on=ON)
    return result.atena_numbers, result.household_numbers[0]


def _date(prefix: str, d: date) -> dict[str, str]:
    return {f"{prefix}_year": str(d.year), f"{prefix}_month": str(d.month), f"{prefix}_day": str(d.day)}


def test_search_finds_variant_kanji_and_links_to_person(
    clerk: TestClient, family: tuple[tuple[str, ...], str]
) -> None:
    atena, _household = family
    page = clerk.get("/staff/registry", params={"name": "高木　太郎"})
    assert page.status_code == 200
    html = page.text
    assert '<html lang="ja">' in html and "検索結果 1件" in html
    assert f'href="/staff/registry/persons/{atena[0]}"' in html and "髙木　太郎" in html
    assert "<script" not in html
    by_kana = clerk.get("/staff/registry", params={"name": "タカギ"})
    assert "検索結果 5件" in by_kana.text
    empty = clerk.get("/staff/registry", params={"name": ""})
    assert empty.status_code == 400 and 'class="error-summary"' in empty.text


def test_person_and_household_views_show_history(
    clerk: TestClient, family: tuple[tuple[str, ...], str]
) -> None:
    atena, household = family
    person = clerk.get(f"/staff/registry/persons/{atena[1]}")
    assert person.status_code == 200
    assert "髙木　花子" in person.text and "令和6年4月1日" in person.text and "転入" in person.text
    assert "履歴" in person.text
    now = clerk.get(f"/staff/registry/households/{household}")
    assert now.status_code == 200 and now.text.count("/staff/registry/persons/") == 5
    before = clerk.get(f"/staff/registry/households/{household}", params=_date("on", date(2024, 3, 1)))
    assert before.status_code == 200 and "この日に世帯員はいません" in before.text


def test_change_form_records_a_change_and_shows_refusals_in_japanese(
    clerk: TestClient, family: tuple[tuple[str, ...], str]
) -> None:
    atena, _household = family
    form = clerk.get("/staff/registry/changes/name-change", params={"atena_number": atena[4]})
    assert form.status_code == 200
    token = csrf_of(form.text)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', form.text)
    assert key is not None
    data = {
        "csrf_token": token,
        "idempotency_key": key.group(1),
        "atena_number": atena[4],
        "name": "髙木　三郎",  # the same name: refused
        "name_kana": "タカギ　サブロウ",
        "reason": "誤記",
        **_date("event_date", date(2025, 1, 10)),
        **_date("notified_on", date(2025, 1, 10)),
    }
    refused = clerk.post("/staff/registry/changes/name-change", data=data)
    assert refused.status_code == 400
    html = refused.text
    assert 'class="error-summary"' in html and "氏名が変わっていません" in html
    assert 'id="f-name-error"' in html  # next to the field it concerns
    ok = clerk.post(
        "/staff/registry/changes/name-change",
        data={**data, "name": "鈴木　三郎", "name_kana": "スズキ　サブロウ"},
    )
    assert ok.status_code == 303
    assert ok.headers["location"].startswith(f"/staff/registry/persons/{atena[4]}")
    shown = clerk.get(ok.headers["location"])
    assert "鈴木　三郎" in shown.text and "氏名変更を記録しました" in shown.text
    again = clerk.post(
        "/staff/registry/changes/name-change",
        data={**data, "name": "鈴木　三郎", "name_kana": "スズキ　サブロウ"},
    )
    assert again.status_code == 303  # the same submission again is the same change (idempotent)


def test_a_domicile_transfer_through_the_form(
    clerk: TestClient, screen_storage: Storage, family: tuple[tuple[str, ...], str]
) -> None:
    """転籍 from the person page: the members of one 戸籍 move their 本籍; a person of another 戸籍
    among them is refused next to the persons field."""
    moved, _ = register_family(RegistryService(screen_storage), "転籍", "テンセキ", children=0, on=ON)
    head, wife = moved.atena_numbers
    page = clerk.get(f"/staff/registry/persons/{head}")
    assert f"/changes/domicile-transfer?persons={head}" in page.text
    form = clerk.get("/staff/registry/changes/domicile-transfer", params={"persons": head})
    assert form.status_code == 200 and f">{head}</textarea>" in form.text  # filled in from the link
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-domicile-transfer",
        "persons": f"{head}\n{family[0][0]}",  # 髙木 太郎 is of another 戸籍
        "honseki": "東京都港区芝公園四丁目２番",
        **_date("event_date", date(2025, 1, 10)),
        **_date("notified_on", date(2025, 1, 10)),
    }
    refused = clerk.post("/staff/registry/changes/domicile-transfer", data=data)
    assert refused.status_code == 400
    assert "本籍・筆頭者が一致しません" in refused.text and 'id="f-persons-error"' in refused.text
    ok = clerk.post("/staff/registry/changes/domicile-transfer", data={**data, "persons": f"{head}\n{wife}"})
    assert ok.status_code == 303, ok.text
    shown = clerk.get(f"/staff/registry/persons/{wife}")
    assert "<li>本籍: 東京都千代田区千代田1番 → 東京都港区芝公園4丁目2番</li>" in shown.text


def test_change_form_field_errors_and_csrf(clerk: TestClient) -> None:
    form = clerk.get("/staff/registry/changes/move-in")
    token = csrf_of(form.text)
    bad = clerk.post(
        "/staff/registry/changes/move-in",
        data={
            "csrf_token": token,
            "idempotency_key": "k-bad",
            "address": "",
            **{"event_date_year": "2024", "event_date_month": "13", "event_date_day": "1"},
        },
    )
    assert bad.status_code == 400
    assert "異動日は正しい日付を西暦で入力してください" in bad.text
    assert "住所を入力してください" in bad.text and "記録する者を1人以上入力してください" in bad.text
    # a year too large for any date used to raise OverflowError: a server error instead of a message
    huge = clerk.post(
        "/staff/registry/changes/move-in",
        data={"csrf_token": token, "idempotency_key": "k-huge", "event_date_year": "9" * 20,
              "event_date_month": "1", "event_date_day": "1"},
    )  # fmt: skip
    assert huge.status_code == 400 and "異動日は正しい日付を西暦で入力してください" in huge.text
    forged = clerk.post("/staff/registry/changes/move-in", data={"csrf_token": "forged"})
    assert forged.status_code == 403


def test_move_in_through_the_form(clerk: TestClient, screen_storage: Storage) -> None:
    form = clerk.get("/staff/registry/changes/move-in")
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-move-in-1",
        **_date("event_date", date(2024, 5, 1)),
        **_date("notified_on", date(2024, 5, 7)),
        "address": "東京都千代田区九段南1丁目2番1号",
        "previous_address": "神奈川県横浜市中区港町1丁目1番地",
        "p1_name": "榎本　健",
        "p1_kana": "エノモト　ケン",
        **_date("p1_birth", date(1990, 2, 3)),
        "p1_sex": "1",
        "p1_relationship": "世帯主",
        "p1_kind": "日本人",
    }
    answer = clerk.post("/staff/registry/changes/move-in", data=data)
    assert answer.status_code == 303, answer.text
    page = clerk.get(answer.headers["location"])
    assert "榎本　健" in page.text and "転入届を記録しました" in page.text


def test_a_foreign_resident_moves_in_with_an_alias_through_the_form(clerk: TestClient) -> None:
    form = clerk.get("/staff/registry/changes/move-in")
    assert 'name="p1_alias"' in form.text and 'name="p1_alias_kana"' in form.text
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-move-in-alias",
        **_date("event_date", date(2024, 5, 1)),
        **_date("notified_on", date(2024, 5, 7)),
        "address": "東京都千代田区九段南1丁目2番3号",
        "previous_address": "ベトナム",
        "from_abroad": "1",
        "p1_name": "NGUYEN　VAN　AN",
        "p1_kana": "グエン　ヴァン　アン",
        **_date("p1_birth", date(1995, 2, 3)),
        "p1_sex": "1",
        "p1_relationship": "世帯主",
        "p1_kind": "外国人",
        "p1_nationality": "ベトナム",
        "p1_residence_status": "永住者",
        "p1_alias": "中村　安",
        "p1_alias_kana": "ナカムラ　ヤス",
    }
    answer = clerk.post("/staff/registry/changes/move-in", data=data)
    assert answer.status_code == 303, answer.text
    page = clerk.get(answer.headers["location"])
    assert "転入届を記録しました" in page.text
    assert '<th scope="row">通称</th><td>中村　安（ナカムラ　ヤス）</td>' in page.text
    # staff find the person by the 通称, and the list says that is what matched
    found = clerk.get("/staff/registry", params={"name": "なかむら　やす"})
    assert "検索結果 1件" in found.text
    assert "NGUYEN　VAN　AN" in found.text and "<span>通称: 中村　安（通称で一致）</span>" in found.text


def test_a_foreign_resident_s_own_changes_through_the_forms(
    clerk: TestClient, screen_storage: Storage
) -> None:
    """在留期間更新 and 通称記載 from the person page: recorded under their own 異動事由, refusals
    shown next to the field they concern."""
    svc = RegistryService(screen_storage)
    moved = svc.submit(
        ctx("registry.change.record"),
        MoveIn(
            idempotency_key="screen-foreign-student",
            event_date=ON,
            notified_on=ON,
            persons=(
                NewPerson(
                    name="TRAN　THI　MAI",
                    name_kana="チャン　ティ　マイ",
                    birth_date=date(2001, 6, 1),
                    sex="2",
                    relationship="世帯主",
                    kind="外国人",
                    nationality="ベトナム",
                    residence_status="留学",
                    stay_expires_on=date(2025, 9, 30),
                    residence_card_number="AB12345678CD",
                ),
            ),
            address="東京都千代田区九段南1丁目2番4号",
            previous_address="ベトナム",
            from_abroad=True,
        ),
    )
    atena = moved.atena_numbers[0]
    page = clerk.get(f"/staff/registry/persons/{atena}")
    for slug in ("residence-status-change", "stay-extension", "alias-entry"):
        assert f"/changes/{slug}?atena_number={atena}" in page.text
    assert "/changes/alias-removal" not in page.text  # no 通称 to remove

    form = clerk.get("/staff/registry/changes/stay-extension", params={"atena_number": atena})
    assert form.status_code == 200 and 'name="notified_on_year"' not in form.text  # a notice, not a 届出
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-stay-extension",
        "atena_number": atena,
        **_date("event_date", date(2025, 8, 1)),
        **_date("stay_expires_on", date(2025, 9, 1)),  # earlier than the current one: refused
        "residence_card_number": "ｃｄ８７６５４３２１ｅｆ",
    }
    refused = clerk.post("/staff/registry/changes/stay-extension", data=data)
    assert refused.status_code == 400
    assert "現在の満了日（2025-09-30）より後ではありません" in refused.text
    assert 'id="f-stay_expires_on-error"' in refused.text
    ok = clerk.post(
        "/staff/registry/changes/stay-extension", data={**data, **_date("stay_expires_on", date(2027, 9, 30))}
    )
    assert ok.status_code == 303, ok.text
    shown = clerk.get(ok.headers["location"])
    assert "在留期間更新を記録しました" in shown.text
    assert "留学（満了日 令和9年9月30日）" in shown.text
    # the history says what the change changed, next to it
    assert "<li>在留期間満了日: 令和7年9月30日 → 令和9年9月30日</li>" in shown.text
    assert "<li>在留カード等番号: AB12345678CD → CD87654321EF</li>" in shown.text
    assert svc.person(ctx("registry.person.read"), atena).residence_card_number == "CD87654321EF"

    form = clerk.get("/staff/registry/changes/alias-entry", params={"atena_number": atena})
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-alias-entry",
        "atena_number": atena,
        **_date("event_date", date(2025, 8, 2)),
        **_date("notified_on", date(2025, 8, 2)),
        "alias": "田中　舞",
        "alias_kana": "たなか　まい",  # hiragana: refused
    }
    refused = clerk.post("/staff/registry/changes/alias-entry", data=data)
    assert refused.status_code == 400 and 'id="f-alias_kana-error"' in refused.text
    ok = clerk.post("/staff/registry/changes/alias-entry", data={**data, "alias_kana": "タナカ　マイ"})
    assert ok.status_code == 303, ok.text
    shown = clerk.get(ok.headers["location"])
    assert '<th scope="row">通称</th><td>田中　舞（タナカ　マイ）</td>' in shown.text
    assert f"/changes/alias-removal?atena_number={atena}" in shown.text
    assert "通称記載（令和7年8月2日、令和7年8月2日届出）" in shown.text
    assert "<li>通称: （なし） → 田中　舞</li>" in shown.text
    assert shown.text.count("<li>在留期間満了日:") == 1  # only on the version that changed it


def test_a_former_surname_through_the_forms(clerk: TestClient, screen_storage: Storage) -> None:
    """旧氏記載 from the person page: a 名 typed with it is refused next to the field; once
    recorded, the page shows it and staff find the person by it."""
    svc = RegistryService(screen_storage)
    moved = svc.submit(
        ctx("registry.change.record"),
        MoveIn(
            idempotency_key="screen-former-surname",
            event_date=ON,
            notified_on=ON,
            persons=(NewPerson(name="宇佐美　結衣", name_kana="ウサミ　ユイ", birth_date=date(1988, 3, 3),
                               sex="2", relationship="世帯主"),),
            address="東京都千代田区九段南1丁目2番5号",
            previous_address="大阪府大阪市北区梅田1-1-1",
        ),
    )  # fmt: skip
    atena = moved.atena_numbers[0]
    page = clerk.get(f"/staff/registry/persons/{atena}")
    assert f"/changes/former-surname-entry?atena_number={atena}" in page.text
    form = clerk.get("/staff/registry/changes/former-surname-entry", params={"atena_number": atena})
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-former-surname-entry",
        "atena_number": atena,
        **_date("event_date", date(2025, 8, 4)),
        **_date("notified_on", date(2025, 8, 4)),
        "former_surname": "椎名　結衣",  # with the 名: refused
        "former_surname_kana": "シイナ",
    }
    refused = clerk.post("/staff/registry/changes/former-surname-entry", data=data)
    assert refused.status_code == 400 and 'id="f-former_surname-error"' in refused.text
    assert "旧氏は氏のみを記載してください" in refused.text
    ok = clerk.post("/staff/registry/changes/former-surname-entry", data={**data, "former_surname": "椎名"})
    assert ok.status_code == 303, ok.text
    shown = clerk.get(ok.headers["location"])
    assert '<th scope="row">旧氏</th><td>椎名（シイナ）</td>' in shown.text
    assert "宇佐美　結衣（旧氏 椎名）" in shown.text
    assert f"/changes/former-surname-removal?atena_number={atena}" in shown.text
    assert "<li>旧氏: （なし） → 椎名</li>" in shown.text
    found = clerk.get("/staff/registry", params={"name": "椎名　結衣"})
    assert "検索結果 1件" in found.text and "<span>旧氏: 椎名（旧氏で一致）</span>" in found.text


def test_the_stay_review_lists_ended_stays_with_their_next_steps(
    clerk: TestClient, screen_storage: Storage
) -> None:
    svc = RegistryService(screen_storage)
    today = svc.today()
    moved = svc.submit(
        ctx("registry.change.record"),
        MoveIn(
            idempotency_key="screen-stay-review",
            event_date=ON,
            notified_on=ON,
            persons=(
                NewPerson(
                    name="SILVA　ANA", name_kana="シルバ　アナ", birth_date=date(1990, 3, 3), sex="2",
                    relationship="世帯主", kind="外国人", nationality="ブラジル", residence_status="定住者",
                    stay_expires_on=today - timedelta(days=3),
                ),
            ),
            address="東京都千代田区九段南1丁目2番5号",
            previous_address="ブラジル",
            from_abroad=True,
        ),
    )  # fmt: skip
    atena = moved.atena_numbers[0]
    page = clerk.get("/staff/registry/stay-review")
    assert page.status_code == 200
    row = page.text[page.text.index(f"/persons/{atena}") :]
    row = row[: row.index("</tr>")]
    assert "SILVA　ANA" in row and "定住者" in row and "満了済み" in row
    assert f"/changes/stay-extension?atena_number={atena}" in row
    assert f"/changes/ex-officio-removal?atena_number={atena}" in row
    beyond = clerk.get("/staff/registry/stay-review", params={"page": "2"})  # past the last page
    assert f"/persons/{atena}" not in beyond.text and ">前のページ</a>" in beyond.text
    assert ">次のページ</a>" not in beyond.text
    earlier = clerk.get("/staff/registry/stay-review", params=_date("until", today - timedelta(days=4)))
    assert f"/persons/{atena}" not in earlier.text
    bad = clerk.get(
        "/staff/registry/stay-review", params={"until_year": "2025", "until_month": "2", "until_day": "30"}
    )
    assert bad.status_code == 400 and "満了日は正しい日付を西暦で入力してください" in bad.text


def _move_out(
    svc: RegistryService, persons: tuple[str, ...], on: date, remaining_head: str | None = None
) -> None:
    """A 転出 to Osaka on ``on``, notified on the first of that month."""
    svc.submit(
        ctx("registry.change.record"),
        MoveOut(
            idempotency_key=f"screen-move-out-{persons[0]}-{on}",
            event_date=on,
            notified_on=on.replace(day=1),
            persons=persons,
            destination="大阪府大阪市北区梅田1-1-1",
            remaining_head=remaining_head,
        ),
    )


def test_confirming_a_head_who_left_first_names_the_new_head(
    clerk: TestClient, screen_storage: Storage
) -> None:
    """転出確定 of a 世帯主 who left before his wife, both by one 転出: the form asks who was 世帯主
    in between, next to the field, and records it when named."""
    svc = RegistryService(screen_storage)
    family, _ = register_family(svc, "黒田", "クロダ", children=0, on=ON)
    head, wife = family.atena_numbers
    _move_out(svc, (head, wife), date(2024, 9, 30))
    form = clerk.get("/staff/registry/changes/confirm-move-out", params={"atena_number": head})
    assert form.status_code == 200 and 'name="remaining_head"' in form.text
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-confirm-kuroda",
        "atena_number": head,
        **_date("event_date", date(2024, 9, 10)),
    }
    refused = clerk.post("/staff/registry/changes/confirm-move-out", data=data)
    assert refused.status_code == 400
    assert "黒田　花子が世帯主のいない世帯に残ります" in refused.text
    assert 'id="f-remaining_head-error"' in refused.text
    ok = clerk.post(
        "/staff/registry/changes/confirm-move-out",
        data={**data, "idempotency_key": "screen-confirm-kuroda-2", "remaining_head": wife},
    )
    assert ok.status_code == 303, ok.text
    during = svc.person_as_of(ctx("registry.person.read"), wife, date(2024, 9, 20))
    assert during is not None and during.relationship == "世帯主"


def test_cancelling_a_move_out_through_the_form(clerk: TestClient, screen_storage: Storage) -> None:
    svc = RegistryService(screen_storage)
    family, _ = register_family(svc, "青木", "アオキ", children=0, on=ON)
    head, wife = family.atena_numbers
    _move_out(svc, (head,), date(2024, 10, 31), remaining_head=wife)
    form = clerk.get("/staff/registry/changes/cancel-move-out", params={"atena_number": head})
    assert form.status_code == 200 and "転出取消" in form.text
    data = {
        "csrf_token": csrf_of(form.text),
        "idempotency_key": "screen-cancel-aoki",
        "atena_number": head,
        **_date("event_date", date(2024, 10, 30)),
        **_date("notified_on", date(2024, 10, 20)),
    }
    wrong_day = clerk.post("/staff/registry/changes/cancel-move-out", data=data)
    assert wrong_day.status_code == 400
    assert "異動日には取り消す転出の転出予定日（2024-10-31）を入力してください" in wrong_day.text
    ok = clerk.post(
        "/staff/registry/changes/cancel-move-out",
        data={**data, "idempotency_key": "screen-cancel-aoki-2", **_date("event_date", date(2024, 10, 31))},
    )
    assert ok.status_code == 303, ok.text
    shown = clerk.get(ok.headers["location"])
    assert "転出取消を記録しました" in shown.text
    record = svc.person(ctx("registry.person.read"), head)
    assert (record.status, record.relationship) == ("resident", "世帯主")


def test_person_page_tells_a_pending_or_unconfirmed_move_out_and_links_its_next_steps(
    clerk: TestClient, screen_storage: Storage
) -> None:
    """A 転出 ahead is 転出予定; one past its day without a 転入通知 is a 除票 not yet confirmed.
    Both link to 転出確定 and to 転出取消, the latter with the 転出予定日 filled in."""
    svc = RegistryService(screen_storage)
    family, _ = register_family(svc, "白石", "シライシ", children=1, on=ON)
    _head, wife, son = family.atena_numbers
    ahead = svc.today() + timedelta(days=20)
    _move_out(svc, (son,), date(2024, 10, 31))
    svc.submit(
        ctx("registry.change.record"),
        MoveOut(
            idempotency_key=f"screen-move-out-{wife}-ahead",
            event_date=ahead,
            notified_on=svc.today(),
            persons=(wife,),
            destination="大阪府大阪市北区梅田1-1-1",
        ),
    )
    gone = clerk.get(f"/staff/registry/persons/{son}").text
    assert "転入通知が届いていないため、転出は確定していません" in gone
    assert f"/staff/registry/changes/confirm-move-out?atena_number={son}" in gone
    cancel = f"/staff/registry/changes/cancel-move-out?atena_number={son}&amp;event_date=2024-10-31"
    assert cancel in gone
    pending = clerk.get(f"/staff/registry/persons/{wife}").text
    assert "転出予定です（転出予定日" in pending and "除票" not in pending.split("<h2")[0]
    listed = clerk.get("/staff/registry", params={"name": "白石"}).text
    # the son, a 除票, is listed only with 除票; his mother is a resident until her day
    assert "検索結果 2件" in listed and listed.count("住民（転出予定 ") == 1
    form = clerk.get(cancel.replace("&amp;", "&")).text
    for part, value in (("year", "2024"), ("month", "10"), ("day", "31")):
        assert re.search(rf'name="event_date_{part}"[^>]*value="{value}"', form), part
    ok = clerk.post(
        "/staff/registry/changes/confirm-move-out",
        data={
            "csrf_token": csrf_of(gone),
            "idempotency_key": "screen-confirm-shiraishi",
            "atena_number": son,
            **_date("event_date", date(2024, 10, 29)),
        },
    )
    assert ok.status_code == 303, ok.text
    confirmed = clerk.get(ok.headers["location"]).text
    assert "転出確定済み" in confirmed and "confirm-move-out?atena_number" not in confirmed


def test_certificate_download_is_a_valid_sealed_pdf(
    clerk: TestClient, screen_storage: Storage, family: tuple[tuple[str, ...], str]
) -> None:
    atena, household = family
    form = clerk.get("/staff/registry/certificates/new", params={"household": household})
    assert form.status_code == 200 and "記載を求める事項" in form.text
    answer = clerk.post(
        "/staff/registry/certificates",
        data={
            "csrf_token": csrf_of(form.text),
            "kind": "JUMINHYO",
            "layout": "HOUSEHOLD",
            "household_number": household,
            "requester": "THIRD_PARTY",
            "items": ["RELATIONSHIP", "INDIVIDUAL_NUMBER"],
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.headers["x-certificate-items-refused"] == "INDIVIDUAL_NUMBER,RELATIONSHIP"
    assert answer.content.startswith(b"%PDF")
    check = verify(screen_storage, "131016", answer.content)
    assert check.valid, check.problems
    assert check.serial == answer.headers["x-certificate-serial"]

    refused = clerk.post(
        "/staff/registry/certificates",
        data={"csrf_token": csrf_of(form.text), "kind": "JOHYO", "layout": "PERSON",
              "atena_numbers": atena[0], "requester": "SELF"},
    )  # fmt: skip
    assert refused.status_code == 400 and "除票ではない住民票です" in refused.text


def test_public_verification_page(
    anonymous: TestClient, clerk: TestClient, family: tuple[tuple[str, ...], str]
) -> None:
    atena, _household = family
    form = clerk.get("/staff/registry/certificates/new", params={"atena": atena[0]})
    pdf = clerk.post(
        "/staff/registry/certificates",
        data={"csrf_token": csrf_of(form.text), "kind": "JUMINHYO", "layout": "PERSON",
              "atena_numbers": atena[0], "requester": "SELF"},
    ).content  # fmt: skip
    payload = re.search(rb"/JichitaiVerify \(([^)]*)\)", pdf)
    assert payload is not None
    query = payload.group(1).decode().split("?", 1)[1]
    shown = anonymous.get(f"/verify?{query}")
    assert shown.status_code == 200 and "交付したものです" in shown.text
    assert "髙木" not in shown.text  # no personal data on the public page
    unknown = anonymous.get("/verify", params={"t": "131016", "s": "R8-999999", "h": "0" * 16})
    assert unknown.status_code == 404 and "交付記録はありません" in unknown.text
    uploaded = anonymous.post(
        "/verify", data={"t": "131016"}, files={"file": ("c.pdf", pdf, "application/pdf")}
    )
    assert uploaded.status_code == 200 and "真正な証明書です" in uploaded.text
    altered = bytearray(pdf)
    altered[len(altered) // 3] ^= 0x01
    bad = anonymous.post(
        "/verify", data={"t": "131016"}, files={"file": ("c.pdf", bytes(altered), "application/pdf")}
    )
    assert bad.status_code == 422 and "確認できませんでした" in bad.text


@pytest.fixture
def login_as(app: FastAPI) -> Iterator[Callable[[str], TestClient]]:
    clients: list[TestClient] = []

    def make(login_id: str) -> TestClient:
        c = TestClient(app, base_url="https://testserver", follow_redirects=False)
        c.__enter__()
        clients.append(c)
        log_in(c, login_id)
        return c

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def test_permissions(login_as: Callable[[str], TestClient], anonymous: TestClient) -> None:
    outsider = login_as("ippan")
    for path in ("/staff/registry?name=山田", "/staff/registry/changes", "/staff/registry/certificates/new"):
        answer = outsider.get(path)
        assert answer.status_code == 403 and "権限がありません" in answer.text
    reader = login_as("teate")
    assert reader.get("/staff/registry", params={"name": "山田"}).status_code == 200
    assert reader.get("/staff/registry/changes/move-in").status_code == 403
    assert reader.get("/staff/registry/certificates/new").status_code == 403
    away = anonymous.get("/staff/registry")
    assert away.status_code == 303 and away.headers["location"].startswith("/staff/login")
