"""Cursor pagination for every list (API.md: `{"next", "previous", "results"}`).

Cursors are opaque and stable under inserts; a malformed cursor answers 404 `not_found` (DRF's
behaviour), never a 500. Clients may ask for `page_size` up to 100.

A view sets its own ordering with an `ordering` attribute (a unique or nearly unique column).
"""

import base64
import binascii
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request


class CursorPagination(pagination.CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: Any = None) -> tuple[str, ...]:
        view_ordering = getattr(view, "ordering", None)
        if view_ordering:
            return (view_ordering,) if isinstance(view_ordering, str) else tuple(view_ordering)
        return super().get_ordering(request, queryset, view)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded:
            # DRF's lenient base64 decoding reads junk such as "%%%" as an empty cursor (page one).
            try:
                base64.b64decode(encoded.encode("ascii"), validate=True)
            except (binascii.Error, ValueError):
                raise NotFound(self.invalid_cursor_message) from None
        return super().decode_cursor(request)

    def paginate_queryset(self, queryset: QuerySet[Any], request: Request, view: Any = None) -> list[Any] | None:
        cursor = self.decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            self._check_position(queryset, self.get_ordering(request, queryset, view), cursor.position)
        return super().paginate_queryset(queryset, request, view)

    def _check_position(self, queryset: QuerySet[Any], ordering: tuple[str, ...], position: object) -> None:
        # DRF decodes the cursor's position but never checks it against the column: a forged
        # cursor ("p=abc" on an integer id, a NUL byte) would reach the database and answer 500.
        position = str(position)  # decoded from the query string: always text, whatever the stubs say
        if "\x00" in position:
            raise NotFound(self.invalid_cursor_message)
        name = ordering[0].lstrip("-")
        try:
            field = queryset.model._meta.pk if name == "pk" else queryset.model._meta.get_field(name)
        except FieldDoesNotExist:  # an annotation: nothing to check it against
            return
        try:
            field.to_python(position)
        except (ValidationError, TypeError, ValueError):
            raise NotFound(self.invalid_cursor_message) from None
