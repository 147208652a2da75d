"""The Stripe webhook endpoint (API.md "Payments"). Transport only: the service verifies, stores
and enqueues. No authentication and no CSRF (Stripe signs the body instead).

Oversized and malformed JSON bodies are refused before this view (marketplace/api/guard.py, 413
and 400); a correctly signed body that is not an event answers 400 `invalid_payload`, other
methods 405, all in the contract's error shape, and none of them stores or enqueues anything.
"""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from apps.payments.providers import WebhookPayloadError, WebhookSignatureError
from apps.payments.services.webhooks import webhook_receive
from marketplace.api.handlers import error_response


@method_decorator(csrf_exempt, name="dispatch")
class StripeWebhookView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            webhook_receive(body=request.body, signature=request.headers.get("Stripe-Signature"))
        except WebhookSignatureError:
            return JsonResponse({"type": "client_error", "errors": [
                {"code": "invalid_signature", "detail": "Missing, invalid or expired signature.", "attr": None}]},
                status=400)
        except WebhookPayloadError:
            return error_response(400, code="invalid_payload",
                                  detail=_("The signed body is not a Stripe event (a JSON object with an id and a type)."))
        return JsonResponse({"received": True}, status=200)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = error_response(405, detail=_('Method "%(method)s" not allowed.') % {"method": request.method})
        response["Allow"] = "POST"
        return response
