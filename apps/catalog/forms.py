"""Admin forms for the catalog: prices in major units, licence keys pasted in bulk."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from unfold.forms import PaginationInlineFormSet
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from apps.catalog.models import Product, ProductKind, ServiceSlot
from marketplace.admin import FullCleanFormMixin, MajorUnitsMoneyField, MajorUnitsMoneyFormMixin
from marketplace.money import SUPPORTED_CURRENCIES


class ProductAdminForm(FullCleanFormMixin, MajorUnitsMoneyFormMixin, forms.ModelForm):
    price = MajorUnitsMoneyField(label="Price")
    currency = forms.ChoiceField(choices=[(c, c) for c in SUPPORTED_CURRENCIES], widget=UnfoldAdminSelectWidget)
    licence_keys_bulk = forms.CharField(
        label="Add licence keys", required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 5}),
        help_text="Downloads: one key per line. Keys already in the pool are skipped.",
    )

    class Meta:
        model = Product
        fields = (
            "exhibitor", "kind", "slug", "title", "title_zh", "description", "description_zh", "price", "currency",
            "is_published", "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "stock_total",
            "pass_valid_from", "pass_valid_until", "download_limit",
        )

    def clean_licence_keys_bulk(self) -> list[str]:
        raw = self.cleaned_data.get("licence_keys_bulk") or ""
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        if cleaned.get("licence_keys_bulk") and kind != ProductKind.DOWNLOAD:
            self.add_error("licence_keys_bulk", "Only download products have licence keys.")
        return cleaned


class ServiceSlotFormSet(PaginationInlineFormSet):
    """Refuses, as a form error, to delete a slot somebody has booked (slot_delete would)."""

    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            slot = form.instance
            if isinstance(slot, ServiceSlot) and slot.pk and slot.taken:
                raise ValidationError(f"The slot {slot} has bookings and cannot be deleted.")
