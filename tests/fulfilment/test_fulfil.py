"""Fulfilment per kind, idempotency, failure flagging, the sweep, and the library output."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.catalog.models import Edition, EditionStatus, LicenceKey, LicenceKeyStatus
from apps.fulfilment import services
from apps.fulfilment.models import Entitlement
from apps.fulfilment.tasks import fulfil_order
from apps.notifications.models import Notification
from apps.orders.models import Order, OrderEvent, OrderStatus
from tests.factories import ShopperFactory, paid_order, place_order

pytestmark = pytest.mark.django_db


def test_every_kind_is_delivered_and_the_order_fulfilled(shopper, drop, ebook, software, slot, booth_pass):
    # given a paid order with one line of each kind
    order = paid_order(shopper, (drop, 2), (ebook, 1), (software, 2), (slot.product, 1, slot), (booth_pass, 1))

    # when it is fulfilled
    created = services.fulfilment_fulfil_order(order_id=order.pk)

    # then each unit has an entitlement and the order is fulfilled
    assert len(created) == 7
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    by_kind = {}
    for unit in Entitlement.objects.filter(order=order):
        by_kind.setdefault(unit.kind, []).append(unit)
    serials = sorted(u.serial for u in by_kind["collectible"])
    sold = sorted(Edition.objects.filter(product=drop, status=EditionStatus.SOLD).values_list("serial", flat=True))
    assert serials == sold
    assert len(serials) == 2
    assert all(u.certificate_code and u.certificate_signature for u in by_kind["collectible"])
    keys = [u.licence_key.key for u in by_kind["download"] if u.licence_key]
    assert sorted(keys) == ["KEY-AAAA", "KEY-BBBB"]
    assert LicenceKey.objects.filter(product=software, status=LicenceKeyStatus.ASSIGNED).count() == 2
    ebook_unit = next(u for u in by_kind["download"] if u.product_id == ebook.pk)
    assert ebook_unit.downloads_left == 2
    assert ebook_unit.licence_key is None
    assert by_kind["service"][0].slot_id == slot.pk
    assert by_kind["service"][0].access_url.startswith("http")
    assert by_kind["pass"][0].pass_token.startswith("v1.")


def test_fulfilling_twice_creates_nothing_twice(shopper, drop, software):
    # given a fulfilled order
    order = paid_order(shopper, (drop, 2), (software, 1))
    services.fulfilment_fulfil_order(order_id=order.pk)

    # when the task runs again (redelivery) and a second call hits the service
    again = fulfil_order.run(order_id=str(order.pk))
    services.fulfilment_fulfil_order(order_id=order.pk)

    # then nothing new: same units, one key drawn, one set of notifications
    assert again == 0
    assert Entitlement.objects.filter(order=order).count() == 3
    assert LicenceKey.objects.filter(product=software, status=LicenceKeyStatus.ASSIGNED).count() == 1
    keys = Notification.objects.filter(dedupe_key__startswith=f"order:{order.pk}").values_list("dedupe_key", flat=True)
    assert len(keys) == len(set(keys))


def test_a_half_done_fulfilment_completes_the_missing_units_only(shopper, drop):
    # given a paid order of which one unit exists already (a crash after a partial write cannot
    # happen in one transaction, but the unique constraint must still hold)
    order = paid_order(shopper, (drop, 2))
    first = services.fulfilment_fulfil_order(order_id=order.pk)
    Entitlement.objects.filter(pk=first[1].pk).delete()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID)

    # when fulfilled again
    created = services.fulfilment_fulfil_order(order_id=order.pk)

    # then only the missing unit was made, with the remaining edition
    assert [(u.unit_index, u.serial) for u in created] == [(1, first[1].serial)]


def test_unpaid_or_refunded_orders_are_not_fulfilled(shopper, drop):
    pending = place_order(shopper, (drop, 1))
    assert services.fulfilment_fulfil_order(order_id=pending.pk) == []
    assert not Entitlement.objects.exists()


def test_an_empty_key_pool_flags_the_order_and_tells_operators(shopper, software, operator):
    # given an order for more keys than the pool holds
    order = paid_order(shopper, (software, 3))
    LicenceKey.objects.filter(product=software).order_by("id").first().delete()

    # when the task runs
    with pytest.raises(Exception, match="licence key pool"):
        fulfil_order.run(order_id=str(order.pk))

    # then nothing was delivered, the order needs attention with the error, operators are told
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.needs_attention
    assert not Entitlement.objects.filter(order=order).exists()
    assert LicenceKey.objects.filter(product=software, status=LicenceKeyStatus.AVAILABLE).count() == 2
    event = OrderEvent.objects.filter(order=order, note="needs attention").get()
    assert "licence key pool" in event.payload["error"]
    assert Notification.objects.filter(kind="operator_attention", recipient_user=operator).count() == 1

    # when an operator adds keys and retries (the admin action's service)
    from apps.catalog import services as catalog_services

    catalog_services.licence_keys_add(product=software, keys=["KEY-DDDD"])
    services.fulfilment_retry(order_id=order.pk, actor=operator)
    services.fulfilment_fulfil_order(order_id=order.pk)

    # then it is delivered and no longer flagged
    order.refresh_from_db()
    assert order.status == OrderStatus.FULFILLED
    assert not order.needs_attention


def test_the_retry_action_schedules_after_commit(shopper, software, operator, django_capture_on_commit_callbacks, monkeypatch):
    order = paid_order(shopper, (software, 1))
    services.fulfilment_flag_failed(order_id=order.pk, error="boom")
    sent = []
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))
    with django_capture_on_commit_callbacks(execute=True):
        services.fulfilment_retry(order_id=order.pk, actor=operator)
    assert ("fulfilment.fulfil_order", {"order_id": str(order.pk)}) in sent
    assert not Order.objects.get(pk=order.pk).needs_attention


def test_schedule_enqueues_only_on_commit_and_swallows_broker_errors(shopper, software, django_capture_on_commit_callbacks,
                                                                    monkeypatch):
    order = paid_order(shopper, (software, 1))
    from config.celery import app

    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", broken)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.fulfilment_schedule(order_id=order.pk)
    assert len(callbacks) == 1  # nothing sent before commit
    callbacks[0]()  # the broker error is logged, not raised


def test_sweep_reenqueues_paid_orders_past_the_threshold(shopper, software, drop, monkeypatch, django_capture_on_commit_callbacks):
    old = paid_order(shopper, (software, 1))
    Order.objects.filter(pk=old.pk).update(status_changed_at=timezone.now() - timedelta(minutes=5))
    fresh = paid_order(ShopperFactory(), (drop, 1))
    flagged = paid_order(ShopperFactory(), (drop, 1))
    Order.objects.filter(pk=flagged.pk).update(status_changed_at=timezone.now() - timedelta(minutes=5), needs_attention=True)
    sent = []
    from config.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append(kw["kwargs"]["order_id"]))
    with django_capture_on_commit_callbacks(execute=True):
        count = services.fulfilment_sweep_unfulfilled(threshold=timedelta(minutes=2))
    assert count == 1
    assert sent == [str(old.pk)]
    assert str(fresh.pk) not in sent


def test_library_lists_own_entitlements_with_kind_fields(client_a, client_b, shopper, drop, ebook, software, slot, booth_pass):
    order = paid_order(shopper, (drop, 1), (ebook, 1), (software, 1), (slot.product, 1, slot), (booth_pass, 1))
    services.fulfilment_fulfil_order(order_id=order.pk)

    response = client_a.get("/api/v1/library/")

    assert response.status_code == 200
    items = {(i["kind"], i["product"]["id"]): i for i in response.json()["results"]}
    assert len(items) == 5
    edition = items[("collectible", drop.pk)]["edition"]
    assert edition["edition_size"] == 5
    assert edition["certificate_code"]
    assert items[("collectible", drop.pk)]["order"]["number"] == order.number
    assert items[("collectible", drop.pk)]["status"] == "active"
    booking = items[("service", slot.product.pk)]["booking"]
    assert booking["access_url"]
    assert booking["starts_at"]
    download = items[("download", ebook.pk)]["download"]
    assert "/api/v1/downloads/" in download["url"]
    assert download["downloads_left"] == 2
    assert download["expires_at"]
    assert items[("download", software.pk)]["download"]["licence_key"] == "KEY-AAAA"
    pass_ = items[("pass", booth_pass.pk)]["pass"]
    assert pass_["token"].startswith("v1.")
    assert pass_["qr_svg_url"].endswith("qr.svg")
    assert pass_["valid_until"]
    assert items[("pass", booth_pass.pk)]["edition"] is None
    # another shopper sees none of it
    assert client_b.get("/api/v1/library/").json()["results"] == []


def test_library_query_count_is_independent_of_page_size(client_a, shopper, drop, ebook, exhibitor_a):
    from tests.factories import ProductFactory, add_download_file

    def fill(n):
        for _ in range(n):
            product = ProductFactory(exhibitor=exhibitor_a, price=100, download_limit=3)
            add_download_file(product)
            services.fulfilment_fulfil_order(order_id=paid_order(shopper, (product, 1)).pk)

    fill(2)
    with CaptureQueriesContext(connection) as small:
        assert len(client_a.get("/api/v1/library/?page_size=2").json()["results"]) == 2
    fill(8)
    with CaptureQueriesContext(connection) as large:
        assert len(client_a.get("/api/v1/library/?page_size=10").json()["results"]) == 10
    assert len(small) == len(large)


def test_library_needs_a_session(api_client):
    assert api_client.get("/api/v1/library/").status_code in (401, 403)


def test_a_paid_order_is_fulfilled_in_a_fixed_number_of_queries_and_one_notification_task(
        shopper, ebook, exhibitor_a, django_assert_num_queries, django_capture_on_commit_callbacks, monkeypatch):
    # Given a paid download order of an exhibitor with a staff member and a webhook endpoint
    from django.core import mail

    from config.celery import app
    from tests.factories import WebhookEndpointFactory, staff_of

    staff = staff_of(exhibitor_a, email="sales@a.test")
    WebhookEndpointFactory(exhibitor=exhibitor_a, url="https://hooks.a.test/sales")
    order = paid_order(shopper, (ebook, 1))
    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))

    # When it is fulfilled
    # its status (a task whose order a batch delivered stops there); savepoint; lock the order;
    # lines; existing units; key pool (draw + exists in one); insert units; orders_mark_fulfilled
    # (conditional update, event);
    # notifications: users, staff, endpoints, insert, unsent rows; release
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(15):
        services.fulfilment_fulfil_order(order_id=order.pk)

    # Then the shopper's confirmation, the staff email and the webhook go out in ONE task
    rows = list(Notification.objects.filter(dedupe_key__startswith=f"order:{order.pk}").order_by("id"))
    assert sorted((n.kind, n.channel) for n in rows) == [("new_sale", "email"), ("new_sale", "webhook"), ("order_confirmed", "email")]
    assert sent == [("notifications.send_batch", {"notification_ids": [n.pk for n in rows]})]
    # And the shopper gets a single email that says the order is paid and already in the library
    from apps.notifications.services import notification_send

    confirmed = next(n for n in rows if n.kind == "order_confirmed")
    assert notification_send(notification_id=confirmed.pk) is True
    (email,) = mail.outbox
    assert email.subject == f"Order {order.number} confirmed"
    assert "Tea Guide" in email.body
    assert "Everything you bought is now in your library" in email.body
    assert staff.email not in email.to


def test_a_partially_refunded_order_is_confirmed_as_being_delivered(shopper, ebook):
    from django.core import mail

    from apps.notifications.services import notification_send

    order = paid_order(shopper, (ebook, 1))
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PARTIALLY_REFUNDED)
    services.fulfilment_fulfil_order(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED
    (confirmed,) = Notification.objects.filter(dedupe_key__startswith=f"order:{order.pk}")
    assert confirmed.kind == "order_confirmed"
    notification_send(notification_id=confirmed.pk)
    assert "Your items are being delivered to your library" in mail.outbox[0].body


def test_the_retry_guards_its_own_state_and_writes_the_trail(shopper, software, operator, monkeypatch):
    import uuid

    from config.celery import app
    from marketplace.errors import InvalidState, NotFound

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)
    pending = place_order(shopper, (software, 1))
    paid = paid_order(shopper, (software, 1))
    events_before = OrderEvent.objects.filter(order=pending).count()

    # An unknown order and an unpaid one are refused by the service itself, writing nothing
    with pytest.raises(NotFound):
        services.fulfilment_retry(order_id=uuid.uuid4(), actor=operator)
    with pytest.raises(InvalidState):
        services.fulfilment_retry(order_id=pending.pk, actor=operator)
    assert OrderEvent.objects.filter(order=pending).count() == events_before

    # A paid order that was not flagged still gets a trail entry naming who re-enqueued it
    services.fulfilment_retry(order_id=paid.pk, actor=operator)
    assert OrderEvent.objects.filter(order=paid, actor=operator, note="fulfilment re-enqueued by an operator").count() == 1
