"""The booth's JSON calls (docs/API-additions.md "Passes at the booth"). Transport only.

Used by the /booth/ page with its session cookie (DRF's SessionAuthentication enforces CSRF) and
open to any scanner app with `X-Session-Token`. Staff of the pass's exhibitor and operators; a
pass of another exhibitor answers like a forged one: 404, or `not_found` per batch item.
"""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.exhibitors.models import Exhibitor
from apps.fulfilment import signing
from apps.fulfilment.booth import selectors, services
from apps.fulfilment.booth.selectors import PassState, PassView
from apps.fulfilment.booth.services import BATCH_LIMIT, RedemptionRequest, SyncStatus
from marketplace.api.schema import error_responses
from marketplace.errors import NotFound


class PassLookupInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=300, trim_whitespace=True)
    exhibitor = serializers.SlugField(max_length=60, required=False,
                                      help_text="The booth's exhibitor slug: passes of other exhibitors answer 404.")


class BoothPassSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=[PassState.VALID, PassState.REDEEMED, PassState.REVOKED,
                                             PassState.NOT_YET_VALID, PassState.EXPIRED])
    holder = serializers.CharField(help_text="The holder's name, or their email masked.")
    product = serializers.CharField()
    exhibitor = serializers.CharField(source="exhibitor_slug")
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    redeemed_at = serializers.DateTimeField(allow_null=True)


class RedemptionItemSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64, required=False, default="",
                               help_text="The device's id for this redemption, echoed in its result.")
    token = serializers.CharField(max_length=300, trim_whitespace=True)
    redeemed_at = serializers.DateTimeField(help_text="When the device admitted the holder (device clock).")


class PassRedeemBatchInputSerializer(serializers.Serializer):
    exhibitor = serializers.SlugField(max_length=60, required=False)
    items = serializers.ListField(child=RedemptionItemSerializer(), allow_empty=False, max_length=BATCH_LIMIT)


class RedemptionResultSerializer(serializers.Serializer):
    id = serializers.CharField(source="client_id")
    status = serializers.ChoiceField(choices=[SyncStatus.REDEEMED, SyncStatus.ALREADY_REDEEMED, SyncStatus.DUPLICATE,
                                              SyncStatus.NOT_FOUND, SyncStatus.REVOKED, SyncStatus.NOT_VALID_NOW,
                                              SyncStatus.INVALID_TIME])
    pass_id = serializers.IntegerField(allow_null=True)
    holder = serializers.CharField()
    product = serializers.CharField()
    redeemed_at = serializers.DateTimeField(allow_null=True)


class PassRedeemBatchOutputSerializer(serializers.Serializer):
    results = RedemptionResultSerializer(many=True)
    synced_at = serializers.DateTimeField()


class BoothExhibitorSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    hall = serializers.CharField()
    booth = serializers.CharField()


class PassRosterSerializer(serializers.Serializer):
    exhibitor = BoothExhibitorSerializer()
    generated_at = serializers.DateTimeField()
    key_id = serializers.CharField()
    passes = BoothPassSerializer(many=True)


def _booth(user: Any, slug: str | None) -> Exhibitor | None:
    return selectors.booth_exhibitor_get(user=user, slug=slug) if slug else None


class PassLookupView(APIView):
    @extend_schema(tags=["passes"], operation_id="pass_lookup", request=PassLookupInputSerializer,
                   responses={200: BoothPassSerializer, **error_responses(NotFound)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PassLookupInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booth = _booth(request.user, serializer.validated_data.get("exhibitor"))
        view: PassView = selectors.pass_lookup(user=request.user, token=serializer.validated_data["token"],
                                               exhibitor_id=booth.pk if booth else None)
        return Response(BoothPassSerializer(view).data, headers={"Cache-Control": "no-store"})


class PassRedeemBatchView(APIView):
    @extend_schema(tags=["passes"], operation_id="pass_redeem_batch", request=PassRedeemBatchInputSerializer,
                   responses={200: PassRedeemBatchOutputSerializer, **error_responses(NotFound)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PassRedeemBatchInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booth = _booth(request.user, serializer.validated_data.get("exhibitor"))
        items = [RedemptionRequest(token=item["token"], redeemed_at=item["redeemed_at"], client_id=item["id"])
                 for item in serializer.validated_data["items"]]
        results = services.pass_redeem_batch(user=request.user, items=items, exhibitor_id=booth.pk if booth else None)
        body = {"results": results, "synced_at": timezone.now()}
        return Response(PassRedeemBatchOutputSerializer(body).data, headers={"Cache-Control": "no-store"})


class PassRosterView(APIView):
    @extend_schema(tags=["passes"], operation_id="pass_roster",
                   parameters=[OpenApiParameter("exhibitor", str, required=True, description="The booth's exhibitor slug.")],
                   responses={200: PassRosterSerializer, **error_responses(NotFound)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        booth = selectors.booth_exhibitor_get(user=request.user, slug=request.query_params.get("exhibitor", ""))
        body = {
            "exhibitor": {"slug": booth.slug, "name": selectors.exhibitor_display_name(booth), "hall": booth.hall,
                          "booth": booth.booth},
            "generated_at": timezone.now(), "key_id": signing.key_id(),
            "passes": selectors.pass_roster(user=request.user, exhibitor=booth),
        }
        return Response(PassRosterSerializer(body).data, headers={"Cache-Control": "no-store"})
