"""Orders in the admin.

Operators see every order with its lines and event trail (read-only) and may cancel pending
orders (through the service). Exhibitor staff have no access to orders at all; they see only
the order lines of their own products (OrderLineAdmin, exhibitor-scoped), never the rest of a
mixed order. Nothing here writes except the cancel action, which calls `order_cancel`.
"""


from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from apps.orders import services
from apps.orders.models import Order, OrderEvent, OrderLine, OrderStatus
from marketplace.admin import (
    ExhibitorScopedAdmin,
    OperatorOnlyAdminMixin,
    ReadOnlyAdminMixin,
    ScopedRelatedDropdownFilter,
    run_for_each,
)
from marketplace.money import format_money
from marketplace.tenancy import is_operator


def _serials(line: OrderLine) -> str:
    serials = line.line_editions.order_by("edition__serial").values_list("edition__serial", flat=True)
    return ", ".join(f"#{serial}" for serial in serials)



class OrderLineInline(ReadOnlyAdminMixin, TabularInline):
    model = OrderLine
    extra = 0
    fields = ("product", "exhibitor", "slot", "quantity", "unit_price", "total", "serials")
    readonly_fields = fields
    show_change_link = False

    @display(description="Serials")
    def serials(self, line: OrderLine) -> str:
        return _serials(line)


class OrderEventInline(ReadOnlyAdminMixin, TabularInline):
    model = OrderEvent
    extra = 0
    fields = ("created_at", "from_status", "to_status", "actor", "note", "payload")
    readonly_fields = fields
    ordering = ("created_at", "id")


@admin.register(Order)
class OrderAdmin(OperatorOnlyAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Operators only: a mixed order spans exhibitors, so no exhibitor may see it whole."""

    list_display = ("number", "user", "status", "needs_attention", "total_display", "created_at", "expires_at")
    list_filter = ("status", "needs_attention")
    list_select_related = ("user",)
    search_fields = ("=number", "user__email")
    ordering = ("-created_at",)
    fields = ("id", "number", "user", "status", "needs_attention", "currency", "subtotal", "total", "expires_at",
              "status_changed_at", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (OrderLineInline, OrderEventInline)
    actions = ("cancel_orders", "retry_fulfilment")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    @action(description="Refund selected orders in full (what is left of them)", permissions=["refund"])
    def refund_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        from apps.payments.services.refunds import refund_remaining

        run_for_each(request, self, queryset,
                     lambda order: refund_remaining(order_id=order.pk, actor=request.user, reason="refunded by an operator"),
                     "Refunded {count} order(s).")

    @display(description="Total", ordering="total")
    def total_display(self, order: Order) -> str:
        return format_money(order.total, order.currency)

    @action(description="Cancel selected pending orders (releases their holds)", permissions=["cancel"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        run_for_each(
            request, self, queryset.filter(status=OrderStatus.PENDING_PAYMENT),
            lambda order: services.order_cancel(order_id=order.pk, actor=request.user, note="cancelled by an operator"),
            "Cancelled {count} order(s).",
        )

    @action(description="Retry fulfilment of selected paid orders (clears needs attention)", permissions=["cancel"])
    def retry_fulfilment(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        from apps.fulfilment.services import fulfilment_retry

        run_for_each(
            request, self, queryset.filter(status=OrderStatus.PAID),
            lambda order: fulfilment_retry(order_id=order.pk, actor=request.user),
            "Fulfilment rescheduled for {count} order(s).",
        )


@admin.register(OrderLine)
class OrderLineAdmin(ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    """Lines of the acting user's exhibitors' products (all lines for operators), read-only."""

    exhibitor_path = "exhibitor_id"
    exhibitor_field = None
    list_display = ("order_number", "title", "quantity", "unit_price_display", "slot", "order_status", "created_at")
    list_filter = (("product", ScopedRelatedDropdownFilter), "order__status")
    list_select_related = ("order", "slot")
    actions = ("refund_lines",)
    search_fields = ("=order__number", "title")
    ordering = ("-created_at",)
    fields = ("order_number", "order_status", "product", "exhibitor", "slot", "title", "quantity", "unit_price",
              "total", "currency", "serials", "created_at")
    readonly_fields = fields

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return True  # rows are exhibitor-scoped; the service re-checks each line against the user

    @action(description="Refund selected lines", permissions=["refund"])
    def refund_lines(self, request: HttpRequest, queryset: QuerySet[OrderLine]) -> None:
        from apps.payments.services.refunds import refund_create

        run_for_each(request, self, queryset,
                     lambda line: refund_create(order_id=line.order_id, line_ids=[line.pk], actor=request.user,
                                                reason="refunded from the admin"),
                     "Refunded {count} line(s).")

    @display(description="Order", ordering="order__number")
    def order_number(self, line: OrderLine) -> str:
        return line.order.number

    @display(description="Order status", ordering="order__status")
    def order_status(self, line: OrderLine) -> str:
        return line.order.get_status_display()

    @display(description="Unit price", ordering="unit_price")
    def unit_price_display(self, line: OrderLine) -> str:
        return format_money(line.unit_price, line.currency)

    @display(description="Serials")
    def serials(self, line: OrderLine) -> str:
        return _serials(line)
