"""Cursor pagination for every list (API.md: `{"next", "previous", "results"}`).

Cursors are opaque and stable under inserts; a malformed cursor answers 404 `not_found` (DRF's
behaviour), never a 500. Clients may ask for `page_size` up to 100 (more is capped at 100); a
`page_size` that is not a positive whole number answers 400 with `attr: "page_size"` (DRF's own
lenient parsing read junk such as `null` or `0` as the default).

A view sets its own ordering with an `ordering` attribute (a unique or nearly unique column).
"""

import base64
import binascii
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import QuerySet
from rest_framework import exceptions, pagination, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request

# Its error messages (DRF's, translated) and codes (`invalid`, `min_value`, `max_string_length`).
_PAGE_SIZE_FIELD = serializers.IntegerField(min_value=1)


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

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            if not (raw.isascii() and raw.isdigit()):  # IntegerField alone would take " 5" or "5.0"
                _PAGE_SIZE_FIELD.fail("invalid")
            size = _PAGE_SIZE_FIELD.run_validation(raw)
        except exceptions.ValidationError as exc:
            raise exceptions.ValidationError({self.page_size_query_param: exc.detail}) from None
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (f"Results per page, {self.page_size} by default; more than {self.max_page_size} "
                                            f"is capped at {self.max_page_size}. Not a positive whole number: 400.")
                parameter["schema"] = {"type": "integer", "minimum": 1}
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The `next` or `previous` link's cursor; one the server did not issue answers 404."
        return parameters

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
