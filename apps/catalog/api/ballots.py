"""Ballot endpoints of a drop (API.md "Drops"): register, one's standing, the public draw record.

Transport only: apps.catalog.services.ballots writes, apps.catalog.ballot_selectors reads. A
product that is not public or not sold by ballot answers 404 on every route.
"""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.catalog import ballot_selectors
from apps.catalog.errors import AlreadyRegistered, NotRegistrableNow
from apps.catalog.services import ballots
from marketplace.api.representation import iso_datetime
from marketplace.api.schema import error_responses
from marketplace.errors import InvalidState, NotFound

PRODUCT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="A ballot product's id.")


class BallotRegisteredSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["registered"], read_only=True)


class BallotStandingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["not_registered", "registered", "won", "lost"], read_only=True)
    purchase_by = serializers.DateTimeField(read_only=True, allow_null=True,
                                            help_text="The end of a winner's purchase window; null otherwise.")
    registration = serializers.CharField(read_only=True, allow_null=True,
                                         help_text="Your registration's opaque id, as listed in the published draw.")


class BallotDrawSerializer(serializers.Serializer):
    seed = serializers.CharField(read_only=True, help_text="The seed, revealed at the draw; its SHA-256 is seed_sha256.")
    seed_sha256 = serializers.CharField(read_only=True, help_text="The commitment published before registration closed.")
    drawn_at = serializers.DateTimeField(read_only=True)
    registrations = serializers.ListField(child=serializers.CharField(), read_only=True,
                                          help_text="Every registration's opaque id, in registration order.")
    winners = serializers.ListField(child=serializers.CharField(), read_only=True,
                                    help_text="The draw's winners, in drawn order.")
    algorithm = serializers.CharField(read_only=True, help_text="How to recompute `winners` from `seed` and `registrations`.")


def ballot_standing_output(standing: ballot_selectors.BallotStanding) -> dict[str, Any]:
    return {"status": standing.status, "purchase_by": iso_datetime(standing.purchase_by), "registration": standing.registration}


def ballot_draw_output(record: ballot_selectors.BallotDrawRecord) -> dict[str, Any]:
    return {"seed": record.seed, "seed_sha256": record.seed_sha256, "drawn_at": iso_datetime(record.drawn_at),
            "registrations": record.registrations, "winners": record.winners, "algorithm": record.algorithm}


class BallotRegisterView(APIView):
    """Register for a drop's ballot during its registration window (once per shopper)."""

    @extend_schema(tags=["drops"], operation_id="ballot_register", request=None, parameters=[PRODUCT_ID],
                   responses={201: BallotRegisteredSerializer, **error_responses(NotFound, NotRegistrableNow, AlreadyRegistered)})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        ballot = ballot_selectors.ballot_get_public(product_id=kwargs["id"])
        ballots.ballot_register(product_id=ballot.product_id, user=request.user)
        return Response({"status": "registered"}, status=status.HTTP_201_CREATED)


class BallotStandingView(APIView):
    """Where the shopper stands: not registered, registered, won (with the window's end) or lost."""

    @extend_schema(tags=["drops"], operation_id="ballot_standing", parameters=[PRODUCT_ID],
                   responses={200: BallotStandingSerializer, **error_responses(NotFound)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        standing = ballot_selectors.ballot_standing(product_id=kwargs["id"], user=request.user)
        return Response(ballot_standing_output(standing))


class BallotDrawView(APIView):
    """The public record of the draw: anyone can recompute the winners from it (see `algorithm`)."""

    permission_classes = [AllowAny]

    @extend_schema(tags=["drops"], operation_id="ballot_draw", parameters=[PRODUCT_ID],
                   responses={200: BallotDrawSerializer, **error_responses(NotFound, InvalidState)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(ballot_draw_output(ballot_selectors.ballot_draw_record(product_id=kwargs["id"])))
