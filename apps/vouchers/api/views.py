"""Voucher endpoints (API.md "Vouchers"). Transport only: services do the work."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.vouchers import selectors, services
from apps.vouchers.api.serializers import CampaignOutputSerializer, VoucherOutputSerializer, campaign_output, voucher_output
from apps.vouchers.errors import CampaignExhausted, NotClaimableNow, NotEligible, VoucherLimitExceeded
from apps.vouchers.models import Campaign, Voucher
from marketplace.api.idempotency import HEADER, MAX_KEY_LENGTH, REPLAY_HEADER, idempotent
from marketplace.api.pagination import CursorPagination
from marketplace.api.schema import error_responses
from marketplace.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidIdempotencyKey

IDEMPOTENCY_KEY = OpenApiParameter(
    name=HEADER, type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}, location=OpenApiParameter.HEADER,
    required=False,
    description="Same key and body within 24 h replays the first response; another body answers 422; "
                "a key whose first request is still running answers 409; an empty, longer or unprintable key 400.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    name=REPLAY_HEADER, type={"type": "string", "enum": ["true"]}, location=OpenApiParameter.HEADER, response=True,
    description="Present on a replayed response (the same Idempotency-Key and body as an earlier request).",
)


class CampaignListView(GenericAPIView):
    """Campaigns open for claims or opening later, newest first (public)."""

    permission_classes = [AllowAny]
    pagination_class = CursorPagination
    queryset = Campaign.objects.none()  # for the schema only; rows come from the selector
    ordering = "-id"

    @extend_schema(tags=["vouchers"], operation_id="voucher_campaigns_list", responses=CampaignOutputSerializer(many=True))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(selectors.campaign_list_public())
        return self.get_paginated_response([campaign_output(campaign) for campaign in page or ()])


class CampaignClaimView(APIView):
    """Claim one voucher of a campaign (shopper)."""

    @extend_schema(
        tags=["vouchers"], operation_id="voucher_campaigns_claim", request=None,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED],
        responses={201: VoucherOutputSerializer, **error_responses(
            InvalidIdempotencyKey, NotEligible, CampaignExhausted, NotClaimableNow, VoucherLimitExceeded,
            IdempotencyKeyInUse, IdempotencyKeyReused)},
    )
    @idempotent
    def post(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        campaign = services.campaign_get_claimable(slug=slug)
        voucher = services.voucher_claim(campaign=campaign, user=request.user)
        voucher.campaign = campaign
        return Response(voucher_output(voucher), status=status.HTTP_201_CREATED)


class VoucherListView(GenericAPIView):
    """The shopper's own vouchers, newest first."""

    pagination_class = CursorPagination
    queryset = Voucher.objects.none()  # for the schema only
    ordering = "-created_at"

    @extend_schema(tags=["vouchers"], operation_id="vouchers_list", responses=VoucherOutputSerializer(many=True))
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(selectors.voucher_list_for_shopper(user=request.user))
        return self.get_paginated_response([voucher_output(voucher) for voucher in page or ()])
