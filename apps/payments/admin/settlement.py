"""The voucher settlement report in the admin (apps/payments/settlement.py): one row per campaign
with its counts and the subsidy owed; the campaign's page lists what is owed to each exhibitor.
Operators see every campaign; exhibitor staff the campaigns their exhibitor funds. Read-only."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.payments.models import VoucherSettlement
from apps.payments.settlement import CampaignSettlement, voucher_settlement
from marketplace.admin import ExhibitorScopedAdmin, ReadOnlyAdminMixin
from marketplace.money import format_money


@admin.register(VoucherSettlement)
class VoucherSettlementAdmin(ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    exhibitor_path = "funder_exhibitor_id"
    exhibitor_field = None
    list_display = ("slug", "title", "funder_kind", "issued", "claimed", "redeemed", "expired", "subsidy_owed")
    list_filter = ("funder_kind",)
    search_fields = ("slug", "title")
    fields = ("slug", "title", "funder_kind", "report")
    readonly_fields = fields

    def _report(self, obj: VoucherSettlement) -> CampaignSettlement:
        cache = getattr(self, "_reports", None)
        if cache is None or obj.pk not in cache:
            # The change list's rows at once (one report per row, computed when first shown).
            self._reports = {r.campaign_id: r for r in voucher_settlement(campaign_ids=[obj.pk])} | (cache or {})
        return self._reports[obj.pk]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        self._reports = {}
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("Issued"))
    def issued(self, obj: VoucherSettlement) -> int:
        return self._report(obj).issued

    @admin.display(description=_("Claimed"))
    def claimed(self, obj: VoucherSettlement) -> int:
        return self._report(obj).claimed

    @admin.display(description=_("Redeemed"))
    def redeemed(self, obj: VoucherSettlement) -> int:
        return self._report(obj).redeemed

    @admin.display(description=_("Expired"))
    def expired(self, obj: VoucherSettlement) -> int:
        return self._report(obj).expired

    @admin.display(description=_("Subsidy owed"))
    def subsidy_owed(self, obj: VoucherSettlement) -> str:
        report = self._report(obj)
        return format_money(report.subsidy_owed, report.currency)

    @admin.display(description=_("Settlement"))
    def report(self, obj: VoucherSettlement) -> str:
        r = self._report(obj)
        money = lambda amount: format_money(amount, r.currency)  # noqa: E731
        counts = [(_("Funder"), f"{r.funder} ({r.funder_kind})"), (_("Face value"), money(r.face_value)),
                  (_("Issued"), r.issued), (_("Claimed"), r.claimed), (_("Redeemed"), r.redeemed),
                  (_("Applied, unpaid"), r.applied), (_("Available"), r.available), (_("Expired"), r.expired),
                  (_("Returned to the pool"), r.returned_to_pool), (_("Orders refunded in full"), r.refunded_orders),
                  (_("Ledger of its orders"), _("%(ok)s balanced, %(open)s open, %(bad)s mismatch")
                   % {"ok": r.orders_balanced, "open": r.orders_open, "bad": r.orders_mismatched})]
        head = format_html_join("", "<tr><th class=\"px-2 py-1 text-left\">{}</th><td class=\"px-2 py-1\">{}</td></tr>",
                                ((label, value) for label, value in counts))
        rows = format_html_join("", "<tr><td class=\"px-2 py-1 border-t\">{}</td><td class=\"px-2 py-1 border-t\">{}</td>"
                                    "<td class=\"px-2 py-1 border-t\">{}</td><td class=\"px-2 py-1 border-t\">{}</td>"
                                    "<td class=\"px-2 py-1 border-t\">{}</td></tr>",
                                ((e.exhibitor, e.orders, money(e.paid), money(e.returned), money(e.owed)) for e in r.exhibitors))
        return format_html(
            '<table class="voucher-settlement text-sm">{}</table>'
            '<table class="voucher-settlement-exhibitors w-full text-sm mt-4"><thead><tr>'
            '<th class="px-2 py-1 text-left">{}</th><th class="px-2 py-1 text-left">{}</th><th class="px-2 py-1 text-left">{}</th>'
            '<th class="px-2 py-1 text-left">{}</th><th class="px-2 py-1 text-left">{}</th></tr></thead><tbody>{}</tbody>'
            '<tfoot><tr><th class="px-2 py-1 text-left" colspan="4">{}</th><th class="px-2 py-1 text-left">{}</th></tr></tfoot>'
            '</table>',
            head, _("Exhibitor"), _("Orders"), _("Subsidy paid"), _("Returned by refunds"), _("Owed"), rows,
            _("Owed in total"), money(r.subsidy_owed))
