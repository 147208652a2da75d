"""Everything an exhibitor's staff member can reach in the admin, and nothing of another exhibitor.

Data-driven over `admin.site`: every registered model is checked. A model staff can reach needs an
entry in OWN_OBJECT (how to make one object of a given exhibitor), so a newly registered model
fails here until someone says what staff should see of it; a model staff cannot reach must
refuse its pages.
"""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from apps.catalog import services as catalog_services
from apps.catalog.models import DownloadFile, Edition, LicenceKey, Product, ServiceSlot
from apps.exhibitors.models import Exhibitor
from tests.factories import (
    ExhibitorFactory,
    ProductFactory,
    ServiceSlotFactory,
    ShopperFactory,
    WebhookEndpointFactory,
    add_download_file,
    paid_order,
    place_order,
    staff_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def _product(exhibitor: Exhibitor, **kwargs: Any) -> Any:
    return ProductFactory(exhibitor=exhibitor, title=f"{exhibitor.name} {kwargs.pop('label', 'product')}", **kwargs)


def _order_line(exhibitor: Exhibitor) -> Any:
    from apps.orders.models import OrderLine

    shopper: Any = ShopperFactory()
    order = place_order(shopper, (_product(exhibitor, label="ordered"), 1))
    return OrderLine.objects.get(order=order)


def _entitlement(exhibitor: Exhibitor) -> Any:
    from apps.fulfilment import services as fulfilment_services

    now = timezone.now()
    product = _product(exhibitor, label="pass", pass_=True, pass_valid_from=now, pass_valid_until=now + timedelta(days=1))
    shopper: Any = ShopperFactory()
    order = paid_order(shopper, (product, 1))
    [entitlement] = fulfilment_services.fulfilment_fulfil_order(order_id=order.pk)
    return entitlement


def _webhook_delivery(exhibitor: Exhibitor) -> Any:
    from apps.notifications.models import Notification, WebhookDelivery

    endpoint: Any = WebhookEndpointFactory(exhibitor=exhibitor, url=f"http://127.0.0.1:9/{exhibitor.slug}")
    notification = Notification.objects.create(dedupe_key=f"reach-{exhibitor.slug}", kind="new_sale", channel="webhook",
                                               exhibitor=exhibitor, endpoint=endpoint)
    return WebhookDelivery.objects.create(notification=notification, endpoint=endpoint, exhibitor=exhibitor, attempt=1,
                                          event_id=f"evt_{exhibitor.slug}", request_body="{}", response_status=200)


def _transfer(exhibitor: Exhibitor, **kwargs: Any) -> Any:
    """A payout row of a paid order of `exhibitor` (the money flow itself is tested in tests/payments)."""
    from apps.payments.models import Payment, Transfer

    shopper: Any = ShopperFactory()
    order = paid_order(shopper, (_product(exhibitor, label="paid out"), 1))
    payment = Payment.objects.create(order=order, attempt=1, provider="simulated", amount=order.total,
                                     currency=order.currency, status="succeeded", provider_reference=f"sim_pi_reach_{order.pk}")
    return Transfer.objects.create(order=order, exhibitor=exhibitor, payment=payment, currency=order.currency,
                                   gross=order.total, commission=order.total // 10, amount=order.total - order.total // 10,
                                   status="sent", provider_reference=f"sim_tr_reach_{order.pk}", **kwargs)


def _reversal(exhibitor: Exhibitor) -> Any:
    from apps.payments.models import Refund, TransferReversal

    transfer = _transfer(exhibitor)
    refund = Refund.objects.create(order=transfer.order, payment=transfer.payment, amount=100, currency=transfer.currency,
                                   status="succeeded")
    return TransferReversal.objects.create(transfer=transfer, refund=refund, amount=90, commission_returned=10, status="sent")


def _connect_account(exhibitor: Exhibitor) -> Any:
    from apps.payments.models import ConnectAccount

    return ConnectAccount.objects.create(exhibitor=exhibitor, provider="simulated", account_reference=f"sim_acct_{exhibitor.pk}")


def _licence_key(exhibitor: Exhibitor) -> LicenceKey:
    product = _product(exhibitor, label="keys")
    catalog_services.licence_keys_add(product=product, keys=[f"{exhibitor.slug.upper()}-KEY-0001"])
    return LicenceKey.objects.get(product=product)


# One object of `exhibitor` per model staff may reach. A model missing here fails the test.
OWN_OBJECT: dict[type[Model], Callable[[Exhibitor], Any]] = {
    Exhibitor: lambda exhibitor: exhibitor,
    Product: lambda exhibitor: _product(exhibitor),
    Edition: lambda exhibitor: _product(exhibitor, label="print", collectible=True).editions.first(),
    ServiceSlot: lambda exhibitor: ServiceSlotFactory(product=_product(exhibitor, label="consultation", service=True)),
    DownloadFile: lambda exhibitor: add_download_file(_product(exhibitor, label="files"), name=f"{exhibitor.slug}-guide.pdf"),
    LicenceKey: _licence_key,
}


def _shopper() -> Any:
    return ShopperFactory()


def _lazy_entries() -> None:
    """Models of the upper layers, imported here so the catalog's entries above stay importable alone."""
    from apps.fulfilment.models import Entitlement
    from apps.notifications.models import ExhibitorWebhookEndpoint, WebhookDelivery
    from apps.orders.models import Order, OrderLine

    OWN_OBJECT.setdefault(OrderLine, _order_line)
    OWN_OBJECT.setdefault(Entitlement, _entitlement)
    OWN_OBJECT.setdefault(ExhibitorWebhookEndpoint, lambda e: WebhookEndpointFactory(exhibitor=e, url=f"http://127.0.0.1:9/{e.slug}"))
    OWN_OBJECT.setdefault(WebhookDelivery, _webhook_delivery)
    OWN_OBJECT.setdefault(Order, lambda e: place_order(_shopper(), (_product(e, label="in an order"), 1)))
    from apps.payments.models import ConnectAccount, Transfer, TransferReversal

    OWN_OBJECT.setdefault(Transfer, _transfer)
    OWN_OBJECT.setdefault(TransferReversal, _reversal)
    OWN_OBJECT.setdefault(ConnectAccount, _connect_account)


_lazy_entries()


def _drops_entries() -> None:
    """The drops' admins (tests/drops): a ballot, a registration and a holder priority of the exhibitor."""
    from apps.catalog.models import Ballot, BallotEntry, HolderPriority
    from apps.catalog.services import ballots, drops

    def ballot(exhibitor: Exhibitor) -> Any:
        now = timezone.now()
        return ballots.ballot_save(product=_product(exhibitor, label="ballot", collectible=True),
                                   registration_starts_at=now - timedelta(hours=1), registration_ends_at=now + timedelta(hours=1),
                                   draw_at=now + timedelta(hours=2), purchase_window_minutes=60)

    def priority(exhibitor: Exhibitor) -> Any:
        starts = timezone.now() + timedelta(days=2)
        return drops.holder_priority_save(
            product=_product(exhibitor, label="lanterns", collectible=True, sale_starts_at=starts),
            starts_at=starts - timedelta(days=1), holders_of=[_product(exhibitor, label="koi", collectible=True)])

    OWN_OBJECT.setdefault(Ballot, ballot)
    OWN_OBJECT.setdefault(BallotEntry, lambda e: ballots.ballot_register(product_id=ballot(e).product_id, user=_shopper()))
    OWN_OBJECT.setdefault(HolderPriority, priority)


_drops_entries()


def _voucher_entries() -> None:
    """The vouchers' admins (tests/vouchers): a campaign the exhibitor funds, a voucher of it, its
    redemption by an order, and the campaign's settlement page."""
    from apps.payments.models import VoucherSettlement
    from apps.vouchers import services as voucher_services
    from apps.vouchers.models import Campaign, FunderKind, Redemption, Voucher
    from tests.factories import OperatorFactory

    def campaign(exhibitor: Exhibitor) -> Any:
        now = timezone.now()
        return voucher_services.campaign_save(campaign=Campaign(
            slug=f"{exhibitor.slug}-voucher", title=f"{exhibitor.name} voucher", funder_kind=FunderKind.EXHIBITOR,
            funder_exhibitor=exhibitor, currency="CNY", face_value=100, min_spend=200, budget=1000,
            claim_starts_at=now - timedelta(hours=1), claim_ends_at=now + timedelta(days=1)), actor=OperatorFactory())

    def voucher(exhibitor: Exhibitor) -> Any:
        return voucher_services.voucher_claim(campaign=Campaign.objects.filter(slug=f"{exhibitor.slug}-voucher").first()
                                              or campaign(exhibitor), user=_shopper())

    def redemption(exhibitor: Exhibitor) -> Any:
        from apps.orders.services import LineRequest, order_place

        claimed = voucher(exhibitor)
        order = order_place(user=claimed.user, lines=[LineRequest(product_id=_product(exhibitor, label="discounted").pk,
                                                                  quantity=1)], voucher_id=claimed.pk)
        return Redemption.objects.get(order=order)

    OWN_OBJECT.setdefault(Campaign, campaign)
    OWN_OBJECT.setdefault(Voucher, voucher)
    OWN_OBJECT.setdefault(Redemption, redemption)
    OWN_OBJECT.setdefault(VoucherSettlement, lambda e: VoucherSettlement.objects.get(pk=campaign(e).pk))


_voucher_entries()

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def _can_reach(model_admin: Any, user: Any) -> bool:
    request = RequestFactory().get("/admin/")
    request.user = user
    return bool(model_admin.has_module_permission(request) or model_admin.has_view_permission(request))


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def alpha() -> Any:
    return ExhibitorFactory(slug="alpha", name="Alpha")


@pytest.fixture
def bravo() -> Any:
    return ExhibitorFactory(slug="bravo", name="Bravo")


@pytest.fixture
def staff(alpha: Exhibitor) -> Any:
    return staff_of(alpha, email="staff@alpha.test")


@pytest.fixture
def client(staff: Any) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize(("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED])
def test_staff_reach_only_their_own_rows(model, model_admin, staff, client, alpha, bravo):
    if not _can_reach(model_admin, staff):
        # Not for exhibitor staff: every page of it is refused, and the index does not list it.
        assert client.get(_url(model, "changelist")).status_code == 403
        index = client.get(reverse("admin:index")).content.decode()
        assert _url(model, "changelist") not in index
        return

    assert model in OWN_OBJECT, (
        f"Exhibitor staff can reach {model._meta.label} in the admin: add a factory for it to OWN_OBJECT "
        "in tests/test_admin_reach.py so their view of it is tested.")
    ours = OWN_OBJECT[model](alpha)
    theirs = OWN_OBJECT[model](bravo)

    if model._meta.label == "payments.ConnectAccount":
        # Staff have no list of payout accounts: the list sends them to their own Payouts page
        response = client.get(_url(model, "changelist"), follow=True)
        assert response.redirect_chain and response.status_code == 200
        html = response.content.decode()
        assert alpha.name in html and bravo.name not in html
        assert client.get(reverse("admin:payments_payouts_exhibitor", args=[bravo.pk])).status_code == 404
        assert client.get(_url(model, "change", theirs.pk)).status_code == 404
        return

    # The change list: their row is there, by its name; the other exhibitor's is not
    response = client.get(_url(model, "changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert str(model._meta.verbose_name_plural).lower() in html.lower()
    rows = {obj.pk for obj in response.context["cl"].result_list}
    assert ours.pk in rows and theirs.pk not in rows
    assert _url(model, "change", ours.pk) in html
    assert _url(model, "change", theirs.pk) not in html

    # The add page, where they may add
    request = RequestFactory().get("/admin/")
    request.user = staff
    if model_admin.has_add_permission(request):
        response = client.get(_url(model, "add"))
        assert response.status_code == 200
        assert str(model._meta.verbose_name).lower() in response.content.decode().lower()

    # Their object's page shows it; the other exhibitor's answers 404 (not 403, not a redirect)
    response = client.get(_url(model, "change", ours.pk))
    assert response.status_code == 200
    assert escape(str(ours)) in response.content.decode()
    assert client.get(_url(model, "change", theirs.pk)).status_code == 404
    assert client.get(_url(model, "history", theirs.pk)).status_code == 404


def test_the_index_lists_what_staff_reach(staff, client):
    html = client.get(reverse("admin:index")).content.decode()
    reachable = [model for model, model_admin in REGISTERED if _can_reach(model_admin, staff)]
    assert Product in reachable and Exhibitor in reachable
    for model in reachable:
        assert _url(model, "changelist") in html, model._meta.label
