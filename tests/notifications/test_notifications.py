"""The outbox: emails in the shopper's language, exhibitor webhooks signed, retried, disabled on 410s."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from apps.notifications import services
from apps.notifications.models import ExhibitorWebhookEndpoint, Notification, WebhookDelivery
from tests.factories import ShopperFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

CONTEXT = {"order_number": "EX-TEST-0001", "total_display": "¥88.00", "lines": [{"title": "Jade Dragon", "quantity": 1}],
           "library_url": "http://x/library"}


def _send_all():
    for notification in Notification.objects.filter(channel="email", status="pending"):
        services.notification_send(notification_id=notification.pk)


@pytest.mark.parametrize(("language", "subject"), [("en", "Order EX-TEST-0001 confirmed"), ("zh-hans", "订单 EX-TEST-0001 已确认")])
def test_shopper_email_in_their_language(language, subject):
    user = ShopperFactory(language=language)
    services.notification_enqueue(kind="order_confirmed", recipient_user_id=user.pk, context=CONTEXT, dedupe_key="o1:confirmed")

    _send_all()

    assert [m.subject for m in mail.outbox] == [subject]
    assert "Jade Dragon" in mail.outbox[0].body
    assert mail.outbox[0].to == [user.email]


def test_enqueue_twice_and_send_twice_is_one_email():
    user = ShopperFactory()
    services.notification_enqueue(kind="goods_delivered", recipient_user_id=user.pk, context=CONTEXT, dedupe_key="o1:delivered")
    services.notification_enqueue(kind="goods_delivered", recipient_user_id=user.pk, context=CONTEXT, dedupe_key="o1:delivered")
    (notification,) = Notification.objects.all()

    assert services.notification_send(notification_id=notification.pk) is True
    assert services.notification_send(notification_id=notification.pk) is False
    assert len(mail.outbox) == 1


def test_exhibitor_staff_and_operators_are_recipients(exhibitor_a, staff_a, staff_b, operator):
    services.notification_enqueue(kind="new_sale", exhibitor_id=exhibitor_a.pk, context=CONTEXT, dedupe_key="o1:sale")
    services.notification_enqueue(kind="operator_attention", context={"order_number": "EX-1", "error": "boom"}, dedupe_key="o1:att")
    _send_all()
    recipients = {(m.to[0], m.subject.split(":")[0]) for m in mail.outbox}
    assert recipients == {(operator.email, "Needs attention"), (staff_a.email, "New sale")}


def test_enqueue_is_sent_only_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    user = ShopperFactory()
    from config.celery import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))
    with django_capture_on_commit_callbacks(execute=True):
        ids = services.notification_enqueue(kind="refund_issued", recipient_user_id=user.pk, context={"order_number": "X"},
                                            dedupe_key="r1")
        assert sent == []
    assert sent == [("notifications.send_batch", {"notification_ids": ids})]


def test_the_events_of_one_call_are_written_and_sent_with_one_task(exhibitor_a, staff_a, receiver,
                                                                    django_capture_on_commit_callbacks, monkeypatch,
                                                                    django_assert_num_queries):
    # Given a shopper, and an exhibitor with a staff member and a webhook endpoint
    user = ShopperFactory(language="zh-hans")
    server = receiver()
    WebhookEndpointFactory(exhibitor=exhibitor_a, url=server.url)
    from config.celery import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))
    events = [services.NotificationEvent(kind="order_confirmed", recipient_user_id=user.pk, context=CONTEXT, dedupe_key="o7:c"),
              services.NotificationEvent(kind="new_sale", exhibitor_id=exhibitor_a.pk, context=CONTEXT, dedupe_key="o7:s")]
    # When both events are enqueued in one transaction
    # users, staff, endpoints, insert, unsent rows: a fixed number of queries for any number of events
    with django_capture_on_commit_callbacks(execute=True), django_assert_num_queries(5):
        ids = services.notifications_enqueue_many(events=events)
    # Then three rows (shopper email, staff email, webhook) go out in one task after commit
    assert len(ids) == 3
    assert sent == [("notifications.send_batch", {"notification_ids": ids})]
    # And the batch sends every one of them once, emails first, each in its recipient's language
    assert services.notifications_send_batch(notification_ids=ids) == 3
    assert sorted(m.subject for m in mail.outbox) == sorted(["订单 EX-TEST-0001 已确认", "New sale: order EX-TEST-0001"])
    assert {m.to[0] for m in mail.outbox} == {user.email, staff_a.email}
    assert len(server.requests) == 1
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
    # And running the batch again (a redelivered task) sends nothing twice
    assert services.notifications_send_batch(notification_ids=ids) == 0
    assert len(mail.outbox) == 2 and len(server.requests) == 1


def test_a_failing_row_in_a_batch_does_not_lose_the_others(monkeypatch):
    users = [ShopperFactory() for _ in range(3)]
    ids = services.notifications_enqueue_many(events=[
        services.NotificationEvent(kind="refund_issued", recipient_user_id=u.pk, context={"order_number": f"R{n}"},
                                   dedupe_key=f"rb{n}") for n, u in enumerate(users)])
    real_send = services.EmailMultiAlternatives.send

    def flaky(self):
        if self.to == [users[1].email]:
            raise OSError("mailbox unavailable")
        return real_send(self)

    monkeypatch.setattr(services.EmailMultiAlternatives, "send", flaky)

    assert services.notifications_send_batch(notification_ids=ids) == 2

    assert sorted(m.to[0] for m in mail.outbox) == sorted([users[0].email, users[2].email])
    failed = Notification.objects.get(recipient_email=users[1].email)
    assert (failed.status, failed.attempts, failed.next_attempt_at is not None) == ("pending", 1, True)
    assert "mailbox unavailable" in failed.last_error
    assert Notification.objects.filter(status="sent").count() == 2


def test_a_batch_skips_rows_claimed_elsewhere_or_not_due():
    from datetime import timedelta

    from django.utils import timezone

    users = [ShopperFactory() for _ in range(3)]
    ids = services.notifications_enqueue_many(events=[
        services.NotificationEvent(kind="refund_issued", recipient_user_id=u.pk, context={}, dedupe_key=f"rc{n}")
        for n, u in enumerate(users)])
    Notification.objects.filter(pk=ids[0]).update(status="sending", claimed_at=timezone.now())
    Notification.objects.filter(pk=ids[1]).update(next_attempt_at=timezone.now() + timedelta(minutes=5))

    assert services.notifications_send_batch(notification_ids=ids) == 1
    assert [m.to[0] for m in mail.outbox] == [users[2].email]
    assert Notification.objects.get(pk=ids[2]).attempts == 1


def test_sender_successes_are_not_stored_but_failures_are():
    # The operations console counts FAILURE rows of django-celery-results: senders skip only successes.
    from apps.notifications import tasks
    from config.celery import app

    for name in (tasks.send_batch.name, tasks.send.name, tasks.webhook_deliver.name):
        task = app.tasks[name]
        assert task.ignore_result is True
        assert task.store_errors_even_if_ignored is True


def test_a_failing_mail_backend_is_retried_then_given_up(settings, monkeypatch):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "MAX_ATTEMPTS": 2}
    user = ShopperFactory()
    (nid,) = services.notification_enqueue(kind="refund_issued", recipient_user_id=user.pk, context={}, dedupe_key="r2")
    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", lambda self: (_ for _ in ()).throw(OSError("smtp down")))

    services.notification_send(notification_id=nid)
    first = Notification.objects.get(pk=nid)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "smtp down" in first.last_error
    Notification.objects.filter(pk=nid).update(next_attempt_at=None)  # the backoff has passed
    services.notification_send(notification_id=nid)
    assert Notification.objects.get(pk=nid).status == "failed"


# --- Webhooks -------------------------------------------------------------------------------------


class _Receiver:
    """A local HTTP server on a free loopback port answering a scripted list of statuses."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(statuses=()):
        made.append(_Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _enqueue_sale(exhibitor, key="o1:sale"):
    services.notification_enqueue(kind="new_sale", exhibitor_id=exhibitor.pk, context=CONTEXT, dedupe_key=key)
    return Notification.objects.get(channel="webhook", dedupe_key__startswith=key)


def test_webhook_is_signed_and_delivered_once(exhibitor_a, receiver):
    server = receiver()
    endpoint = WebhookEndpointFactory(exhibitor=exhibitor_a, url=server.url)
    notification = _enqueue_sale(exhibitor_a)

    assert services.webhook_deliver(notification_id=notification.pk) is True
    assert services.webhook_deliver(notification_id=notification.pk) is False

    (headers, body), = server.requests
    assert services.webhook_verify(secret=endpoint.secret, header=headers["X-Expo-Signature"], body=body)
    assert not services.webhook_verify(secret="wrong", header=headers["X-Expo-Signature"], body=body)
    payload = json.loads(body)
    assert payload["type"] == "sale.created"
    assert payload["data"]["order_number"] == "EX-TEST-0001"
    delivery = WebhookDelivery.objects.get()
    assert delivery.success
    assert delivery.response_status == 200
    assert delivery.exhibitor_id == exhibitor_a.pk


def test_webhook_failures_are_retried_with_backoff(exhibitor_a, receiver, django_capture_on_commit_callbacks, monkeypatch):
    server = receiver([500])
    WebhookEndpointFactory(exhibitor=exhibitor_a, url=server.url)
    notification = _enqueue_sale(exhibitor_a)
    from config.celery import app

    scheduled = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: scheduled.append((name, kw.get("countdown"))))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_deliver(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.status == "pending"
    assert notification.next_attempt_at is not None
    assert scheduled == [("notifications.webhook_deliver", 30)]

    Notification.objects.filter(pk=notification.pk).update(next_attempt_at=None)
    assert services.webhook_deliver(notification_id=notification.pk) is True
    assert [d.response_status for d in WebhookDelivery.objects.order_by("attempt")] == [500, 200]


def test_endpoint_disabled_after_three_410s(exhibitor_a, receiver):
    server = receiver([410, 410, 410])
    endpoint = WebhookEndpointFactory(exhibitor=exhibitor_a, url=server.url)
    for n in range(3):
        services.webhook_deliver(notification_id=_enqueue_sale(exhibitor_a, key=f"o{n}:sale").pk)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_410s == 3
    assert endpoint.active is False
    # a disabled endpoint gets no new notifications
    services.notification_enqueue(kind="new_sale", exhibitor_id=exhibitor_a.pk, context=CONTEXT, dedupe_key="o9:sale")
    assert not Notification.objects.filter(channel="webhook", dedupe_key__startswith="o9").exists()


def test_delivery_log_is_scoped_in_the_admin(exhibitor_a, exhibitor_b, staff_b, receiver, client):
    server = receiver()
    WebhookEndpointFactory(exhibitor=exhibitor_a, url=server.url)
    services.webhook_deliver(notification_id=_enqueue_sale(exhibitor_a).pk)
    delivery = WebhookDelivery.objects.get()
    client.force_login(staff_b)
    assert client.get(f"/admin/notifications/webhookdelivery/{delivery.pk}/change/").status_code == 404


def test_sweep_resends_stale_claims_and_due_rows(django_capture_on_commit_callbacks, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    user = ShopperFactory()
    (nid,) = services.notification_enqueue(kind="refund_issued", recipient_user_id=user.pk, context={}, dedupe_key="r3")
    Notification.objects.filter(pk=nid).update(status="sending", claimed_at=timezone.now() - timedelta(hours=1))
    from config.celery import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw["kwargs"])))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_sweep_pending() == 1
    assert sent == [("notifications.send_batch", {"notification_ids": [nid]})]
    assert Notification.objects.get(pk=nid).status == "pending"
    assert ExhibitorWebhookEndpoint.objects.count() == 0


def test_an_internal_webhook_url_is_refused_when_saved_and_when_sent(settings, exhibitor_a, staff_a, client, receiver):
    # Given a deployment that only delivers to public addresses
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "WEBHOOK_ALLOW_PRIVATE_HOSTS": False}
    server = receiver()
    # When exhibitor staff register an endpoint on our own network in the admin
    client.force_login(staff_a)
    response = client.post("/admin/notifications/exhibitorwebhookendpoint/add/",
                           {"exhibitor": exhibitor_a.pk, "url": "http://127.0.0.1:6379/", "secret": "s", "active": "on"})
    # Then the form refuses it and nothing is stored
    assert response.status_code == 200
    assert b"private, loopback or reserved" in response.content
    assert not ExhibitorWebhookEndpoint.objects.exists()
    # And an endpoint that got in before (or whose DNS changed since) is refused at send time
    WebhookEndpointFactory(exhibitor=exhibitor_a, url=server.url)
    notification = _enqueue_sale(exhibitor_a)
    assert services.webhook_deliver(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert notification.status == "failed"
    assert "refused" in notification.last_error
    assert server.requests == []
