"""Giving a collectible (API.md "Gifting collectibles"). Transport only: apps.fulfilment.services.gifts
does the work. Another shopper's item, like an unknown id, answers 404."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.fulfilment import services
from apps.fulfilment.errors import HoldingPeriod, RecipientNotEligible
from apps.fulfilment.models import Gift
from marketplace.api.idempotency import HEADER, MAX_KEY_LENGTH, REPLAY_HEADER, idempotent
from marketplace.api.schema import error_responses
from marketplace.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    InvalidState,
    NotFound,
    ValidationFailed,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    name=HEADER, type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH}, location=OpenApiParameter.HEADER,
    required=False, description="Same key and body within 24 h replays the first response; another body answers 422.",
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    name=REPLAY_HEADER, type={"type": "string", "enum": ["true"]}, location=OpenApiParameter.HEADER, response=True,
    description="Present on a replayed response.",
)


class TransferInputSerializer(serializers.Serializer):
    # Only the recipient: no price or amount is accepted (a gift is not a sale).
    to_email = serializers.EmailField(max_length=254, help_text="A verified shopper's email address.")


class TransferOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=["completed"], read_only=True)
    edition = inline_serializer("TransferEdition", {"serial": serializers.IntegerField()})
    to = serializers.CharField(read_only=True, help_text="The recipient's email address, as given.")


def transfer_output(gift: Gift, *, to_email: str) -> dict[str, Any]:
    return {"id": gift.pk, "status": "completed", "edition": {"serial": gift.to_entitlement.serial}, "to": to_email}


class LibraryTransferView(APIView):
    """Give one of your collectibles to another verified shopper, once its holding period is over."""

    @extend_schema(
        tags=["library"], operation_id="library_transfer", request=TransferInputSerializer,
        parameters=[OpenApiParameter("entitlement_id", OpenApiTypes.INT, OpenApiParameter.PATH), IDEMPOTENCY_KEY,
                    IDEMPOTENT_REPLAYED],
        responses={201: TransferOutputSerializer, **error_responses(
            NotFound, HoldingPeriod, RecipientNotEligible, InvalidState, InvalidIdempotencyKey, IdempotencyKeyInUse,
            IdempotencyKeyReused, fields={"to_email": [ValidationFailed, "required", "null", "blank", "max_length"]})},
    )
    @idempotent
    def post(self, request: Request, entitlement_id: int, *args: Any, **kwargs: Any) -> Response:
        serializer = TransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        to_email = serializer.validated_data["to_email"]
        gift = services.entitlement_transfer(entitlement_id=entitlement_id, user=request.user, to_email=to_email)
        return Response(transfer_output(gift, to_email=to_email), status=status.HTTP_201_CREATED)
