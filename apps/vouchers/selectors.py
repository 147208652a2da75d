"""Reads for vouchers: the public campaign list and a shopper's own vouchers."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.catalog.models import Product
from apps.exhibitors.models import Exhibitor
from apps.vouchers.models import Campaign, Voucher


def campaign_list_public() -> QuerySet[Campaign]:
    """Active campaigns whose claims have not closed, with what their output needs (4 queries a
    page whatever its size)."""
    return (Campaign.objects.filter(is_active=True, claim_ends_at__gt=timezone.now())
            .select_related("funder_exhibitor", "eligibility")
            .prefetch_related(Prefetch("scope_exhibitors", queryset=Exhibitor.objects.only("id", "slug")),
                              Prefetch("scope_products", queryset=Product.objects.only("id"))))


def voucher_list_for_shopper(*, user: Any) -> QuerySet[Voucher]:
    """The shopper's own vouchers with their campaign (1 query a page)."""
    return Voucher.objects.filter(user_id=user.pk).select_related("campaign")
