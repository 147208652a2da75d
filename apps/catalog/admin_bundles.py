"""The bundle's products in the product admin: an inline of components with their quantity and
share (typed as a percentage), saved as a whole through `services.bundle_components_set`.

Tenancy: the component choices and the autocomplete are the acting user's products (operators:
all), so staff cannot pick another exhibitor's goods; the service checks it again, and a bundle
holding another exhibitor's goods is read-only to staff (`ProductAdmin.has_change_permission`
asks `services.bundle_editable_by`).
"""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.catalog import services
from apps.catalog.forms import KindInlineFormSet
from apps.catalog.models import BundleComponent, Product, ProductKind
from marketplace.admin import PercentAsBasisPointsField, ScopedTabularInline


class BundleComponentForm(forms.ModelForm):
    share_bps = PercentAsBasisPointsField(label=_("Share (%)"),
                                          help_text=_("Part of the bundle's price paid for this product; the shares add up to 100."))

    class Meta:
        model = BundleComponent
        fields = ("component", "quantity", "share_bps")


class BundleComponentFormSet(KindInlineFormSet):
    """Checks the bundle's components as a whole: each product once, shares adding up to 100 %."""

    kind = ProductKind.BUNDLE

    def kept_forms(self) -> list[Any]:
        return [form for form in self.forms
                if form.cleaned_data.get("component") and not form.cleaned_data.get("DELETE")]

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = self.kept_forms()
        ids = [form.cleaned_data["component"].pk for form in kept]
        if len(set(ids)) != len(ids):
            raise ValidationError(_("Each product may appear once in a bundle; use its quantity."))
        total = sum(form.cleaned_data.get("share_bps") or 0 for form in kept)
        if kept and total != services.SHARES_TOTAL:
            raise ValidationError(_("The shares add up to %(total)s percent; they must add up to exactly 100 percent.")
                                  % {"total": f"{total / 100:g}"})


class BundleComponentInline(ScopedTabularInline):
    model = BundleComponent
    fk_name = "bundle"
    form = BundleComponentForm
    formset = BundleComponentFormSet
    exhibitor_path = "bundle__exhibitor_id"
    foreign_key_filters = {"component": {"kind__in": [k for k in ProductKind.values if k != ProductKind.BUNDLE]}}
    autocomplete_fields = ("component",)
    fields = ("component", "quantity", "share_bps")
    extra = 0
    classes = ["kind-only", f"kind-{ProductKind.BUNDLE}"]
    verbose_name = _("product in the bundle")
    verbose_name_plural = _("Products in the bundle")


def bundle_formset_save(request: HttpRequest, formset: BundleComponentFormSet) -> None:
    """Save the inline's rows through the service (which re-checks tenancy and shares), in the order
    shown; nothing is written when the rows did not change. (The admin's change message reads the
    formset's new/changed/deleted lists, which formset.save() would have set.)"""
    formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
    if not formset.has_changed():
        return
    bundle: Product = formset.instance
    specs = [services.ComponentSpec(product_id=form.cleaned_data["component"].pk, quantity=form.cleaned_data["quantity"],
                                    share_bps=form.cleaned_data["share_bps"])
             for form in formset.kept_forms()]
    services.bundle_components_set(bundle=bundle, components=specs, actor=request.user)
