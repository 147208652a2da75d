"""Who may do what in an admin: read-only rows and operator-only data."""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from marketplace.tenancy import is_operator


class ReadOnlyAdminMixin:
    """Rows only services write (orders, payments, logs): the admin shows them and never adds,
    edits or deletes one."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OperatorOnlyAdminMixin:
    """Data for operators only (marketplace.tenancy.is_operator): hidden from exhibitor staff,
    whatever model permissions their group holds. Put it before the ModelAdmin base."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return queryset if is_operator(request.user) else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)
