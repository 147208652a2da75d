"""Reads for exhibitors."""

from typing import Any

from django.db.models import Q, QuerySet

from apps.exhibitors.models import Exhibitor, ExhibitorStatus
from marketplace.tenancy import scope_to_user


def exhibitor_list_public() -> QuerySet[Exhibitor]:
    """Exhibitors shoppers can see: approved ones only."""
    return Exhibitor.objects.filter(status=ExhibitorStatus.APPROVED)


def exhibitor_list_for_user(*, user: Any) -> QuerySet[Exhibitor]:
    """Exhibitors an admin user may see: all for operators, their own for exhibitor staff."""
    return scope_to_user(Exhibitor.objects.all(), user, path="id")


def exhibitor_search(queryset: QuerySet[Exhibitor], term: str) -> QuerySet[Exhibitor]:
    """Case-insensitive match on the English and Chinese names and descriptions, whatever the language."""
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(Q(name_en__icontains=term) | Q(name_zh_hans__icontains=term)
                           | Q(description_en__icontains=term) | Q(description_zh_hans__icontains=term))
