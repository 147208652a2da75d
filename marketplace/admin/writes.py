"""Writes from the admin through services: bulk actions and forms validating as services do."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import Promise
from unfold.admin import ModelAdmin

from marketplace.errors import DomainError


def run_for_each(request: HttpRequest, model_admin: ModelAdmin, queryset: QuerySet[Any],
                 call: Callable[[Any], Any], done: str | Promise) -> None:
    """Apply a service call to every selected row; DomainErrors are reported per row.

    `done` may be a lazy translation with a `{count}` placeholder."""
    ok = 0
    for obj in queryset:
        try:
            call(obj)
        except DomainError as exc:
            model_admin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
        else:
            ok += 1
    if ok:
        model_admin.message_user(request, str(done).format(count=ok), messages.SUCCESS)


class FullCleanFormMixin(forms.ModelForm):
    """Validates the whole instance, as the service will, so its refusals become form errors.

    A ModelForm skips model validation for fields it does not show (a read-only exhibitor, say,
    and with it the unique (exhibitor, slug) constraint); services call `full_clean()` on
    everything, and a ValidationError there would be a 500 in the admin.
    """

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        try:
            self.instance.full_clean()
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
