"""/ops/: staff login, the live fragment, scoping, and actions (CSRF, audit trail, safe twice)."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from apps.operations.models import OperatorAction
from apps.orders import services as order_services
from apps.orders.models import Order, OrderEvent, OrderStatus

CONSOLE, LIVE, ACTION = "/ops/", "/ops/live/", "/ops/actions/"


def _client(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_admin_login():
    response = Client().get(CONSOLE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_operator_sees_queues_chart_celery_and_items(operator, place, product_a, settings):
    settings.FLOWER_URL = "http://flower.example:5555"
    order = place(product_a)

    response = _client(operator).get(CONSOLE)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="queue-pending_payment"' in html
    assert 'data-count="1"' in html
    assert "<svg" in html
    assert "<polyline" in html
    assert 'id="workers-online"' in html
    assert order.number in html
    assert reverse("admin:orders_order_change", args=[order.pk]) in html
    assert 'data-action="order_cancel"' in html
    assert 'href="http://flower.example:5555"' in html
    assert "operations/console.js" in html


def test_no_flower_link_without_flower_url(operator, settings):
    settings.FLOWER_URL = ""

    html = _client(operator).get(CONSOLE).content.decode()

    assert "Flower" not in html


def test_live_fragment_is_html_without_the_page_around_it(operator, place, product_a):
    place(product_a)

    response = _client(operator).get(LIVE)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="queue-pending_payment"' in html


def test_exhibitor_staff_see_their_numbers_and_no_actions(staff_a, staff_b, place, product_a, product_b):
    order_a = place(product_a)
    place(product_a)
    order_b = place(product_b)

    html_a = _client(staff_a).get(CONSOLE).content.decode()
    html_b = _client(staff_b).get(CONSOLE).content.decode()

    assert 'data-count="2"' in html_a
    assert order_a.number in html_a
    assert order_b.number not in html_a
    assert 'data-count="1"' in html_b
    assert order_b.number in html_b
    assert order_a.number not in html_b
    assert "data-action=" not in html_a
    assert 'id="celery"' not in html_a


def test_a_staff_user_without_exhibitor_is_refused(db):
    from tests.factories import UserFactory

    plain_staff = UserFactory(is_staff=True)

    assert _client(plain_staff).get(CONSOLE).status_code == 403


def test_cancel_from_the_console_is_audited_and_safe_to_click_twice(operator, place, product_a):
    order = place(product_a)
    key = str(uuid.uuid4())
    client = _client(operator)

    # When the same button is submitted twice
    first = client.post(ACTION, {"action": "order_cancel", "target": str(order.pk), "key": key})
    second = client.post(ACTION, {"action": "order_cancel", "target": str(order.pk), "key": key})

    # Then the order is cancelled once, by the operator, and the action is logged once
    assert first.status_code == second.status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
    event = OrderEvent.objects.get(order=order, to_status=OrderStatus.CANCELLED)
    assert event.actor == operator
    assert OperatorAction.objects.filter(key=key, outcome="done", actor=operator).count() == 1


def test_a_refused_action_is_recorded_not_raised(operator, place, product_a):
    order = place(product_a)
    order_services.order_mark_paid(order_id=order.pk)

    response = _client(operator).post(ACTION, {"action": "order_cancel", "target": str(order.pk), "key": str(uuid.uuid4())})

    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert OperatorAction.objects.get().outcome == "refused"


def test_retry_fulfilment_clears_attention_and_enqueues_after_commit(operator, place, product_a,
                                                                     django_capture_on_commit_callbacks, monkeypatch):
    from config.celery import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kwargs: sent.append((name, kwargs)))
    order = place(product_a)
    order_services.order_mark_paid(order_id=order.pk)
    order_services.order_flag_attention(order_id=order.pk, error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        _client(operator).post(ACTION, {"action": "fulfilment_retry", "target": str(order.pk), "key": str(uuid.uuid4())})

    assert Order.objects.get(pk=order.pk).needs_attention is False
    assert OrderEvent.objects.filter(order=order, actor=operator, note__contains="retried").count() == 1
    assert [(name, kwargs["kwargs"]) for name, kwargs in sent] == [("fulfilment.fulfil_order", {"order_id": str(order.pk)})]


def test_actions_need_csrf(operator, place, product_a):
    order = place(product_a)
    client = _client(operator, enforce_csrf_checks=True)

    response = client.post(ACTION, {"action": "order_cancel", "target": str(order.pk), "key": str(uuid.uuid4())})

    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_exhibitor_staff_cannot_act(staff_a, place, product_a):
    order = place(product_a)

    response = _client(staff_a).post(ACTION, {"action": "order_cancel", "target": str(order.pk), "key": str(uuid.uuid4())})

    assert response.status_code == 404
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_the_action_log_is_in_the_admin_for_operators_only(operator, staff_a, place, product_a):
    order = place(product_a)
    _client(operator).post(ACTION, {"action": "order_cancel", "target": str(order.pk), "key": str(uuid.uuid4())})
    url = reverse("admin:operations_operatoraction_changelist")

    response = _client(operator).get(url)

    assert response.status_code == 200
    assert str(order.pk) in response.content.decode()
    assert _client(staff_a).get(url).status_code == 403
