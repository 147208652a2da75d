"""Domain errors raised in a view reach REST clients in the contract's shape (API.md "Conventions")."""

import pytest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from marketplace import errors

RAISED = {
    "sold-out": errors.SoldOut(),
    "not-on-sale": errors.NotOnSale("Opens at 10:00."),
    "limit": errors.LimitExceeded(),
    "slot-required": errors.SlotRequired(),
    "slot-full": errors.SlotFull(),
    "invalid-state": errors.InvalidState(),
    "not-found": errors.NotFound(),
    "denied": errors.PermissionDenied(),
    "field": errors.ValidationFailed("Too many.", attr="quantity"),
    "no-field": errors.ValidationFailed("Nope."),
}


class RaisingView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request, name: str) -> Response:
        if name == "boom":
            raise RuntimeError("an unexpected bug")
        raise RAISED[name]


urlpatterns = [path("api/v1/raise/<str:name>/", RaisingView.as_view())]
handler404 = "marketplace.api.handlers.not_found"
handler500 = "marketplace.api.handlers.server_error"

pytestmark = pytest.mark.urls(__name__)


@pytest.mark.parametrize(
    ("name", "status", "code", "detail"),
    [
        ("sold-out", 409, "sold_out", "This product is sold out."),
        ("not-on-sale", 409, "not_on_sale", "Opens at 10:00."),
        ("limit", 409, "limit_exceeded", errors.LimitExceeded.default_detail),
        ("slot-required", 400, "slot_required", errors.SlotRequired.default_detail),
        ("slot-full", 409, "slot_full", errors.SlotFull.default_detail),
        ("invalid-state", 409, "invalid_state", errors.InvalidState.default_detail),
        ("not-found", 404, "not_found", "Not found."),
        ("denied", 403, "permission_denied", errors.PermissionDenied.default_detail),
        ("no-field", 400, "invalid", "Nope."),
    ],
)
def test_domain_error_maps_to_its_status_and_code(name, status, code, detail):
    # given a view that raises a domain error
    client = APIClient()

    # when it is called
    response = client.get(f"/api/v1/raise/{name}/")

    # then the response has the error's status and the contract's shape with its stable code
    assert response.status_code == status
    assert response.json() == {"type": "client_error", "errors": [{"code": code, "detail": detail, "attr": None}]}


def test_field_scoped_domain_error_is_a_validation_error_on_that_field():
    response = APIClient().get("/api/v1/raise/field/")

    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"code": "invalid", "detail": "Too many.", "attr": "quantity"}],
    }


def test_unexpected_exception_answers_500_json_without_details():
    client = APIClient(raise_request_exception=False)

    response = client.get("/api/v1/raise/boom/")

    assert response.status_code == 500
    body = response.json()
    assert body["type"] == "server_error"
    assert [(e["code"], e["attr"]) for e in body["errors"]] == [("error", None)]
    assert "unexpected bug" not in response.content.decode()


def test_unrouted_api_path_answers_404_json():
    response = APIClient().get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response.json() == {"type": "client_error", "errors": [{"code": "not_found", "detail": "Not found.", "attr": None}]}
