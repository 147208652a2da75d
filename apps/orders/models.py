"""Orders, their lines and inventory holds, the audit trail, and per-customer quotas.

The order state machine is the table `ORDER_TRANSITIONS` below (name -> allowed sources, target).
The services in `apps.orders.services.transitions` move an order through the kernel's one
transition helper (`marketplace.transitions.transition`, DESIGN.md habit 3), like every other
state machine: lock the row, check the source state, write with `update_fields` and an
`OrderEvent` in the same transaction. Nothing else writes `status`.

    pending_payment -> paid -> fulfilled
    pending_payment -> cancelled | expired
    cancelled | expired -> paid  (a late payment, only if the inventory could be re-claimed)
    paid | fulfilled | partially_refunded -> refunded | partially_refunded
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from marketplace.models import TimeStampedModel

# No 0/O, 1/I/L, U: numbers are read aloud to the help desk.
NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
NUMBER_PREFIX = "EX"


def new_order_number() -> str:
    """E.g. "EX-7K3F-9QZ2": 30^8 (6.6e11) values, unique in the database (collisions retried)."""
    chars = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))
    return f"{NUMBER_PREFIX}-{chars[:4]}-{chars[4:]}"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    PAID = "paid", _("Paid")
    FULFILLED = "fulfilled", _("Fulfilled")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


REFUNDABLE = [OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED]

# name -> (states it may start from, state it ends in)
ORDER_TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "pay": (frozenset({OrderStatus.PENDING_PAYMENT}), OrderStatus.PAID),
    # A payment succeeded after the hold was released, and the inventory was re-claimed.
    "pay_late": (frozenset({OrderStatus.EXPIRED, OrderStatus.CANCELLED}), OrderStatus.PAID),
    "fulfil": (frozenset({OrderStatus.PAID}), OrderStatus.FULFILLED),
    "cancel": (frozenset({OrderStatus.PENDING_PAYMENT}), OrderStatus.CANCELLED),
    "expire": (frozenset({OrderStatus.PENDING_PAYMENT}), OrderStatus.EXPIRED),
    "refund": (frozenset(REFUNDABLE), OrderStatus.REFUNDED),
    "refund_partially": (frozenset(REFUNDABLE), OrderStatus.PARTIALLY_REFUNDED),
}


class Order(TimeStampedModel):
    # Random ids: an order id in a URL reveals nothing and cannot be guessed (BOLA defence in depth).
    id = models.UUIDField(_("ID"), primary_key=True, default=uuid.uuid4, editable=False)
    number = models.CharField(_("order number"), max_length=16, unique=True, default=new_order_number, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders",
                             verbose_name=_("customer"))
    status = models.CharField(_("status"), max_length=30, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT,
                              db_index=True)
    needs_attention = models.BooleanField(_("needs attention"), default=False,
                                          help_text=_("Paid but could not be fulfilled: an operator must act."))
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.PositiveBigIntegerField(_("subtotal"), help_text=_("Minor units."))
    discount = models.PositiveBigIntegerField(_("discount"), default=0,
                                              help_text=_("Minor units taken off the subtotal by a voucher."))
    total = models.PositiveBigIntegerField(_("total"), help_text=_("Minor units: subtotal less discount, what the shopper pays."))
    expires_at = models.DateTimeField(_("expires at"), help_text=_("Unpaid holds are released after this time."))
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="order_user_created"),
            # The expiry sweep reads only pending orders, oldest deadline first.
            models.Index(fields=["expires_at"], condition=Q(status="pending_payment"), name="order_pending_expiry"),
            # The operations console counts and ages each open state (pending, paid) without
            # touching the fulfilled/cancelled bulk; the partial index covers the attention flag.
            models.Index(fields=["status", "status_changed_at"], name="order_status_changed"),
            models.Index(fields=["status_changed_at"], condition=Q(needs_attention=True), name="order_needs_attention"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total=F("subtotal") - F("discount")), name="order_total_is_subtotal_less_discount"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="order_lines",
                                verbose_name=_("product"))
    # Denormalised from the product so exhibitor staff are scoped to their lines without a join.
    exhibitor = models.ForeignKey("exhibitors.Exhibitor", on_delete=models.PROTECT, related_name="order_lines",
                                  verbose_name=_("exhibitor"))
    slot = models.ForeignKey("catalog.ServiceSlot", null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines",
                             verbose_name=_("service slot"))
    title = models.CharField(_("title"), max_length=200, help_text=_("Product title when ordered."))
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.PositiveBigIntegerField(_("unit price"), help_text=_("Minor units, from the product row when ordered."))
    total = models.PositiveBigIntegerField(_("total"), help_text=_("Minor units."))
    currency = models.CharField(_("currency"), max_length=3)
    # What this line took from shared counters, so a release gives back exactly that even if the
    # product's stock or limit settings changed meanwhile.
    stock_held = models.PositiveIntegerField(_("stock held"), default=0, editable=False)
    quota_counted = models.PositiveIntegerField(_("quota counted"), default=0, editable=False)
    # A bundle is sold as ordinary lines of its components (apps/orders/services/bundles.py), each
    # priced at its share, so fulfilment, payouts and refunds work per line and exhibitor as ever.
    bundle = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("bundle"), help_text=_("The bundle this line is part of, if any."))
    bundle_quantity = models.PositiveIntegerField(_("bundles"), null=True, blank=True,
                                                  help_text=_("How many of the bundle were ordered."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(total=F("unit_price") * F("quantity")),
                                   name="orderline_total_is_price_times_quantity"),
            models.CheckConstraint(condition=Q(bundle__isnull=True, bundle_quantity__isnull=True)
                                   | Q(bundle__isnull=False, bundle_quantity__gte=1), name="orderline_bundle_with_quantity"),
        ]
        indexes = [models.Index(fields=["exhibitor", "-created_at"], name="orderline_exhibitor_created")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"


class OrderLineEdition(models.Model):
    """A numbered edition held (then sold) by an order line.

    The link lives on the orders side so the catalog never imports orders (orders already depends
    on catalog); the one-to-one makes a double sale of an edition impossible in the database.
    Rows are deleted when the hold is released.
    """

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="line_editions", verbose_name=_("order line"))
    edition = models.OneToOneField("catalog.Edition", on_delete=models.PROTECT, related_name="order_line_link",
                                   verbose_name=_("edition"))

    class Meta:
        verbose_name = _("order line edition")
        verbose_name_plural = _("order line editions")
        ordering = ["line_id", "edition_id"]

    def __str__(self) -> str:
        return f"{self.line_id} → {self.edition_id}"


class OrderEvent(models.Model):
    """One row per state transition (and other notable changes): the order's audit trail."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    from_status = models.CharField(_("from status"), max_length=30, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=30, choices=OrderStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("actor"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created_at", "id"]
        # Throughput over the last hour reads only recent events (operations console).
        indexes = [models.Index(fields=["created_at"], name="orderevent_created")]

    def __str__(self) -> str:
        return f"{self.get_from_status_display() or '∅'} → {self.get_to_status_display()}"


class CustomerProductQuota(models.Model):
    """Units of a limited product a shopper holds across open and paid orders.

    Claimed by a conditional upsert (`units + q <= limit`) so the per-customer limit holds under
    concurrency without a Python check-then-save; given back when an order is cancelled or expires.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer"))
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+", verbose_name=_("product"))
    units = models.PositiveIntegerField(_("units"), default=0)

    class Meta:
        verbose_name = _("customer product quota")
        verbose_name_plural = _("customer product quotas")
        constraints = [models.UniqueConstraint(fields=["user", "product"], name="quota_unique_user_product")]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.product_id}: {self.units}"
