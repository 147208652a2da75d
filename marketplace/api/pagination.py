"""Cursor pagination for every list (API.md: `{"next", "previous", "results"}`).

Cursors are opaque and stable under inserts; a malformed cursor answers 404 `not_found` (DRF's
behaviour), never a 500. Clients may ask for `page_size` up to 100.
"""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-created_at"
