"""Voucher campaigns in the admin: operators create any campaign; exhibitor staff create and see
only campaigns their own exhibitor funds, for its own goods (tenancy through the funder). Writes
go through the services (`campaign_save`, `campaign_set_scope`); vouchers and redemptions are
read-only rows the claim and order flows write. The settlement report is in payments' admin
(it reads the ledger)."""

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import Product, ProductKind
from apps.exhibitors.models import Exhibitor
from apps.vouchers import services
from apps.vouchers.models import Campaign, FunderKind, Redemption, Voucher
from marketplace.admin import (
    AuditTrailMixin,
    ExhibitorScopedAdmin,
    FullCleanFormMixin,
    MajorUnitsMoneyField,
    MajorUnitsMoneyFormMixin,
    ReadOnlyAdminMixin,
    money_display,
)
from marketplace.tenancy import is_operator, scope_to_user


class CampaignAdminForm(FullCleanFormMixin, MajorUnitsMoneyFormMixin, forms.ModelForm):
    money_fields = {"face_value": "currency", "min_spend": "currency", "budget": "currency"}
    face_value = MajorUnitsMoneyField(label=_("face value"), help_text=_("Taken off an order, e.g. 10.00."))
    min_spend = MajorUnitsMoneyField(label=_("minimum spend"), help_text=_("Goods in scope an order needs, e.g. 20.00."))
    budget = MajorUnitsMoneyField(label=_("budget"), help_text=_("Issues budget ÷ face value vouchers, e.g. 500.00."))
    scope_kinds = forms.MultipleChoiceField(label=_("kinds in scope"), choices=ProductKind.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: every kind."))

    class Meta:
        model = Campaign
        fields = ["title_en", "title_zh_hans", "slug", "is_active",
                  "funder_kind", "funder_exhibitor", "funder_name", "currency", "face_value",
                  "min_spend", "budget", "scope_exhibitors", "scope_kinds", "scope_products", "eligibility", "claim_starts_at",
                  "claim_ends_at", "window_starts", "window_minutes", "window_quota", "per_customer_limit", "per_window_limit",
                  "valid_days", "returns_to_pool", "refund_rule"]


class ScopedCampaignAdmin(ExhibitorScopedAdmin):
    exhibitor_path = "funder_exhibitor_id"
    exhibitor_field: str | None = "funder_exhibitor"


@admin.register(Campaign)
class CampaignAdmin(AuditTrailMixin, ScopedCampaignAdmin):
    form = CampaignAdminForm
    audit_state_field = "is_active"
    list_display = ("title", "slug", "funder_display", "face_value_display", "min_spend_display", "remaining_display",
                    "claim_starts_at", "claim_ends_at", "is_active")
    list_filter = ("funder_kind", "is_active")
    search_fields = ("slug", "title_en", "title_zh_hans", "funder_name")
    prepopulated_fields = {"slug": ("title_en",)}
    readonly_fields = ("quantity", "claimed_count", "returned_count")
    fieldsets = (
        (None, {"fields": ("title_en", "title_zh_hans", "slug", "is_active")}),
        (_("Funding"), {"fields": ("funder_kind", "funder_exhibitor", "funder_name", "currency", "face_value", "min_spend",
                                   "budget", "quantity", "claimed_count", "returned_count")}),
        (_("Scope and eligibility"), {"fields": ("scope_exhibitors", "scope_kinds", "scope_products", "eligibility")}),
        (_("Claims"), {"fields": ("claim_starts_at", "claim_ends_at", "window_starts", "window_minutes", "window_quota",
                                  "per_customer_limit", "per_window_limit")}),
        (_("Use"), {"fields": ("valid_days", "returns_to_pool", "refund_rule")}),
    )
    face_value_display = money_display("face_value", description=_("Face value"))
    min_spend_display = money_display("min_spend", description=_("Minimum spend"))

    @admin.display(description=_("Funded by"))
    def funder_display(self, campaign: Campaign) -> str:
        if campaign.funder_kind == FunderKind.EXHIBITOR and campaign.funder_exhibitor_id:
            return str(campaign.funder_exhibitor)
        return campaign.funder_name or str(FunderKind(campaign.funder_kind).label)

    @admin.display(description=_("Left / vouchers"))
    def remaining_display(self, campaign: Campaign) -> str:
        return f"{campaign.remaining} / {campaign.quantity}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        return super().get_queryset(request).select_related("funder_exhibitor")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if is_operator(request.user):
            return fieldsets
        # Exhibitor staff fund their own campaigns: the funder is their exhibitor, the scope its goods.
        hidden = {"funder_kind", "funder_name", "scope_exhibitors"}
        return [(name, {**options, "fields": tuple(f for f in options["fields"] if f not in hidden)})
                for name, options in fieldsets]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if is_operator(request.user):
            return form

        class StaffCampaignForm(form):  # type: ignore[valid-type, misc]
            def _post_clean(self) -> None:
                # Validated (constraints included) as what it will be: funded by the exhibitor.
                self.instance.funder_kind = FunderKind.EXHIBITOR
                super()._post_clean()

        return StaffCampaignForm

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "scope_products":
            kwargs["queryset"] = scope_to_user(Product.objects.select_related("exhibitor"), request.user, path="exhibitor_id")
        elif db_field.name == "scope_exhibitors":
            kwargs["queryset"] = scope_to_user(Exhibitor.objects.all(), request.user, path="id")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Campaign, form: ModelForm, change: bool) -> None:
        if not is_operator(request.user):
            obj.funder_kind = FunderKind.EXHIBITOR
            self.force_exhibitor(request, obj)
        services.campaign_save(campaign=obj, actor=request.user)

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool) -> None:
        # The scope is written by its service (an exhibitor's campaign covers its own goods only).
        services.campaign_set_scope(
            campaign=form.instance, actor=request.user,
            exhibitor_ids=[e.pk for e in form.cleaned_data.get("scope_exhibitors", [])],
            product_ids=[p.pk for p in form.cleaned_data.get("scope_products", [])])
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Claimed vouchers refer to their campaign: pause it (untick "active") instead.
        return False


@admin.register(Voucher)
class VoucherAdmin(AuditTrailMixin, ReadOnlyAdminMixin, ScopedCampaignAdmin):
    exhibitor_path = "campaign__funder_exhibitor_id"
    exhibitor_field = None
    list_display = ("code", "campaign", "user", "status", "expires_at", "created_at")
    list_filter = ("status", "campaign")
    search_fields = ("code", "user__email")
    fields = ("code", "campaign", "user", "status", "window_starts_at", "expires_at", "returned_to_pool", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Voucher]:
        return super().get_queryset(request).select_related("campaign", "user")

    def get_list_display(self, request: HttpRequest) -> Any:
        # Who holds a voucher is the operators' business; exhibitor staff see codes and states.
        display = super().get_list_display(request)
        return display if is_operator(request.user) else tuple(f for f in display if f != "user")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        return fields if is_operator(request.user) else [f for f in fields if f != "user"]

    def get_search_fields(self, request: HttpRequest) -> Any:
        return self.search_fields if is_operator(request.user) else ("code",)


@admin.register(Redemption)
class RedemptionAdmin(AuditTrailMixin, ReadOnlyAdminMixin, ScopedCampaignAdmin):
    exhibitor_path = "campaign__funder_exhibitor_id"
    exhibitor_field = None
    list_display = ("voucher", "order", "campaign", "status", "discount_display", "created_at")
    list_filter = ("status", "campaign")
    search_fields = ("voucher__code", "order__number")
    fields = ("voucher", "order", "campaign", "status", "discount", "currency", "line_shares", "exhibitor_shares", "created_at")
    readonly_fields = fields
    discount_display = money_display("discount", description=_("Discount"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Redemption]:
        return super().get_queryset(request).select_related("voucher", "order", "campaign")

