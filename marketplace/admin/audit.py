"""The audit trail ("History") on admin change pages."""

from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from marketplace.tenancy import is_operator


class AuditTrailMixin:
    """Adds a read-only "History" to the change page: the object's AuditEvent rows (from, to,
    when, reason; operators also see who and the payload), newest last.

    Tenancy comes with the object: the change page only opens for an object in the acting user's
    scope (ExhibitorScopedMixin answers 404 otherwise), and the trail lists that object's rows only.
    Put it before the ModelAdmin base. One query for the trail (the content type is cached).
    """

    audit_state_field = "status"
    audit_trail_limit = 100
    model: type[Model]

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if obj is not None:
            # The read-only field gets the object only; it carries what the viewer may see.
            obj._audit_trail_for_operator = is_operator(request.user)
        return obj

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))  # type: ignore[misc]
        return (*fields, "audit_trail") if obj is not None and "audit_trail" not in fields else fields

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))  # type: ignore[misc]
        return [*fields, "audit_trail"] if obj is not None and "audit_trail" not in fields else fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))  # type: ignore[misc]
        if obj is None or any("audit_trail" in options.get("fields", ()) for _name, options in fieldsets):
            return fieldsets
        return [*fieldsets, (_("History"), {"fields": ("audit_trail",)})]

    @admin.display(description=_("History"))
    def audit_trail(self, obj: Any) -> str:
        from django.contrib.contenttypes.models import ContentType

        from marketplace.models import AuditEvent

        if obj is None or obj.pk is None:
            return "-"
        events = list(AuditEvent.objects.filter(content_type=ContentType.objects.get_for_model(type(obj)),
                                                object_id=str(obj.pk))
                      .select_related("actor").order_by("-created_at", "-id")[: self.audit_trail_limit])[::-1]
        if not events:
            return str(_("No recorded changes yet."))
        operator = getattr(obj, "_audit_trail_for_operator", False)
        try:
            labels = dict(self.model._meta.get_field(self.audit_state_field).flatchoices)  # type: ignore[union-attr]
        except FieldDoesNotExist:  # a model without that field shows the raw states
            labels = {}

        def state(value: str) -> str:
            return str(labels.get(value, value)) if value else "—"

        headers = [_("When"), _("Change"), _("From"), _("To"), _("Reason")]
        if operator:
            headers += [_("By"), _("Details")]
        rows = []
        for event in events:
            cells = [date_format(timezone.localtime(event.created_at), "SHORT_DATETIME_FORMAT"), event.name,
                     state(event.from_state), state(event.to_state), event.reason or "—"]
            if operator:
                cells += [getattr(event.actor, "email", None) or str(_("system")) if event.actor_id else str(_("system")),
                          ", ".join(f"{key}={value}" for key, value in sorted(event.payload.items())) or "—"]
            rows.append(cells)
        head = format_html_join("", '<th class="px-2 py-1 text-left font-semibold">{}</th>', ((h,) for h in headers))
        body = format_html_join("", "<tr>{}</tr>", (
            (format_html_join("", '<td class="px-2 py-1 border-t">{}</td>', ((c,) for c in cells)),) for cells in rows))
        return format_html('<table class="audit-trail w-full text-sm"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
                           head, body)
