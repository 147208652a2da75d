"""Payouts in the admin: the simulated onboarding (not enabled before it is completed; completing
it enables payouts and pays what was waiting, ledger balanced), the Payouts page and the transfer
lists for staff (own exhibitor only, foreign ids 404) and operators (all, retry)."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.payments.models import ConnectAccount, ConnectStatus, LedgerEntry, Transfer, TransferStatus, WebhookEvent
from apps.payments.providers.base import PaymentProviderError
from apps.payments.providers.simulated import SimulatedProvider
from apps.payments.selectors import ledger_order_balance, ledger_report
from apps.payments.services.payouts import (
    connect_account_sync,
    connect_onboarding_start,
    connect_simulated_onboarding_complete,
    transfer_retry,
)
from marketplace.errors import InvalidState
from tests.factories import staff_of

# transaction=True: on_commit hooks (task enqueueing) must really fire mid-test.
pytestmark = pytest.mark.django_db(transaction=True)


def _pay(client_a, order, tasks):
    response = client_a.post(f"/api/v1/orders/{order.pk}/payment/simulate", {"outcome": "succeeded"}, format="json")
    assert response.status_code == 202
    tasks.run_payments()
    order.refresh_from_db()
    return order


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def bravo_waiting(client_a, order, tasks, bravo):
    """Bravo sold in a paid order but has no payout account yet: its transfer waits."""
    ConnectAccount.objects.filter(exhibitor=bravo).delete()
    _pay(client_a, order, tasks)
    transfer = Transfer.objects.get(order=order, exhibitor=bravo)
    assert transfer.status == TransferStatus.AWAITING_ACCOUNT
    return transfer


@pytest.fixture
def bravo_staff(bravo):
    return staff_of(bravo, email="staff@bravo.test")


@pytest.fixture
def alpha_staff(alpha):
    return staff_of(alpha, email="staff@alpha.test")


# --- Services --------------------------------------------------------------------------------------


def test_a_simulated_account_is_not_enabled_before_onboarding_is_completed(bravo_waiting, bravo, tasks):
    account = connect_onboarding_start(exhibitor_id=bravo.pk)

    assert account.status == ConnectStatus.PENDING
    assert f"/simulated/connect/{account.account_reference}/onboarding/" in account.onboarding_url
    assert SimulatedProvider().retrieve_account(reference=account.account_reference).payouts_enabled is False
    tasks.run_payments()
    assert connect_account_sync(account_id=account.pk) == ConnectStatus.PENDING
    assert Transfer.objects.get(pk=bravo_waiting.pk).status == TransferStatus.AWAITING_ACCOUNT
    assert ledger_order_balance(order_id=bravo_waiting.order_id).status == "open"


def test_completing_onboarding_enables_payouts_and_pays_what_was_waiting(bravo_waiting, bravo):
    account = connect_onboarding_start(exhibitor_id=bravo.pk)

    account = connect_simulated_onboarding_complete(account_id=account.pk)

    assert account.status == ConnectStatus.ENABLED
    transfer = Transfer.objects.get(pk=bravo_waiting.pk)
    assert transfer.status == TransferStatus.SENT
    assert transfer.destination == account.account_reference
    assert transfer.amount == 6010 - 751  # 2 × 30.05 less 12.5 % commission (rounded half up)
    assert ledger_order_balance(order_id=transfer.order_id).status == "balanced"
    assert ledger_report().unbalanced == []
    assert SimulatedProvider().retrieve_account(reference=account.account_reference).payouts_enabled is True


def test_the_account_becoming_enabled_has_its_audit_row_with_who_completed_it(bravo_waiting, bravo, operator):
    from marketplace.models import AuditEvent

    account = connect_onboarding_start(exhibitor_id=bravo.pk)
    connect_simulated_onboarding_complete(account_id=account.pk, actor=operator)

    [row] = AuditEvent.objects.filter(object_id=str(account.pk), content_type__model="connectaccount")
    assert (row.name, row.from_state, row.to_state, row.actor_id) == ("sync", "pending", "enabled", operator.pk)
    assert row.payload["payouts_enabled"] is True


def test_completing_onboarding_twice_records_it_once_and_pays_once(bravo_waiting, bravo):
    account = connect_onboarding_start(exhibitor_id=bravo.pk)
    connect_simulated_onboarding_complete(account_id=account.pk)
    entries = LedgerEntry.objects.count()

    connect_simulated_onboarding_complete(account_id=account.pk)

    assert LedgerEntry.objects.count() == entries
    assert WebhookEvent.objects.filter(object_reference=account.account_reference, type="account.updated").count() == 1
    assert ledger_report().unbalanced == []


def test_a_stripe_account_is_not_completed_by_the_simulation(bravo):
    account = ConnectAccount.objects.filter(exhibitor=bravo).get()
    ConnectAccount.objects.filter(pk=account.pk).update(provider="stripe", account_reference="acct_real")

    with pytest.raises(InvalidState):
        connect_simulated_onboarding_complete(account_id=account.pk)


def test_retrying_a_failed_transfer_sends_it_and_balances_the_ledger(client_a, order, tasks, bravo):
    _pay(client_a, order, tasks)
    transfer = Transfer.objects.get(order=order, exhibitor=bravo)
    LedgerEntry.objects.filter(key__in=[f"transfer:{transfer.pk}", f"commission:{transfer.pk}"]).delete()
    Transfer.objects.filter(pk=transfer.pk).update(status=TransferStatus.FAILED, provider_reference=None,
                                                   failure_message="Simulated refusal")

    assert transfer_retry(transfer_id=transfer.pk) == TransferStatus.SENT
    assert transfer_retry(transfer_id=transfer.pk) == TransferStatus.SENT  # twice: nothing more happens
    assert ledger_order_balance(order_id=order.pk).status == "balanced"


def test_a_refused_transfer_is_retried_as_a_new_attempt_and_an_unknown_outcome_is_not(client_a, order, tasks, bravo,
                                                                                    monkeypatch):
    # Given the provider refuses Bravo's payout definitely, once
    calls: list[int] = []
    real = SimulatedProvider.create_transfer

    def refuse_first(self, **kwargs):
        if Transfer.objects.get(pk=kwargs["transfer_id"]).exhibitor_id != bravo.pk:
            return real(self, **kwargs)
        calls.append(kwargs["attempt"])
        if len(calls) == 1:
            raise PaymentProviderError("Destination account cannot receive transfers.", retryable=False)
        if len(calls) == 2:
            raise PaymentProviderError("Timed out.", retryable=True)
        return real(self, **kwargs)

    monkeypatch.setattr(SimulatedProvider, "create_transfer", refuse_first)
    _pay(client_a, order, tasks)
    transfer = Transfer.objects.get(order=order, exhibitor=bravo)
    assert (transfer.status, transfer.attempt) == (TransferStatus.FAILED, 1)

    # When an operator retries it, it goes as attempt 2 (a new idempotency key); the outcome is unknown
    assert transfer_retry(transfer_id=transfer.pk) == TransferStatus.SENDING
    # and a retry of that unknown outcome stays attempt 2 (same key: never paid twice)
    assert transfer_retry(transfer_id=transfer.pk) == TransferStatus.SENT
    assert calls == [1, 2, 2]
    assert Transfer.objects.get(pk=transfer.pk).attempt == 2
    assert ledger_order_balance(order_id=order.pk).status == "balanced"


def test_retrying_a_transfer_without_an_account_keeps_it_waiting(bravo_waiting):
    assert transfer_retry(transfer_id=bravo_waiting.pk) == TransferStatus.AWAITING_ACCOUNT


# --- The Payouts page and the simulated onboarding page ---------------------------------------------


def test_staff_set_up_payouts_through_the_simulated_page(bravo_waiting, bravo, bravo_staff):
    client = _client(bravo_staff)
    page_url = reverse("admin:payments_payouts_exhibitor", args=[bravo.pk])

    page = client.get(page_url)
    assert page.status_code == 200
    assert "Not set up" in page.content.decode() and "Set up payouts" in page.content.decode()
    assert client.get(reverse("admin:payments_payouts")).url == page_url  # their one exhibitor

    started = client.post(page_url, {"step": "start"})
    account = ConnectAccount.objects.get(exhibitor=bravo)
    assert started.status_code == 302
    assert started.url.startswith(f"/simulated/connect/{account.account_reference}/onboarding/")
    onboarding = client.get(started.url)
    assert onboarding.status_code == 200
    assert "simulation" in onboarding.content.decode()
    assert "CNY 60.10" in onboarding.content.decode()
    assert Transfer.objects.get(pk=bravo_waiting.pk).status == TransferStatus.AWAITING_ACCOUNT

    done = client.post(started.url, {"step": "complete"})

    assert done.status_code == 302 and done.url == page_url
    assert ConnectAccount.objects.get(exhibitor=bravo).status == ConnectStatus.ENABLED
    assert Transfer.objects.get(pk=bravo_waiting.pk).status == TransferStatus.SENT
    after = client.get(page_url).content.decode()
    assert "Payouts enabled" in after and "CNY 52.59" in after


def test_not_now_on_the_simulated_page_changes_nothing(bravo_waiting, bravo, bravo_staff):
    client = _client(bravo_staff)
    started = client.post(reverse("admin:payments_payouts_exhibitor", args=[bravo.pk]), {"step": "start"})

    client.post(started.url, {"step": "cancel"})

    assert ConnectAccount.objects.get(exhibitor=bravo).status == ConnectStatus.PENDING
    assert Transfer.objects.get(pk=bravo_waiting.pk).status == TransferStatus.AWAITING_ACCOUNT


def test_staff_of_another_exhibitor_get_404_everywhere(bravo_waiting, bravo, alpha_staff):
    client = _client(alpha_staff)
    page_url = reverse("admin:payments_payouts_exhibitor", args=[bravo.pk])
    account = connect_onboarding_start(exhibitor_id=bravo.pk)
    onboarding = f"/simulated/connect/{account.account_reference}/onboarding/"

    assert client.get(page_url).status_code == 404
    assert client.post(page_url, {"step": "start"}).status_code == 404
    assert client.get(onboarding).status_code == 404
    assert client.post(onboarding, {"step": "complete"}).status_code == 404
    assert client.get(reverse("admin:payments_transfer_change", args=[bravo_waiting.pk])).status_code == 404
    listing = client.get(reverse("admin:payments_transfer_changelist")).content.decode()
    assert ConnectAccount.objects.get(exhibitor=bravo).status == ConnectStatus.PENDING
    assert ConnectAccount.objects.get(exhibitor=bravo).links_created == 1  # A's POST started nothing
    assert bravo_waiting.order.number in listing  # alpha sold in the same order: its own transfer shows
    assert Transfer.objects.filter(exhibitor__memberships__user=alpha_staff).count() == 1
    assert "CNY 60.10" not in listing  # bravo's sales are not shown


def test_staff_see_their_transfers_in_major_units_with_currency(client_a, order, tasks, alpha, alpha_staff):
    _pay(client_a, order, tasks)

    listing = _client(alpha_staff).get(reverse("admin:payments_transfer_changelist"))

    body = listing.content.decode()
    assert listing.status_code == 200
    assert "Your payouts" in body and "Paid out" in body
    assert order.number in body
    assert "CNY 107.99" in body  # 19.99 + 88.00 of sales
    assert "CNY 97.19" in body  # less 10 % commission (10.80)
    assert 'name="action"' not in body  # no retry for staff


def test_operators_see_all_transfers_and_retry_them(bravo_waiting, operator, bravo):
    client = _client(operator)
    listing = client.get(reverse("admin:payments_transfer_changelist")).content.decode()
    assert "Bravo" in listing and "Alpha" in listing and "retry" in listing
    connect_simulated_onboarding_complete(account_id=connect_onboarding_start(exhibitor_id=bravo.pk).pk)
    Transfer.objects.filter(pk=bravo_waiting.pk).update(status=TransferStatus.AWAITING_ACCOUNT)

    response = client.post(reverse("admin:payments_transfer_changelist"),
                           {"action": "retry", "_selected_action": [str(bravo_waiting.pk)]})

    assert response.status_code == 302
    assert Transfer.objects.get(pk=bravo_waiting.pk).status == TransferStatus.SENT
    assert ledger_report().unbalanced == []


def test_operator_opens_any_exhibitors_payouts_page_and_the_exhibitor_page_links_it(operator, bravo):
    client = _client(operator)

    assert client.get(reverse("admin:payments_payouts_exhibitor", args=[bravo.pk])).status_code == 200
    assert "Bravo" in client.get(reverse("admin:payments_payouts")).content.decode()
    change = client.get(reverse("admin:exhibitors_exhibitor_change", args=[bravo.pk])).content.decode()
    assert reverse("admin:payments_payouts_exhibitor", args=[bravo.pk]) in change
