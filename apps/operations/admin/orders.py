"""Orders in the admin (registered here, in operations: it acts through payments and fulfilment).

Operators see every order with all its lines and its event trail (read-only), cancel pending
orders, retry fulfilment and refund what is left of an order. Exhibitor staff see the orders that
contain their products, but only their own lines and their own amounts: another exhibitor's
lines of a mixed order, the order's total and its event trail are never shown to them, and an
order without their products answers 404. They refund their own lines.

Refunds go through the confirmation flow of apps.operations.admin.refunds. Nothing else here
writes.
"""

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from apps.fulfilment.services import fulfilment_retry
from apps.operations.admin.refunds import refund_response, selected_ids
from apps.orders.models import Order, OrderEvent, OrderLine, OrderStatus
from apps.payments.services.orders import order_cancel_with_payment
from marketplace.admin import (
    ExhibitorScopedAdmin,
    ReadOnlyAdminMixin,
    ScopedRelatedDropdownFilter,
    run_for_each,
)
from marketplace.money import format_money
from marketplace.tenancy import exhibitor_ids_for, is_operator, scope_to_user

# Badge colours of order statuses in the lists.
STATUS_VARIANT: dict[str, str] = {
    OrderStatus.PENDING_PAYMENT: "info", OrderStatus.PAID: "success", OrderStatus.FULFILLED: "success",
    OrderStatus.CANCELLED: "default", OrderStatus.EXPIRED: "default", OrderStatus.REFUNDED: "danger",
    OrderStatus.PARTIALLY_REFUNDED: "warning",
}


def _serials(line: OrderLine) -> str:
    serials = line.line_editions.order_by("edition__serial").values_list("edition__serial", flat=True)
    return ", ".join(f"#{serial}" for serial in serials)


def _is_staff_member(request: HttpRequest) -> bool:
    return bool(exhibitor_ids_for(request.user))


class OrderLineInline(ReadOnlyAdminMixin, TabularInline):
    """An order's lines; exhibitor staff get only the lines of their own exhibitors."""

    model = OrderLine
    extra = 0
    fields = ("title", "exhibitor", "slot", "quantity", "unit_price_display", "total_display", "serials", "bundle_display",
              "refunded")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return scope_to_user(super().get_queryset(request), request.user, path="exhibitor_id").select_related(
            "exhibitor", "slot", "refund_line", "bundle")

    @display(description=_("Part of bundle"))
    def bundle_display(self, line: OrderLine) -> str:
        # Text, not a link: a component's exhibitor may not manage the bundle (apps/catalog/services/bundles.py).
        return f"{line.bundle.title} × {line.bundle_quantity}" if line.bundle is not None else "-"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user) or _is_staff_member(request)

    @display(description=_("Unit price"))
    def unit_price_display(self, line: OrderLine) -> str:
        return format_money(line.unit_price, line.currency)

    @display(description=_("Total"))
    def total_display(self, line: OrderLine) -> str:
        return format_money(line.total, line.currency)

    @display(description=_("Serials"))
    def serials(self, line: OrderLine) -> str:
        return _serials(line)

    @display(description=_("Refunded"), boolean=True)
    def refunded(self, line: OrderLine) -> bool:
        return hasattr(line, "refund_line")


class OrderEventInline(ReadOnlyAdminMixin, TabularInline):
    """The whole order's trail: operators only (it carries the order's amounts and refunds)."""

    model = OrderEvent
    extra = 0
    fields = ("created_at", "from_status", "to_status", "actor", "note", "payload")
    readonly_fields = fields
    ordering = ("created_at", "id")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Operators: every order. Staff: orders containing their products, their lines only."""

    list_display = ("number", "user", "status_display", "needs_attention", "total_display", "created_at", "expires_at")
    staff_list_display = ("number", "status_display", "your_items", "your_total", "customer", "ordered_on")
    list_filter = ("status", "needs_attention")
    list_select_related = ("user",)
    search_fields = ("=number", "user__email")
    ordering = ("-created_at",)
    fields = ("id", "number", "user", "status", "needs_attention", "subtotal_display", "total_display", "expires_at",
              "status_changed_at", "created_at", "updated_at")
    staff_fields = ("number", "status", "customer", "your_total", "created_at")
    readonly_fields = (*fields, "customer", "your_total")
    inlines = (OrderLineInline, OrderEventInline)
    actions = ("refund_orders", "cancel_orders", "retry_fulfilment")

    # Who sees what -------------------------------------------------------------------------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or _is_staff_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user) or _is_staff_member(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        queryset = super().get_queryset(request)
        if is_operator(request.user):
            return queryset
        ids = exhibitor_ids_for(request.user)
        own = OrderLine.objects.filter(order_id=OuterRef("pk"), exhibitor_id__in=ids).values("order_id")
        return (queryset.filter(pk__in=OrderLine.objects.filter(exhibitor_id__in=ids).values("order_id"))
                .annotate(own_total=Subquery(own.annotate(t=Sum("total")).values("t")),
                          own_count=Subquery(own.annotate(n=Count("id")).values("n"))))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such order.")  # not theirs, or absent: the two look the same
        return obj

    def get_list_display(self, request: HttpRequest) -> Any:
        return self.list_display if is_operator(request.user) else self.staff_list_display

    def get_list_filter(self, request: HttpRequest) -> Any:
        return self.list_filter if is_operator(request.user) else ("status",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.fields if is_operator(request.user) else self.staff_fields

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if is_operator(request.user) else (OrderLineInline,)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        title = _("Orders") if is_operator(request.user) else _("Orders with your products")
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    # Columns -------------------------------------------------------------------------------------

    @display(description=_("Status"), ordering="status", label={v: v for v in set(STATUS_VARIANT.values())})
    def status_display(self, order: Order) -> tuple[str, str]:
        return STATUS_VARIANT.get(order.status, "default"), order.get_status_display()

    @display(description=_("Ordered on"), ordering="created_at")
    def ordered_on(self, order: Order) -> Any:
        return order.created_at

    @display(description=_("Total"), ordering="total")
    def total_display(self, order: Order) -> str:
        return format_money(order.total, order.currency)

    @display(description=_("Subtotal"))
    def subtotal_display(self, order: Order) -> str:
        return format_money(order.subtotal, order.currency)

    @display(description=_("Your total"))
    def your_total(self, order: Order) -> str:
        return format_money(getattr(order, "own_total", None) or 0, order.currency)

    @display(description=_("Your items"))
    def your_items(self, order: Order) -> Any:
        return getattr(order, "own_count", None) or 0

    @display(description=_("Customer"), ordering="user__email")
    def customer(self, order: Order) -> str:
        return order.user.email

    # Actions -------------------------------------------------------------------------------------

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or _is_staff_member(request)

    def get_urls(self) -> list[Any]:
        return [path("refund/", self.admin_site.admin_view(self.refund_view), name="orders_order_refund"),
                *super().get_urls()]

    @action(description=_("Refund selected orders…"), permissions=["refund"])
    def refund_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:100])
        return HttpResponseRedirect(f"{reverse('admin:orders_order_refund')}?{urlencode({'ids': ids})}")

    def refund_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_refund_permission(request):
            raise Http404("No such page.")
        raw = request.POST.get("ids") if request.method == "POST" else request.GET.get("ids")
        wanted = []
        for part in selected_ids(raw or ""):
            try:
                wanted.append(uuid.UUID(part))
            except ValueError:
                continue
        orders = list(self.get_queryset(request).filter(pk__in=wanted).select_related("user")
                      .prefetch_related("lines__refund_line").order_by("created_at"))
        if not orders:
            raise Http404("No such order.")
        title = _("Refund orders") if is_operator(request.user) else _("Refund your items")
        return refund_response(request, self, orders, line_ids=None,
                                back=reverse("admin:orders_order_changelist"), title=title)

    @action(description=_("Cancel selected pending orders (releases their holds)"), permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        run_for_each(
            request, self, queryset.filter(status=OrderStatus.PENDING_PAYMENT),
            lambda order: order_cancel_with_payment(order_id=order.pk, actor=request.user, note="cancelled by an operator"),
            _("Cancelled {count} order(s)."),
        )

    @action(description=_("Retry fulfilment of selected paid orders (clears needs attention)"), permissions=["cancel"])
    def retry_fulfilment(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        run_for_each(
            request, self, queryset.filter(status=OrderStatus.PAID),
            lambda order: fulfilment_retry(order_id=order.pk, actor=request.user),
            _("Fulfilment rescheduled for {count} order(s)."),
        )


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    """Lines of the acting user's exhibitors' products (all lines for operators), read-only."""

    exhibitor_path = "exhibitor_id"
    exhibitor_field = None
    list_display = ("order_number", "title", "quantity", "unit_price_display", "total_display", "slot", "order_status",
                    "created_at")
    list_filter = (("product", ScopedRelatedDropdownFilter), "order__status")
    list_select_related = ("order", "slot")
    actions = ("refund_lines",)
    search_fields = ("=order__number", "title")
    ordering = ("-created_at",)
    fields = ("order_number", "order_status", "product", "exhibitor", "slot", "title", "quantity", "unit_price",
              "total", "currency", "serials", "created_at")
    readonly_fields = fields

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        title = _("Order lines") if is_operator(request.user) else _("Items sold (your products)")
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return True  # rows are exhibitor-scoped; the service re-checks each line against the user

    def get_urls(self) -> list[Any]:
        return [path("refund/", self.admin_site.admin_view(self.refund_view), name="orders_orderline_refund"),
                *super().get_urls()]

    @action(description=_("Refund selected lines…"), permissions=["refund"])
    def refund_lines(self, request: HttpRequest, queryset: QuerySet[OrderLine]) -> HttpResponse:
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True)[:100])
        return HttpResponseRedirect(f"{reverse('admin:orders_orderline_refund')}?{urlencode({'ids': ids})}")

    def refund_view(self, request: HttpRequest) -> HttpResponse:
        raw = request.POST.get("ids") if request.method == "POST" else request.GET.get("ids")
        wanted = {int(part) for part in selected_ids(raw or "") if part.isdigit()}
        line_ids = set(self.get_queryset(request).filter(pk__in=wanted).values_list("pk", flat=True))
        if not line_ids:
            raise Http404("No such order line.")
        orders = list(Order.objects.filter(lines__in=line_ids).distinct().select_related("user")
                      .prefetch_related("lines__refund_line").order_by("created_at"))
        return refund_response(request, self, orders, line_ids=line_ids,
                                back=reverse("admin:orders_orderline_changelist"), title=_("Refund order lines"))

    @display(description=_("Order"), ordering="order__number")
    def order_number(self, line: OrderLine) -> str:
        return line.order.number

    @display(description=_("Order status"), ordering="order__status")
    def order_status(self, line: OrderLine) -> str:
        return line.order.get_status_display()

    @display(description=_("Unit price"), ordering="unit_price")
    def unit_price_display(self, line: OrderLine) -> str:
        return format_money(line.unit_price, line.currency)

    @display(description=_("Total"), ordering="total")
    def total_display(self, line: OrderLine) -> str:
        return format_money(line.total, line.currency)

    @display(description=_("Serials"))
    def serials(self, line: OrderLine) -> str:
        return _serials(line)
