"""Every email kind renders in English and Simplified Chinese, amounts as money, never raw minor units."""

import re

import pytest

from apps.notifications.services import render_email

CONTEXT = {
    "order_id": "0b6f3a40-0000-4000-8000-000000000001", "order_number": "EX-1234-5678", "currency": "CNY",
    "total": 1250, "amount": 1250, "exhibitor_amount": 1125, "refund_id": 7, "full": True,
    "lines": [{"title": "Tea ceremony", "quantity": 2}], "library_url": "https://expo.test/library",
    "delivered": True, "subject": "payment", "error": "", "detail": "",
}
KINDS = ["order_confirmed", "goods_delivered", "refund_issued", "new_sale", "sale_refunded", "operator_attention"]
# Words the context itself brings into an email (a product title); nothing else may be English.
FROM_CONTEXT = {"Tea", "ceremony", "EX", "CNY", "https", "expo", "test", "library"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_chinese_without_english_template_text(kind):
    subject, body = render_email(kind=kind, language="zh-hans", context={**CONTEXT, "reason": "退款"})

    english = set(re.findall(r"[A-Za-z]{2,}", subject + body)) - FROM_CONTEXT
    assert subject
    assert english == set()
    assert re.search(r"[\u4e00-\u9fff]", subject)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_english(kind):
    subject, body = render_email(kind=kind, language="en", context=CONTEXT)

    assert subject and body.strip()
    assert not re.search(r"[\u4e00-\u9fff]", subject + body)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_refund_amounts_show_as_money_not_minor_units(language):
    # given the context the refund service stores: amounts in minor units and their currency
    context = {"order_number": "EX-1", "amount": 1250, "currency": "CNY", "exhibitor_amount": 1125}

    _, refund_body = render_email(kind="refund_issued", language=language, context=context)
    _, sale_body = render_email(kind="sale_refunded", language=language, context=context)

    assert "CNY 12.50" in refund_body
    assert "1250" not in refund_body
    assert "CNY 11.25" in sale_body
