"""Output of the voucher endpoints (API.md "Vouchers"). One writer per shape (`campaign_output`,
`voucher_output`); the serializers beside them only declare the fields for the OpenAPI schema."""

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.vouchers.models import Campaign, FunderKind, Voucher, VoucherStatus
from apps.vouchers.windows import next_window
from marketplace.api.representation import iso_datetime


def funder_name(campaign: Campaign) -> str:
    if campaign.funder_kind == FunderKind.EXHIBITOR and campaign.funder_exhibitor is not None:
        return str(campaign.funder_exhibitor.name)
    return campaign.funder_name or str(FunderKind(campaign.funder_kind).label)


def campaign_output(campaign: Campaign, *, now: datetime | None = None) -> dict[str, Any]:
    """A campaign as API.md gives it (scope and funder from prefetched rows)."""
    now = now or timezone.now()
    window = next_window(campaign, now)
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "funder": {"kind": campaign.funder_kind, "name": funder_name(campaign)},
        "face_value": campaign.face_value,
        "min_spend": campaign.min_spend,
        "currency": campaign.currency,
        "scope": {"exhibitors": sorted(e.slug for e in campaign.scope_exhibitors.all()),
                  "kinds": list(campaign.scope_kinds),
                  "products": sorted(p.pk for p in campaign.scope_products.all())},
        "eligibility": campaign.eligibility.slug if campaign.eligibility_id and campaign.eligibility else None,
        "claim_starts_at": iso_datetime(campaign.claim_starts_at),
        "claim_ends_at": iso_datetime(campaign.claim_ends_at),
        "next_window": None if window is None else {
            "starts_at": iso_datetime(max(window.starts_at, campaign.claim_starts_at)),
            "ends_at": iso_datetime(window.ends_at)},
        "per_customer_limit": campaign.per_customer_limit,
        "valid_days": campaign.valid_days,
        "remaining": campaign.remaining,
    }


def voucher_status(voucher: Voucher, now: datetime) -> str:
    """What the shopper sees: an available voucher past its validity is expired (the sweep
    writes it later)."""
    if voucher.status == VoucherStatus.AVAILABLE and voucher.expires_at <= now:
        return VoucherStatus.EXPIRED
    return str(voucher.status)


def voucher_output(voucher: Voucher, *, now: datetime | None = None) -> dict[str, Any]:
    """A shopper's voucher as API.md gives it."""
    campaign = voucher.campaign
    return {
        "id": voucher.pk,
        "code": voucher.code,
        "campaign": campaign.slug,
        "face_value": campaign.face_value,
        "min_spend": campaign.min_spend,
        "currency": campaign.currency,
        "status": voucher_status(voucher, now or timezone.now()),
        "expires_at": iso_datetime(voucher.expires_at),
    }


class FunderSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=FunderKind.choices)
    name = serializers.CharField()


class ScopeSerializer(serializers.Serializer):
    exhibitors = serializers.ListField(child=serializers.SlugField(), help_text="Empty: every exhibitor.")
    kinds = serializers.ListField(child=serializers.CharField(), help_text="Empty: every kind.")
    products = serializers.ListField(child=serializers.IntegerField(), help_text="Empty: every product.")


class WindowSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class CampaignOutputSerializer(serializers.Serializer):
    # The shape for the OpenAPI schema only; `campaign_output()` writes it.
    slug = serializers.SlugField()
    title = serializers.CharField()
    funder = FunderSerializer()
    face_value = serializers.IntegerField(help_text="Minor units.")
    min_spend = serializers.IntegerField(help_text="Minor units of in-scope goods an order needs.")
    currency = serializers.CharField()
    scope = ScopeSerializer()
    eligibility = serializers.SlugField(allow_null=True, help_text="The group a shopper must be a verified member of.")
    claim_starts_at = serializers.DateTimeField()
    claim_ends_at = serializers.DateTimeField()
    next_window = serializers.SerializerMethodField()
    per_customer_limit = serializers.IntegerField()
    valid_days = serializers.IntegerField()
    remaining = serializers.IntegerField(help_text="Vouchers left in the budget.")

    @extend_schema_field(WindowSerializer(allow_null=True))
    def get_next_window(self, campaign: Campaign) -> dict[str, Any] | None:  # the schema's field; never called
        raise NotImplementedError

    def to_representation(self, instance: Campaign) -> dict[str, Any]:
        return campaign_output(instance)


class VoucherOutputSerializer(serializers.Serializer):
    # The shape for the OpenAPI schema only; `voucher_output()` writes it.
    id = serializers.IntegerField()
    code = serializers.CharField()
    campaign = serializers.SlugField()
    face_value = serializers.IntegerField()
    min_spend = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=VoucherStatus.choices)
    expires_at = serializers.DateTimeField()

    def to_representation(self, instance: Voucher) -> dict[str, Any]:
        return voucher_output(instance)
