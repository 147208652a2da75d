"""The batch sender (issue 15): its emails are claimed with one statement, each still sent once and
recorded on its own; rows it cannot send in time go back to the outbox instead of racing the sweep."""

from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.notifications import services
from apps.notifications.models import Notification
from tests.factories import ShopperFactory
from tests.orders.test_races import run_together

pytestmark = pytest.mark.django_db


def _enqueue(count, prefix="sb"):
    users = [ShopperFactory() for _ in range(count)]
    ids = services.notifications_enqueue_many(events=[
        services.NotificationEvent(kind="refund_issued", recipient_user_id=user.pk, context={"order_number": f"R{n}"},
                                   dedupe_key=f"{prefix}{n}") for n, user in enumerate(users)])
    return users, ids


def test_a_batch_claims_its_emails_at_once_and_records_each_send_on_its_own(django_assert_num_queries):
    users, ids = _enqueue(4)

    # the rows, one claim for all, then one "sent" per row
    with django_assert_num_queries(1 + 1 + 4):
        assert services.notifications_send_batch(notification_ids=ids) == 4

    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)
    rows = Notification.objects.filter(pk__in=ids)
    assert {(row.status, row.attempts, row.sent_at is not None) for row in rows} == {("sent", 1, True)}


def test_a_failed_send_in_a_claimed_batch_is_retried_later_and_counts_one_attempt(monkeypatch):
    users, ids = _enqueue(3, prefix="sf")
    real_send = services.EmailMultiAlternatives.send
    monkeypatch.setattr(services.EmailMultiAlternatives, "send",
                        lambda self: (_ for _ in ()).throw(OSError("451 try later")) if self.to == [users[0].email] else real_send(self))

    assert services.notifications_send_batch(notification_ids=ids) == 2

    failed = Notification.objects.get(recipient_email=users[0].email)
    assert (failed.status, failed.attempts, failed.next_attempt_at is not None) == ("pending", 1, True)
    assert Notification.objects.filter(pk__in=ids, status="sent").count() == 2


def test_rows_not_sent_within_half_the_stale_time_go_back_and_are_sent_by_a_new_task(settings, monkeypatch,
                                                                                     django_capture_on_commit_callbacks):
    # Given a batch whose mail server is so slow that the claim ages past half of STALE_SENDING_SECONDS
    # after the first email
    from config.celery import app

    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "STALE_SENDING_SECONDS": 60}
    users, ids = _enqueue(3, prefix="ss")
    real_send = services.EmailMultiAlternatives.send
    clock = {"now": timezone.now()}
    monkeypatch.setattr(timezone, "now", lambda: clock["now"])

    def slow(self):
        clock["now"] += timedelta(seconds=31)
        return real_send(self)

    monkeypatch.setattr(services.EmailMultiAlternatives, "send", slow)
    queued = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: queued.append((name, kw["kwargs"])))

    # When the batch runs
    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_send_batch(notification_ids=ids) == 1

    # Then the first email is sent; the two others are pending again, their attempt not counted,
    # and one new batch task will send them
    assert len(mail.outbox) == 1
    rest = Notification.objects.filter(pk__in=ids[1:])
    assert {(row.status, row.attempts, row.claimed_at) for row in rest} == {("pending", 0, None)}
    assert queued == [("notifications.send_batch", {"notification_ids": ids[1:]})]

    # And that task sends them, once each
    monkeypatch.setattr(services.EmailMultiAlternatives, "send", real_send)
    assert services.notifications_send_batch(notification_ids=queued[0][1]["notification_ids"]) == 2
    assert Counter(m.to[0] for m in mail.outbox) == Counter(u.email for u in users)


def test_a_release_leaves_rows_claimed_again_by_someone_else_alone():
    from apps.notifications.services.outbox import _claim_many, _release

    _, ids = _enqueue(2, prefix="sr")
    rows = list(Notification.objects.filter(pk__in=ids).order_by("id"))
    first_claim = timezone.now() - timedelta(minutes=10)
    assert len(_claim_many(rows, now=first_claim)) == 2
    # The sweep gave the second row to another worker, which claimed it afresh
    Notification.objects.filter(pk=ids[1]).update(claimed_at=timezone.now())

    assert _release(rows, claimed_at=first_claim) == [ids[0]]
    assert Notification.objects.get(pk=ids[1]).status == "sending"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_batches_racing_over_the_same_rows_send_each_email_once():
    # Given 30 outbox rows, and four batch tasks over overlapping parts of them (a redelivered
    # task, the sweep's batch, the original) released at once on separate connections
    users, ids = _enqueue(30, prefix="sc")
    parts = [ids, ids[::-1], ids[:20], ids[10:]]

    results = run_together([lambda part=part: services.notifications_send_batch(notification_ids=part) for part in parts])

    # Then every email went out exactly once, and each row records one attempt
    assert not [r for r in results if isinstance(r, Exception)]
    assert sum(results) == 30
    assert Counter(m.to[0] for m in mail.outbox) == Counter(u.email for u in users)
    assert set(Notification.objects.filter(pk__in=ids).values_list("status", "attempts")) == {("sent", 1)}
