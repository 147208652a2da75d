"""Exhibitor tenancy, enforced in one place (DESIGN.md habit 8).

Every admin and API queryset over exhibitor data goes through `scope_to_user`. Operators
(superusers and the operators group) see everything; exhibitor staff see the rows of the
exhibitors they are members of; anyone else sees nothing. Rows outside the scope are simply
absent, so a foreign id answers 404, never 403.
"""

from typing import Any, TypeVar

from django.apps import apps
from django.conf import settings
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

_OPERATOR_ATTR = "_mkt_is_operator"
_EXHIBITORS_ATTR = "_mkt_exhibitor_ids"


def is_operator(user: Any) -> bool:
    """True for active superusers and members of the operators group. Cached on the user object."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    cached = getattr(user, _OPERATOR_ATTR, None)
    if cached is None:
        cached = bool(
            user.is_superuser
            or user.groups.filter(name=settings.MARKETPLACE["OPERATORS_GROUP"]).exists()
        )
        setattr(user, _OPERATOR_ATTR, cached)
    return cached


def exhibitor_ids_for(user: Any) -> frozenset[int]:
    """Ids of the exhibitors whose data `user` may see as staff (empty for shoppers and anonymous)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return frozenset()
    cached = getattr(user, _EXHIBITORS_ATTR, None)
    if cached is None:
        membership = apps.get_model("exhibitors", "ExhibitorMembership")
        cached = frozenset(
            membership.objects.filter(user_id=user.pk).values_list("exhibitor_id", flat=True)
        )
        setattr(user, _EXHIBITORS_ATTR, cached)
    return cached


def scope_to_user(queryset: QuerySet[M], user: Any, *, path: str) -> QuerySet[M]:
    """Restrict `queryset` to rows `user` may see.

    `path` is the lookup from the queryset's model to the exhibitor's id field, e.g. "id" for
    Exhibitor, "exhibitor_id" for Product, "product__exhibitor_id" for Edition.
    """
    if is_operator(user):
        return queryset
    ids = exhibitor_ids_for(user)
    if not ids:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": ids})


def can_access_exhibitor(user: Any, exhibitor_id: int | None) -> bool:
    """Whether `user` may act on data of this exhibitor."""
    return is_operator(user) or (exhibitor_id is not None and exhibitor_id in exhibitor_ids_for(user))
