"""Drops in the admin: ballots (set up, seed commitment, draw, results) and holder priority.

Operators set ballots up and draw them; exhibitor staff see the ballots of their own products and
their results, read-only (a staff member choosing the seed could choose the winners), with the
registrants' emails masked. Holder priority is set by operators and by the product's exhibitor
staff. Every write goes through apps.catalog.services; every list is exhibitor-scoped
(marketplace.admin), and an object outside the scope answers 404.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet, Value
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.decorators import action, display

from apps.catalog.models import Ballot, BallotEntry, BallotEntryStatus, BallotStatus, HolderPriority, Product, ProductKind
from apps.catalog.services import ballots, drops
from apps.exhibitors.models import ExhibitorStatus
from marketplace.admin import AuditTrailMixin, ExhibitorScopedAdmin, ReadOnlyAdminMixin
from marketplace.errors import DomainError
from marketplace.tenancy import is_operator, scope_to_user


def _masked(email: str) -> str:
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class BallotForm(forms.ModelForm):
    # Not the model's `seed` (never editable, never shown before the draw): a one-way input.
    custom_seed = forms.CharField(
        label=_("Seed"), required=False, max_length=128, strip=True,
        help_text=_("Optional, at least %(count)s characters, only before registration starts. Empty: a random seed "
                    "is generated (recommended). Only its SHA-256 is shown until the draw.") % {"count": ballots.MIN_SEED_LENGTH},
        widget=forms.PasswordInput(render_value=False),
    )

    class Meta:
        model = Ballot
        fields = ("product", "registration_starts_at", "registration_ends_at", "draw_at", "purchase_window_minutes")


@admin.register(Ballot)
class BallotAdmin(AuditTrailMixin, ExhibitorScopedAdmin):
    form = BallotForm
    exhibitor_path = "product__exhibitor_id"
    exhibitor_field = None
    foreign_key_filters = {"product": {"kind": ProductKind.COLLECTIBLE}}
    list_display = ("product", "status", "registration_starts_at", "registration_ends_at", "draw_at", "registrations_count",
                    "winners_count")
    list_filter = ("status",)
    list_select_related = ("product",)
    search_fields = ("product__title_en", "product__slug")
    actions = ("draw_now", "open_to_everyone")
    readonly_fields = ("status", "seed_sha256", "revealed_seed", "registrations_count", "winners_count", "drawn_at", "results")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["product", "registration_starts_at", "registration_ends_at", "draw_at", "purchase_window_minutes"]
        if obj is None or (is_operator(request.user) and obj.status == BallotStatus.REGISTRATION):
            fields.append("custom_seed")
        if obj is not None:
            fields += ["status", "seed_sha256", "revealed_seed", "registrations_count", "winners_count", "drawn_at", "results"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "product") if obj is not None else fields

    # Operators only write: a ballot's seed and times decide who may buy.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_draw_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def save_model(self, request: HttpRequest, obj: Ballot, form: Any, change: bool) -> None:
        saved = ballots.ballot_save(
            product=form.cleaned_data["product"] if not change else obj.product,
            registration_starts_at=obj.registration_starts_at, registration_ends_at=obj.registration_ends_at,
            draw_at=obj.draw_at, purchase_window_minutes=obj.purchase_window_minutes,
            seed=form.cleaned_data.get("custom_seed") or None, actor=request.user,
        )
        obj.pk = saved.pk

    @display(description=_("Seed (revealed at the draw)"))
    def revealed_seed(self, obj: Ballot) -> str:
        return obj.seed if obj.status != BallotStatus.REGISTRATION else "—"

    @display(description=_("Results"))
    def results(self, obj: Ballot) -> str:
        counts = dict(obj.entries.values_list("status").annotate(n=Count("id")).order_by())
        url = reverse("admin:catalog_ballotentry_changelist") + f"?ballot__id__exact={obj.pk}"
        summary = format_html_join(", ", "{}: {}", ((BallotEntryStatus(s).label, n) for s, n in sorted(counts.items())))
        return format_html('{} — <a href="{}">{}</a>', summary or _("no registrations yet"), url, _("all registrations"))

    @action(description=_("Draw selected ballots now (registration must have ended)"), permissions=["draw"])
    def draw_now(self, request: HttpRequest, queryset: QuerySet[Ballot]) -> None:
        drawn = 0
        for ballot in queryset:
            try:
                drawn += ballots.ballot_draw(ballot_id=ballot.pk, actor=request.user, early=True)
            except DomainError as exc:
                self.message_user(request, f"{ballot}: {exc.detail}", messages.ERROR)
        self.message_user(request, _("%(count)d ballot(s) drawn.") % {"count": drawn}, messages.SUCCESS)

    @action(description=_("Sell what closed ballots left unsold first come, first served"), permissions=["draw"])
    def open_to_everyone(self, request: HttpRequest, queryset: QuerySet[Ballot]) -> None:
        for ballot in queryset.select_related("product"):
            try:
                free = ballots.ballot_open_to_everyone(ballot_id=ballot.pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{ballot}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, _("%(product)s: %(count)d edition(s) now on open sale.")
                                  % {"product": ballot.product, "count": free}, messages.SUCCESS)


@admin.register(BallotEntry)
class BallotEntryAdmin(AuditTrailMixin, ReadOnlyAdminMixin, ExhibitorScopedAdmin):
    """Registrations and results, read-only; staff see registrants' emails masked."""

    exhibitor_path = "ballot__product__exhibitor_id"
    exhibitor_field = None
    list_display = ("public_id", "ballot", "registrant", "status", "draw_position", "purchase_by", "claimed_at")
    list_filter = ("status",)
    list_select_related = ("ballot__product", "user")
    search_fields = ("=public_id",)
    ordering = ("ballot", "draw_position", "id")
    fields = ("public_id", "ballot", "registrant", "registered_at", "status", "draw_position", "offered_at", "purchase_by",
              "claimed_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[BallotEntry]:
        # Per request, on the rows (the admin instance is shared between threads).
        return super().get_queryset(request).annotate(show_email=Value(is_operator(request.user)))

    @display(description=_("Shopper"))
    def registrant(self, obj: BallotEntry) -> str:
        return obj.user.email if getattr(obj, "show_email", False) else _masked(obj.user.email)


class HolderPriorityForm(forms.ModelForm):
    class Meta:
        model = HolderPriority
        fields = ("product", "starts_at", "holders_of")


@admin.register(HolderPriority)
class HolderPriorityAdmin(ExhibitorScopedAdmin):
    form = HolderPriorityForm
    exhibitor_path = "product__exhibitor_id"
    exhibitor_field = None
    list_display = ("product", "starts_at")
    list_select_related = ("product",)
    filter_horizontal = ("holders_of",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("product",) if obj is not None else ()

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "holders_of":
            # Own collectibles (any state) and public ones of others: never another exhibitor's drafts.
            own = scope_to_user(Product.objects.all(), request.user, path="exhibitor_id").values("pk")
            kwargs["queryset"] = Product.objects.filter(kind=ProductKind.COLLECTIBLE).filter(
                Q(pk__in=own) | Q(is_published=True, exhibitor__status=ExhibitorStatus.APPROVED)).order_by("title_en")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: HolderPriority, form: Any, change: bool) -> None:
        pass  # saved with its holders in save_related, through the service

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        product = form.instance.product if change else form.cleaned_data["product"]
        saved = drops.holder_priority_save(product=product, starts_at=form.cleaned_data["starts_at"],
                                           holders_of=form.cleaned_data["holders_of"], priority=form.instance if change else None)
        form.instance.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: HolderPriority) -> None:
        drops.holder_priority_delete(priority=obj)
