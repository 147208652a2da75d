"""Per-user admin links for unfold's settings (SITE_URL and sidebar permission callbacks).

"View site" leads each person to the page they work in: exhibitor staff to the booth scanner
(`/booth/`), operators to the order-queue console (`/ops/`). Anyone else gets no link.
"""

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from marketplace.tenancy import exhibitor_ids_for, is_operator

BOOTH_PATH = "/booth/"


def booth_url() -> str:
    try:
        return reverse("booth:page")
    except NoReverseMatch:  # the booth app names its URLs itself; the path is the contract
        return BOOTH_PATH


def site_url(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    if is_operator(user):
        return reverse("operations:console")
    if exhibitor_ids_for(user):
        return booth_url()
    return None


def is_operator_permission(request: HttpRequest) -> bool:
    return is_operator(request.user)


def is_exhibitor_staff_permission(request: HttpRequest) -> bool:
    return bool(exhibitor_ids_for(request.user))


def can_view_console_permission(request: HttpRequest) -> bool:
    return is_operator(request.user) or bool(exhibitor_ids_for(request.user))
