from __future__ import annotations

import re

from fastapi.testclient import TestClient

from jichitai.platform.web.app import make_templates


def render_macro(call: str) -> str:
    env = make_templates().env
    template = env.from_string('{% import "macros/forms.html" as forms %}' + call)
    return template.render()


def test_text_field_ties_hint_and_error_to_the_input() -> None:
    html = render_macro(
        '{{ forms.text_field("postal_code", "郵便番号", value="100-<b>", hint="例: 100-8111", '
        'error="郵便番号は7桁で入力してください", required=True) }}'
    )
    assert '<label class="form-label" for="f-postal_code">郵便番号' in html
    assert "必須" in html
    assert 'aria-describedby="f-postal_code-hint f-postal_code-error"' in html
    assert 'id="f-postal_code-error"' in html
    assert 'aria-invalid="true"' in html
    assert 'value="100-&lt;b&gt;"' in html  # autoescaped


def test_radio_group_is_a_fieldset_with_legend() -> None:
    html = render_macro(
        '{{ forms.radio_group("sex", "性別", [("1", "男"), ("2", "女")], value="2", '
        'error="選んでください") }}'
    )
    assert '<fieldset class="fieldset" aria-describedby="f-sex-error">' in html
    assert '<legend class="form-label">性別' in html
    assert re.search(r'value="2"\s+id="f-sex-2" checked', html)
    assert 'for="f-sex"' in html  # the first option carries the id the error summary links to


def test_date_input_has_three_labelled_boxes() -> None:
    html = render_macro(
        '{{ forms.date_input("birth", "生年月日", value={"year": "2020", "month": "4", "day": "1"}) }}'
    )
    for part, label in (("year", "年"), ("month", "月"), ("day", "日")):
        assert f'name="birth_{part}"' in html
        assert f">{label}</label>" in html
    assert 'id="f-birth"' in html
    assert 'inputmode="numeric"' in html
    assert 'value="2020"' in html


def test_error_summary_links_to_fields() -> None:
    html = render_macro(
        '{{ forms.error_summary({"name": "氏名を入力してください", "birth": "日付が正しくありません"}) }}'
    )
    assert '<a href="#f-name">氏名を入力してください</a>' in html
    assert '<a href="#f-birth">日付が正しくありません</a>' in html
    assert 'role="alert"' in html
    assert render_macro("{{ forms.error_summary({}) }}").strip() == ""


def test_stylesheet_carries_the_design_tokens(client: TestClient) -> None:
    css = client.get("/static/jichitai.css")
    assert css.status_code == 200
    text = css.text
    assert "@digital-go-jp/design-tokens" in text
    assert "MIT License" in text
    assert "--color-primitive-blue-900: #0017c1;" in text
    assert "--font-size-16: 1rem;" in text
    assert "min-height: 44px" in text
    assert ":focus-visible" in text
    assert "http" not in text.split("*/", 1)[1]  # nothing fetched from elsewhere at run time
    assert css.headers["cache-control"] == "public, max-age=3600"
