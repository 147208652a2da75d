"""Domain errors: exceptions with a stable `code` and an HTTP status.

Services raise these; `marketplace.api.errors.ExceptionHandler` maps every one of them to the
contract's error shape (API.md), so views never translate errors by hand (DESIGN.md habit 2).

`detail` is for people: lazily translated, so it is written in the request's language
(Accept-Language, LocaleMiddleware) when the response is rendered; `code` never changes.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """Base of every business-rule refusal. Subclasses set `code` and `status_code`."""

    code: str = "invalid"
    status_code: int = 400
    default_detail: str | Promise = _("The request was refused.")

    def __init__(self, detail: str | Promise | None = None, *, attr: str | None = None) -> None:
        self.detail = detail or self.default_detail
        self.attr = attr
        super().__init__(self.detail)


class NotFound(DomainError):
    code = "not_found"
    status_code = 404
    default_detail = _("Not found.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    status_code = 403
    default_detail = _("You do not have permission to perform this action.")


class InvalidState(DomainError):
    code = "invalid_state"
    status_code = 409
    default_detail = _("The object is not in a state that allows this action.")


class ValidationFailed(DomainError):
    code = "invalid"
    status_code = 400
    default_detail = _("Invalid input.")


class SoldOut(DomainError):
    code = "sold_out"
    status_code = 409
    default_detail = _("This product is sold out.")


class NotOnSale(DomainError):
    code = "not_on_sale"
    status_code = 409
    default_detail = _("This product is not on sale now.")


class LimitExceeded(DomainError):
    code = "limit_exceeded"
    status_code = 409
    default_detail = _("This exceeds the per-customer limit for the product.")


class SlotRequired(DomainError):
    code = "slot_required"
    status_code = 400
    default_detail = _("A time slot is required for this service.")


class SlotFull(DomainError):
    code = "slot_full"
    status_code = 409
    default_detail = _("This time slot is full.")


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status_code = 422
    default_detail = _("This Idempotency-Key was already used with a different request.")


class IdempotencyKeyInUse(DomainError):
    code = "idempotency_key_in_use"
    status_code = 409
    default_detail = _("A request with this Idempotency-Key is still being processed; retry later.")


class InvalidIdempotencyKey(DomainError):
    code = "invalid_idempotency_key"
    status_code = 400
    default_detail = _("The Idempotency-Key header must be 1 to 255 printable characters.")
