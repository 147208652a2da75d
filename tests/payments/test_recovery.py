"""Money recovery: the reconciliation sweep, refund sync, and the transfer/reversal sends and retries.

Whatever a lost webhook, a provider outage or a crashed worker left behind is finished by these
paths exactly once (DESIGN.md habits 4-6): the provider is called under one idempotency key per
attempt, the ledger gets one movement per key, and it balances afterwards. The simulated provider
is used where no SDK is involved; the Stripe adapter runs against the fake at the SDK's
HTTP-client seam (tests/payments/fake_stripe.py), extended here with a response that is lost after
Stripe acted on the request.
"""

import json
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from apps.notifications.models import Notification
from apps.orders.models import Order, OrderEvent, OrderStatus
from apps.payments.models import (
    LedgerEntry,
    Payment,
    PaymentStatus,
    RefundLine,
    RefundStatus,
    Transfer,
    TransferReversal,
    TransferStatus,
    WebhookEvent,
    WebhookStatus,
)
from apps.payments.providers import PaymentProviderError
from apps.payments.providers.simulated import SimulatedProvider
from apps.payments.selectors import ledger_order_balance
from apps.payments.services import payment_create_for_order, payment_sync
from apps.payments.services.payouts import (
    payouts_settle_order,
    reversal_retry,
    reversal_send,
    transfer_retry,
    transfer_send,
)
from apps.payments.services.reconcile import MAX_WEBHOOK_ATTEMPTS, payments_reconcile
from apps.payments.services.refunds import refund_create, refund_sync
from apps.payments.services.webhooks import webhook_process, webhook_record_simulated
from tests.factories import WebhookEndpointFactory, add_download_file, place_order, staff_of
from tests.payments.fake_stripe import FakeStripeHTTPClient

# transaction=True: on_commit hooks (task enqueueing) really fire, and the Stripe adapter refuses
# to be called inside a transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def _later() -> Any:
    """A sweep's clock past PAYMENTS["RECONCILE_GRACE"], so rows made just now count as stuck."""
    return timezone.now() + timedelta(minutes=30)


# --- the fake Stripe, and provider faults ------------------------------------------------------------


class LossyFakeStripe(FakeStripeHTTPClient):
    """The fake, plus: `lose_next` answers that status AFTER acting on the request (the object is
    created and its idempotency key stored, the response is lost on the way back), and
    `refund_status` is what a new refund reports (Stripe refunds may stay pending)."""

    def __init__(self) -> None:
        super().__init__()
        self.lose_next: int | None = None
        self.refund_status = "succeeded"
        self.lock = threading.Lock()

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None) -> Any:
        with self.lock:  # Stripe serialises requests under one idempotency key (replay or 409)
            response = super().request(method, url, headers, post_data, _usage=_usage)
            if self.lose_next:
                status, self.lose_next = self.lose_next, None
                return json.dumps({"error": {"message": "lost", "type": "api_error"}}), status, {}
            return response

    def _answer(self, method: str, path: str, p: dict[str, str]) -> dict[str, Any]:
        answer = super()._answer(method, path, p)
        if method == "post" and answer.get("object") == "refund":
            answer["status"] = self.refund_status
        return answer

    def posts(self, collection: str) -> list[str | None]:
        """The idempotency keys of the POSTs to `collection` (transfers, reversals, refunds), in order."""
        return [r["key"] for r in self.requests if r["method"] == "post" and r["path"].rstrip("/").endswith(f"/{collection}")]

    def created_of(self, kind: str) -> int:
        return sum(1 for obj in self.objects.values() if obj.get("object") == kind)


@pytest.fixture
def fake(settings) -> LossyFakeStripe:
    client = LossyFakeStripe()
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_API_BASE = "http://stripe.fake"
    settings.PAYMENTS = {**settings.PAYMENTS, "STRIPE_HTTP_CLIENT": client, "STRIPE_MAX_NETWORK_RETRIES": 0}
    return client


@pytest.fixture
def stripe_order(settings, fake, shopper, products) -> Order:
    """The conftest `order` (16809 fen: Alpha 10799, Bravo 6010), paid through Stripe."""
    settings.PAYMENT_PROVIDER = "stripe"
    placed = place_order(shopper, (products["download"], 1), (products["drop"], 1), (products["pass"], 2))
    payment = payment_create_for_order(order=placed)
    assert payment.provider == "stripe" and payment.provider_reference in fake.objects
    return placed


def _succeed_at_stripe(fake: LossyFakeStripe, order: Order) -> Payment:
    """The shopper paid at Stripe: the PaymentIntent succeeded there (no event is sent here)."""
    payment = Payment.objects.get(order=order)
    fake.objects[str(payment.provider_reference)].update(status="succeeded", latest_charge=f"ch_{payment.pk}")
    return payment


def _fail(monkeypatch, method: str, *, retryable: bool, times: int = 1) -> list[dict[str, Any]]:
    """The simulated provider's `method` raises for its next `times` calls; returns the calls."""
    original = getattr(SimulatedProvider, method)
    calls: list[dict[str, Any]] = []

    def flaky(self, **kwargs):
        calls.append(kwargs)
        if len(calls) <= times:
            raise PaymentProviderError("provider unavailable" if retryable else "refused", retryable=retryable)
        return original(self, **kwargs)

    monkeypatch.setattr(SimulatedProvider, method, flaky)
    return calls


@pytest.fixture
def sends(tasks, monkeypatch) -> list[tuple[str, bool]]:
    """(task name, sent inside a transaction?) of every task sent; tasks are still recorded."""
    from config.celery import app

    seen: list[tuple[str, bool]] = []

    def probe(name, args=None, kwargs=None, **options):
        seen.append((name, connection.in_atomic_block))
        return tasks(name, args, kwargs, **options)

    monkeypatch.setattr(app, "send_task", probe)
    return seen


def _pay_simulated(order: Order, tasks) -> Payment:
    """The simulated shopper pays and every queued payments task runs (paid, transfers sent)."""
    payment = Payment.objects.get(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    tasks.run_payments()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return payment


def _movements(order: Order) -> list[tuple[str, str]]:
    return sorted(LedgerEntry.objects.filter(order=order).values_list("kind", "key"))


def _attention(prefix: str) -> int:
    return Notification.objects.filter(kind="operator_attention", dedupe_key__startswith=prefix).count()


# --- payments_reconcile: payments ----------------------------------------------------------------


def test_reconcile_repairs_a_lost_webhook_once(stripe_order, fake, tasks, sends, alpha, bravo):
    # Given a payment that succeeded at Stripe whose event never arrived (the inbox is empty)
    payment = _succeed_at_stripe(fake, stripe_order)
    assert not WebhookEvent.objects.exists()

    # When the beat sweep runs, twice
    first = payments_reconcile(now=_later())
    after_first = _movements(stripe_order)
    posts_after_first = len([r for r in fake.requests if r["method"] == "post"])
    second = payments_reconcile(now=_later())
    tasks.run_payments()  # the payouts task the repair queued finds the work done

    # Then the order is paid once, fulfilment was scheduled once and after commit
    stripe_order.refresh_from_db()
    payment.refresh_from_db()
    assert first["payments"] == 1 and second["payments"] == 0
    assert payment.status == PaymentStatus.SUCCEEDED and payment.charge_reference == f"ch_{payment.pk}"
    assert stripe_order.status == OrderStatus.PAID
    assert OrderEvent.objects.filter(order=stripe_order, to_status=OrderStatus.PAID).count() == 1
    assert tasks.named("fulfilment.fulfil_order") == [{"order_id": str(stripe_order.pk)}]
    assert ("fulfilment.fulfil_order", False) in sends and all(not inside for _, inside in sends)
    # and the same sweep paid the exhibitors out; the second run moved nothing
    assert Transfer.objects.filter(order=stripe_order, status=TransferStatus.SENT).count() == 2
    assert fake.created_of("transfer") == 2
    assert _movements(stripe_order) == after_first
    assert len([r for r in fake.requests if r["method"] == "post"]) == posts_after_first
    assert [kind for kind, _ in after_first].count("capture") == 1
    assert ledger_order_balance(order_id=stripe_order.pk).status == "balanced"


def test_reconcile_leaves_a_payment_still_pending_at_the_provider_alone(order, tasks):
    # Given a simulated payment the shopper has not paid (no event at all)
    payment = Payment.objects.get(order=order)
    # When the sweep runs inside the grace period, then after it
    assert payments_reconcile()["payments"] == 0
    counts = payments_reconcile(now=_later())
    # Then it was read, and nothing changed: still payable, nothing sent, no money moved
    assert counts["payments"] == 1 and counts["raised"] == 0
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.REQUIRES_PAYMENT and not payment.needs_attention
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert tasks.sent == [] and not LedgerEntry.objects.exists()


def test_reconcile_records_a_payment_that_failed_at_the_provider(stripe_order, fake, tasks):
    # Given a payment declined at Stripe whose event never arrived
    payment = Payment.objects.get(order=stripe_order)
    fake.objects[str(payment.provider_reference)].update(last_payment_error={"message": "Your card was declined."})
    # When the sweep runs twice
    payments_reconcile(now=_later())
    payments_reconcile(now=_later())
    # Then the payment is failed with the reason, the order stays payable, nothing moved
    payment.refresh_from_db()
    stripe_order.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_message == "Your card was declined."
    assert stripe_order.status == OrderStatus.PENDING_PAYMENT
    assert tasks.sent == [] and not LedgerEntry.objects.exists()


def test_reconcile_raises_a_payment_the_provider_refuses_to_read_and_retries_an_outage(stripe_order, fake, operator):
    payment = Payment.objects.get(order=stripe_order)
    # Given Stripe is down (5xx): the sweep leaves the payment for its next run, nothing raised
    fake.fail_next = 503
    assert payments_reconcile(now=_later())["raised"] == 0
    payment.refresh_from_db()
    assert not payment.needs_attention and payment.status == PaymentStatus.REQUIRES_PAYMENT
    # Given Stripe refuses the read (4xx): raised to operators once, however often the sweep runs
    for _ in range(2):
        fake.fail_next = 404
        assert payments_reconcile(now=_later())["raised"] == 1
    payment.refresh_from_db()
    assert payment.needs_attention and "cannot be read" in payment.attention_reason
    assert _attention(f"reconcile-payment:{payment.pk}") == 1


# --- payments_reconcile: refunds, transfers, reversals, lost payouts, stuck events ------------------


def test_reconcile_settles_a_refund_whose_outcome_was_unknown(order, tasks, operator, monkeypatch, alpha, bravo):
    # Given a paid order and a refund of Bravo's line whose provider call timed out
    _pay_simulated(order, tasks)
    calls = _fail(monkeypatch, "create_refund", retryable=True)
    line = order.lines.get(exhibitor=bravo)
    refund = refund_create(order_id=order.pk, line_ids=[line.pk], actor=operator)
    tasks.run_payments()
    assert refund.status == RefundStatus.PENDING and refund.provider_reference is None
    assert ledger_order_balance(order_id=order.pk).refund == 0

    # When the sweep runs twice (and the payouts task it queues runs)
    payments_reconcile(now=_later())
    tasks.run_payments()
    settled = _movements(order)
    payments_reconcile(now=_later())
    tasks.run_payments()

    # Then the refund went once under its one key, the order is partially refunded, Bravo's
    # transfer reversed, and the second run moved nothing
    refund.refresh_from_db()
    order.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.provider_reference == f"sim_re_{refund.pk}"
    assert [c["refund_id"] for c in calls] == [refund.pk, refund.pk]
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert TransferReversal.objects.get().status == TransferStatus.SENT
    assert _movements(order) == settled
    assert [kind for kind, _ in settled].count("refund") == 1
    balance = ledger_order_balance(order_id=order.pk)
    assert balance.status == "balanced" and balance.refund == 6010


def test_reconcile_finishes_a_transfer_left_sending(stripe_order, fake, tasks, alpha, bravo):
    # Given a paid order whose first transfer Stripe made but whose answer was lost (500)
    _succeed_at_stripe(fake, stripe_order)
    payment_sync(payment_id=Payment.objects.get(order=stripe_order).pk)
    fake.lose_next = 500
    payouts_settle_order(order_id=stripe_order.pk)
    stuck = Transfer.objects.get(order=stripe_order, exhibitor=alpha)
    assert stuck.status == TransferStatus.SENDING and stuck.attempt == 1
    assert ledger_order_balance(order_id=stripe_order.pk).status == "open"

    # When the sweep runs twice
    assert payments_reconcile(now=_later())["transfers"] == 1
    assert payments_reconcile(now=_later())["transfers"] == 0
    tasks.run_payments()

    # Then it is sent, under its one key: Stripe made one transfer, the ledger has one movement
    stuck.refresh_from_db()
    assert stuck.status == TransferStatus.SENT and stuck.attempt == 1 and str(stuck.provider_reference).startswith("tr_")
    other = Transfer.objects.get(order=stripe_order, exhibitor=bravo)
    assert fake.posts("transfers") == [f"mkt-transfer-{stuck.pk}", f"mkt-transfer-{other.pk}", f"mkt-transfer-{stuck.pk}"]
    assert fake.created_of("transfer") == 2
    assert LedgerEntry.objects.filter(key=f"transfer:{stuck.pk}").count() == 1
    assert LedgerEntry.objects.filter(order=stripe_order, kind="transfer").count() == 2
    assert ledger_order_balance(order_id=stripe_order.pk).status == "balanced"


def test_reconcile_sends_a_reversal_left_pending(order, tasks, operator, monkeypatch, bravo):
    # Given Bravo's line refunded while the provider was down for the reversal
    _pay_simulated(order, tasks)
    calls = _fail(monkeypatch, "create_transfer_reversal", retryable=True)
    refund_create(order_id=order.pk, line_ids=[order.lines.get(exhibitor=bravo).pk], actor=operator)
    tasks.run_payments()
    reversal = TransferReversal.objects.get()
    assert reversal.status == TransferStatus.PENDING
    # while it is in flight the ledger is open (money owed back), not a mismatch
    assert ledger_order_balance(order_id=order.pk).status == "open"

    # When the sweep runs twice
    payments_reconcile(now=_later())
    payments_reconcile(now=_later())
    tasks.run_payments()

    # Then it went once, under its one key, and the ledger balances
    reversal.refresh_from_db()
    assert reversal.status == TransferStatus.SENT and reversal.attempt == 1
    assert [c["reversal_id"] for c in calls] == [reversal.pk, reversal.pk]
    assert LedgerEntry.objects.filter(kind="transfer_reversal").count() == 1
    balance = ledger_order_balance(order_id=order.pk)
    assert balance.status == "balanced" and balance.transfer_reversal == 5259


def test_reconcile_pays_out_an_order_whose_payouts_task_was_lost(order, tasks, alpha, bravo):
    # Given an order paid through its event, but the queued payouts task never ran
    payment = Payment.objects.get(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    webhook_process(event_pk=WebhookEvent.objects.get().pk)
    assert tasks.named("payments.transfers_create") == [{"order_id": str(order.pk)}]
    assert not Transfer.objects.exists()

    # When the sweep runs twice
    payments_reconcile(now=_later())
    paid_out = _movements(order)
    payments_reconcile(now=_later())

    # Then each exhibitor was paid once and the ledger balances
    assert Transfer.objects.filter(order=order, status=TransferStatus.SENT).count() == 2
    assert _movements(order) == paid_out
    assert [kind for kind, _ in paid_out].count("transfer") == 2
    assert ledger_order_balance(order_id=order.pk).status == "balanced"


def test_reconcile_redrives_stuck_events_and_raises_hopeless_ones(order, tasks, operator):
    # Given an event stored whose processing task was lost, and one that failed too often
    payment = Payment.objects.get(order=order)
    webhook_record_simulated(payment=payment, outcome="succeeded")
    lost = WebhookEvent.objects.get()
    tasks.sent.clear()
    hopeless = WebhookEvent.objects.create(provider="stripe", event_id="evt_hopeless", type="refund.updated",
                                           object_reference="re_x", payload={}, status=WebhookStatus.FAILED,
                                           attempts=MAX_WEBHOOK_ATTEMPTS)
    # When the sweep runs inside the grace period nothing is touched; after it:
    assert payments_reconcile()["events"] == 0
    counts = payments_reconcile(now=_later())
    # Then the lost one is queued again (and the payment repaired directly), the hopeless one raised
    assert counts["events"] == 1
    assert tasks.named("payments.webhook_process") == [{"event_pk": lost.pk}]
    assert _attention(f"webhook-stuck:{hopeless.pk}") == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    # and processing the re-queued event finds the work done
    tasks.run_payments()
    lost.refresh_from_db()
    assert lost.status == WebhookStatus.PROCESSED and lost.error == ""
    assert LedgerEntry.objects.filter(kind="capture").count() == 1


# --- refund_sync -------------------------------------------------------------------------------------


@pytest.fixture
def paid_stripe_order(stripe_order, fake, tasks) -> Order:
    _succeed_at_stripe(fake, stripe_order)
    payment_sync(payment_id=Payment.objects.get(order=stripe_order).pk)
    tasks.run_payments()
    tasks.sent.clear()
    stripe_order.refresh_from_db()
    assert stripe_order.status == OrderStatus.PAID
    return stripe_order


def test_refund_sync_settles_a_pending_refund_to_succeeded_once(paid_stripe_order, fake, tasks, operator, bravo):
    # Given a refund Stripe reports pending
    fake.refund_status = "pending"
    line = paid_stripe_order.lines.get(exhibitor=bravo)
    refund = refund_create(order_id=paid_stripe_order.pk, line_ids=[line.pk], actor=operator)
    assert refund.status == RefundStatus.PENDING and str(refund.provider_reference).startswith("re_")
    # When it is synced while still pending: nothing happens
    assert refund_sync(refund_id=refund.pk) == RefundStatus.PENDING
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    # When Stripe settles it and it is synced twice
    fake.objects[str(refund.provider_reference)]["status"] = "succeeded"
    assert refund_sync(refund_id=refund.pk) == RefundStatus.SUCCEEDED
    assert refund_sync(refund_id=refund.pk) == RefundStatus.SUCCEEDED
    tasks.run_payments()
    # Then one refund was made at Stripe, one ledger entry written, the order partially refunded
    refund.refresh_from_db()
    paid_stripe_order.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and fake.created_of("refund") == 1
    assert LedgerEntry.objects.filter(kind="refund", key=f"refund:{refund.pk}", amount=6010).count() == 1
    assert paid_stripe_order.status == OrderStatus.PARTIALLY_REFUNDED
    assert len(tasks.named("fulfilment.revoke_lines")) == 1
    assert ledger_order_balance(order_id=paid_stripe_order.pk).status == "balanced"


def test_refund_sync_resends_a_refund_whose_answer_was_lost_under_the_same_key(paid_stripe_order, fake, tasks, operator):
    # Given a refund Stripe made but whose answer was lost: pending, no reference
    fake.lose_next = 500
    refund = refund_create(order_id=paid_stripe_order.pk, amount=1000, actor=operator)
    assert refund.status == RefundStatus.PENDING and refund.provider_reference is None
    # When it is synced twice
    assert refund_sync(refund_id=refund.pk) == RefundStatus.SUCCEEDED
    assert refund_sync(refund_id=refund.pk) == RefundStatus.SUCCEEDED
    tasks.run_payments()
    # Then Stripe was asked under one key and made one refund; one ledger entry
    assert fake.posts("refunds") == [f"mkt-refund-{refund.pk}", f"mkt-refund-{refund.pk}"]
    assert fake.created_of("refund") == 1
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert ledger_order_balance(order_id=paid_stripe_order.pk).status == "balanced"


def test_refund_sync_records_a_refused_refund_failed_and_frees_its_lines(paid_stripe_order, fake, tasks, operator, bravo):
    # Given a pending refund of Bravo's line that Stripe then refuses
    fake.refund_status = "pending"
    line = paid_stripe_order.lines.get(exhibitor=bravo)
    refund = refund_create(order_id=paid_stripe_order.pk, line_ids=[line.pk], actor=operator)
    fake.objects[str(refund.provider_reference)]["status"] = "failed"
    # When it is synced twice
    assert refund_sync(refund_id=refund.pk) == RefundStatus.FAILED
    assert refund_sync(refund_id=refund.pk) == RefundStatus.FAILED
    # Then it is failed, its line released, nothing in the ledger, operators told once
    refund.refresh_from_db()
    paid_stripe_order.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert not RefundLine.objects.exists()
    assert not LedgerEntry.objects.filter(kind="refund").exists()
    assert paid_stripe_order.status == OrderStatus.PAID
    assert tasks.named("fulfilment.revoke_lines") == []
    assert _attention(f"refund-failed:{refund.pk}") == 1
    # and the line can be refunded again
    fake.refund_status = "succeeded"
    again = refund_create(order_id=paid_stripe_order.pk, line_ids=[line.pk], actor=operator)
    tasks.run_payments()
    assert again.status == RefundStatus.SUCCEEDED
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert ledger_order_balance(order_id=paid_stripe_order.pk).status == "balanced"


# --- transfer_send, reversal_send and the operators' retries ---------------------------------------


@pytest.fixture
def sending(stripe_order, fake, alpha) -> Transfer:
    """The order paid at Stripe; Alpha's transfer claimed (`sending`) but not sent yet."""
    _succeed_at_stripe(fake, stripe_order)
    payment_sync(payment_id=Payment.objects.get(order=stripe_order).pk)
    fake.fail_next = 500  # Alpha's transfer is the first one sent; Bravo's goes
    payouts_settle_order(order_id=stripe_order.pk)
    transfer = Transfer.objects.get(order=stripe_order, exhibitor=alpha)
    assert transfer.status == TransferStatus.SENDING
    return transfer


@pytest.mark.parametrize("fault", ["fail_next", "lose_next"], ids=["not-made", "made-answer-lost"])
def test_an_unknown_transfer_outcome_stays_sending_and_completes_under_the_same_key(stripe_order, fake, alpha, fault):
    # Given Stripe answers the transfer with a 500 (it made it, or not)
    _succeed_at_stripe(fake, stripe_order)
    payment_sync(payment_id=Payment.objects.get(order=stripe_order).pk)
    setattr(fake, fault, 500)
    payouts_settle_order(order_id=stripe_order.pk)
    transfer = Transfer.objects.get(order=stripe_order, exhibitor=alpha)
    # Then it stays sending, attempt 1, nothing in the ledger for it
    assert (transfer.status, transfer.attempt) == (TransferStatus.SENDING, 1)
    assert not LedgerEntry.objects.filter(key=f"transfer:{transfer.pk}").exists()
    # When it is sent again (twice)
    assert transfer_send(transfer_id=transfer.pk) == TransferStatus.SENT
    assert transfer_send(transfer_id=transfer.pk) == TransferStatus.SENT
    # Then it went under the same key, Stripe holds one transfer for it, the ledger one movement
    transfer.refresh_from_db()
    assert transfer.attempt == 1 and str(transfer.provider_reference).startswith("tr_")
    assert fake.posts("transfers").count(f"mkt-transfer-{transfer.pk}") == 2
    assert fake.created_of("transfer") == 2  # Alpha's once, Bravo's once
    assert LedgerEntry.objects.filter(key=f"transfer:{transfer.pk}").count() == 1
    assert ledger_order_balance(order_id=stripe_order.pk).status == "balanced"


def test_transfer_retry_of_a_sending_transfer_keeps_its_key(sending, fake):
    assert transfer_retry(transfer_id=sending.pk) == TransferStatus.SENT
    assert transfer_retry(transfer_id=sending.pk) == TransferStatus.SENT  # sent: nothing to do
    sending.refresh_from_db()
    assert sending.attempt == 1
    assert fake.posts("transfers").count(f"mkt-transfer-{sending.pk}") == 2  # the outage, then once more
    assert LedgerEntry.objects.filter(key=f"transfer:{sending.pk}").count() == 1


def test_a_refused_transfer_is_failed_raised_and_retried_as_the_next_attempt(sending, fake, operator):
    # Given Stripe refuses the transfer definitely (400)
    fake.fail_next = 400
    assert transfer_send(transfer_id=sending.pk) == TransferStatus.FAILED
    assert transfer_send(transfer_id=sending.pk) == TransferStatus.FAILED  # failed: not sent again
    sending.refresh_from_db()
    # Then it is failed, raised to operators once, nothing in the ledger for it
    assert sending.status == TransferStatus.FAILED and sending.failure_message
    assert sending.payment.needs_attention and f"Transfer {sending.pk} failed" in sending.payment.attention_reason
    assert _attention(f"transfer-failed:{sending.pk}") == 1
    assert not LedgerEntry.objects.filter(key=f"transfer:{sending.pk}").exists()
    # When an operator retries it (twice)
    assert transfer_retry(transfer_id=sending.pk, actor=operator) == TransferStatus.SENT
    assert transfer_retry(transfer_id=sending.pk, actor=operator) == TransferStatus.SENT
    # Then it went as attempt 2 under a new key, once; one transfer movement
    sending.refresh_from_db()
    assert sending.attempt == 2 and sending.failure_message == ""
    keys = fake.posts("transfers")
    assert keys.count(f"mkt-transfer-{sending.pk}") == 2 and keys.count(f"mkt-transfer-{sending.pk}-a2") == 1
    assert fake.created_of("transfer") == 2
    assert LedgerEntry.objects.filter(key=f"transfer:{sending.pk}").count() == 1
    assert ledger_order_balance(order_id=sending.order_id).status == "balanced"


def test_a_reversal_unknown_then_refused_then_retried_goes_once(paid_stripe_order, fake, tasks, operator, bravo):
    # Given Bravo's line refunded, and Stripe down when the payouts task sends the reversal
    refund = refund_create(order_id=paid_stripe_order.pk, line_ids=[paid_stripe_order.lines.get(exhibitor=bravo).pk],
                           actor=operator)
    assert refund.status == RefundStatus.SUCCEEDED
    fake.fail_next = 503
    tasks.run_payments()
    reversal = TransferReversal.objects.get()
    assert reversal.status == TransferStatus.PENDING
    # When it is sent again and Stripe refuses it definitely
    fake.fail_next = 400
    assert reversal_send(reversal_id=reversal.pk) == TransferStatus.FAILED
    assert _attention(f"reversal-failed:{reversal.pk}") == 1
    assert not LedgerEntry.objects.filter(kind="transfer_reversal").exists()
    # When an operator retries it, twice
    assert reversal_retry(reversal_id=reversal.pk, actor=operator) == TransferStatus.SENT
    assert reversal_retry(reversal_id=reversal.pk, actor=operator) == TransferStatus.SENT
    # Then attempt 1's key was used for the outage and the refusal, attempt 2's once
    reversal.refresh_from_db()
    assert reversal.attempt == 2
    assert fake.posts("reversals") == [f"mkt-reversal-{reversal.pk}"] * 2 + [f"mkt-reversal-{reversal.pk}-a2"]
    assert fake.created_of("transfer_reversal") == 1
    assert LedgerEntry.objects.filter(kind="transfer_reversal").count() == 1
    assert ledger_order_balance(order_id=paid_stripe_order.pk).status == "balanced"


@pytest.mark.slow
def test_concurrent_sends_of_one_transfer_pay_once(sending, fake):
    # Given a transfer left sending, sent by four workers at once (the sweep, a retry, ...)
    barrier = threading.Barrier(4)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(transfer_send(transfer_id=sending.pk))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every call used the one key, Stripe made one transfer, the ledger has one movement
    assert errors == [] and set(results) == {TransferStatus.SENT}
    other = Transfer.objects.exclude(pk=sending.pk).get()
    assert set(fake.posts("transfers")) == {f"mkt-transfer-{sending.pk}", f"mkt-transfer-{other.pk}"}
    assert fake.created_of("transfer") == 2
    assert LedgerEntry.objects.filter(key=f"transfer:{sending.pk}").count() == 1
    assert ledger_order_balance(order_id=sending.order_id).status == "balanced"


# --- notifications of a refund ------------------------------------------------------------------


def _run_fulfilment(tasks) -> None:
    from apps.fulfilment import services

    for kwargs in tasks.named("fulfilment.fulfil_order"):
        services.fulfilment_fulfil_order(**kwargs)
    for kwargs in tasks.named("fulfilment.revoke_lines"):
        services.entitlements_revoke_lines(**kwargs)


def test_a_refund_notifies_each_recipient_once(order, tasks, operator, shopper, alpha, bravo, products, settings, tmp_path):
    # Given a paid, fulfilled order; Alpha has a staff member and a webhook, Bravo a staff member
    settings.STORAGES = {**settings.STORAGES, "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    add_download_file(products["download"])
    alpha_staff = staff_of(alpha, email="staff@alpha.test")
    bravo_staff = staff_of(bravo, email="staff@bravo.test")
    hook: Any = WebhookEndpointFactory(exhibitor=alpha)
    _pay_simulated(order, tasks)
    _run_fulfilment(tasks)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.FULFILLED
    tasks.sent.clear()
    before = set(Notification.objects.values_list("pk", flat=True))

    # When an operator refunds Alpha's download line and Bravo's pass line in one refund
    download = order.lines.get(product=products["download"])
    pass_line = order.lines.get(product=products["pass"])
    refund = refund_create(order_id=order.pk, line_ids=[download.pk, pass_line.pk], actor=operator)
    tasks.run_payments()
    _run_fulfilment(tasks)
    assert refund.status == RefundStatus.SUCCEEDED

    # Then the shopper gets one refund_issued, each refunded exhibitor's recipients one
    # sale_refunded naming its items
    new = Notification.objects.exclude(pk__in=before)
    assert Counter(new.filter(kind="refund_issued").values_list("recipient_user_id", flat=True)) == {shopper.pk: 1}
    sale = list(new.filter(kind="sale_refunded"))
    recipients = Counter(n.recipient_user_id or f"hook{n.endpoint_id}" for n in sale)
    assert recipients == {alpha_staff.pk: 1, f"hook{hook.pk}": 1, bravo_staff.pk: 1}, [
        (n.dedupe_key, sorted(n.context)) for n in sale]
    titles = {n.exhibitor_id: [line["title"] for line in n.context.get("lines", [])] for n in sale}
    assert titles == {alpha.pk: [download.title], bravo.pk: [pass_line.title]}
