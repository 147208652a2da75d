"""Admin forms for the catalog: prices in major units, one form for every kind of product,
licence keys pasted in bulk, and inlines that belong to one kind."""

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from unfold.forms import PaginationInlineFormSet
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextareaWidget

from apps.catalog import images, services
from apps.catalog.models import Product, ProductKind, ServiceSlot
from marketplace.admin import FullCleanFormMixin, MajorUnitsMoneyField, MajorUnitsMoneyFormMixin
from marketplace.money import SUPPORTED_CURRENCIES

# Fields that belong to some kinds only. The add page shows every kind's fields and the kind
# switcher (static/catalog/product_kind.js) hides the others; what a hidden field holds is ignored.
KIND_FIELDS: dict[str, frozenset[str]] = {
    "edition_size": frozenset({ProductKind.COLLECTIBLE}),
    "meeting_url": frozenset({ProductKind.SERVICE}),
    "stock_total": frozenset({ProductKind.DOWNLOAD, ProductKind.PASS}),
    "download_limit": frozenset({ProductKind.DOWNLOAD}),
    "licence_keys_bulk": frozenset({ProductKind.DOWNLOAD}),
    "pass_valid_from": frozenset({ProductKind.PASS}),
    "pass_valid_until": frozenset({ProductKind.PASS}),
}
_TITLE_FIELDS = ("title_en", "title", "title_zh_hans")


class ProductAdminForm(FullCleanFormMixin, MajorUnitsMoneyFormMixin, forms.ModelForm):
    price = MajorUnitsMoneyField(label=_("Price"), help_text=_("What a shopper pays, e.g. 19.99, in the currency below."))
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in SUPPORTED_CURRENCIES],
                                 widget=UnfoldAdminSelectWidget)
    licence_keys_bulk = forms.CharField(
        label=_("Add licence keys"), required=False,
        widget=UnfoldAdminTextareaWidget(attrs={"rows": 5}),
        help_text=_("One key per line. Keys already in the pool are skipped."),
    )

    class Meta:
        model = Product
        fields = (
            "exhibitor", "kind", "slug", "title_en", "title_zh_hans", "description_en", "description_zh_hans", "price", "currency",
            "is_published", "sale_starts_at", "sale_ends_at", "per_customer_limit", "edition_size", "stock_total",
            "pass_valid_from", "pass_valid_until", "download_limit", "meeting_url", "image",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:
            self.fields["slug"].required = False
            self.fields["slug"].help_text = _(
                "The product's name in web addresses (letters, digits and dashes). Leave it empty to make one from the title.")
        if "image" in self.fields:
            self.fields["image"].help_text = _(
                "A JPEG, PNG or WebP picture of at most %(limit)d MB. Shown in the catalogue; its thumbnails are made when you save."
            ) % {"limit": settings.PRODUCT_IMAGE_MAX_BYTES // 1024 // 1024}
        if "is_published" in self.fields:
            self.fields["is_published"].label = _("Published")
            self.fields["is_published"].help_text = _(
                "On sale in the catalogue. Only a product that can deliver is published: a download needs a file or a "
                "licence key, a pass its validity window, a service an upcoming time slot.")

    def clean_licence_keys_bulk(self) -> list[str]:
        raw = self.cleaned_data.get("licence_keys_bulk") or ""
        return [line.strip() for line in raw.splitlines() if line.strip()]

    def clean_image(self) -> Any:
        image = self.cleaned_data.get("image")
        if isinstance(image, UploadedFile):
            images.image_validate(image)
        return image

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        if kind:
            for name, kinds in KIND_FIELDS.items():
                if name in self.fields and kind not in kinds:
                    # Hidden for this kind: whatever it holds (even something invalid) is ignored.
                    cleaned[name] = [] if name == "licence_keys_bulk" else getattr(self.fields[name], "empty_value", None)
                    self.errors.pop(name, None)
        if "slug" in self.fields and not cleaned.get("slug") and "slug" not in self.errors:
            exhibitor = cleaned.get("exhibitor") or getattr(self.instance, "exhibitor", None)
            title = next((str(cleaned[name]) for name in _TITLE_FIELDS if cleaned.get(name)), "")
            if exhibitor is not None:
                cleaned["slug"] = services.product_slug_suggest(
                    exhibitor_id=exhibitor.pk, title=title, kind=kind or "", exclude_pk=self.instance.pk)
        return cleaned

    def _post_clean(self) -> None:
        super()._post_clean()
        product = self.instance
        if self.errors or not product.is_published or product.kind != ProductKind.PASS:
            return
        # What the form itself holds (a pass's validity window) is checked here, so the person
        # keeps what they typed; what inlines add (files, keys, slots) is checked once they are
        # saved (ProductAdmin.save_related publishes then).
        for blocker in services.product_publish_blockers(product=product):
            if blocker.attr in services.FIELD_BLOCKER_ATTRS and blocker.attr in self.fields:
                self.add_error(blocker.attr, str(blocker.message))


class KindInlineFormSet(PaginationInlineFormSet):
    """Rows that belong to one kind of product (slots: services; files and keys: downloads).

    The add page carries every kind's inlines (the kind switcher hides the others); rows typed
    into another kind's inline are ignored, not refused, since the person no longer sees them.
    """

    kind: str = ""

    def ignored(self) -> bool:
        return bool(self.kind) and getattr(self.instance, "kind", None) != self.kind

    def full_clean(self) -> None:
        if self.is_bound and self.ignored():
            self._errors: list[Any] = []
            self._non_form_errors = self.error_class(error_class="nonform", renderer=self.renderer)
            return
        super().full_clean()

    def is_valid(self) -> bool:
        if self.is_bound and self.ignored():
            return True
        return super().is_valid()


class DownloadInlineFormSet(KindInlineFormSet):
    kind = ProductKind.DOWNLOAD


class ServiceSlotFormSet(KindInlineFormSet):
    """Refuses, as a form error, to delete a slot somebody has booked (slot_delete would)."""

    kind = ProductKind.SERVICE

    def clean(self) -> None:
        super().clean()
        for form in self.deleted_forms:
            slot = form.instance
            if isinstance(slot, ServiceSlot) and slot.pk and slot.taken:
                raise ValidationError(_("The slot %(slot)s has bookings and cannot be deleted.") % {"slot": slot})
