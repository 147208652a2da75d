"""The Stripe webhook endpoint (API.md "Payments"). Transport only: the service verifies, stores
and enqueues. No authentication and no CSRF (Stripe signs the body instead)."""

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from apps.payments.providers import WebhookSignatureError
from apps.payments.services.webhooks import webhook_receive


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
        return JsonResponse({"received": True}, status=200)
