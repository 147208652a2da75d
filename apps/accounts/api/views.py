"""`GET /api/v1/me/` (API.md "Groups (eligibility)"): the signed-in shopper's own account."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import user_group_slugs


def me_output(user: Any) -> dict[str, Any]:
    """The one writer of the `Me` shape."""
    return {"email": user.email, "language": user.language, "groups": user_group_slugs(user_id=user.pk)}


class MeOutputSerializer(serializers.Serializer):
    # The shape for the OpenAPI schema only; `me_output()` writes it.
    email = serializers.EmailField()
    language = serializers.ChoiceField(choices=["en", "zh-hans"])
    groups = serializers.ListField(child=serializers.SlugField(), help_text="Slugs of verified eligibility groups.")


class MeView(APIView):
    @extend_schema(tags=["accounts"], operation_id="me_retrieve", responses=MeOutputSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(me_output(request.user))
