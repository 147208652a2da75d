"""Refusals of fulfilment endpoints, with stable codes (API.md "What shoppers own")."""

from django.utils.translation import gettext_lazy as _

from marketplace.errors import DomainError


class AlreadyRedeemed(DomainError):
    code = "already_redeemed"
    status_code = 409
    default_detail = _("This pass was already redeemed.")


class PassRevoked(DomainError):
    code = "pass_revoked"
    status_code = 409
    default_detail = _("This pass was revoked (refunded).")


class PassNotValidNow(DomainError):
    code = "pass_not_valid_now"
    status_code = 409
    default_detail = _("This pass is not valid at this time.")


class LinkExpired(DomainError):
    code = "link_expired"
    status_code = 410
    default_detail = _("This download link has expired; get a fresh one from your library.")


class DownloadsExhausted(DomainError):
    code = "downloads_exhausted"
    status_code = 410
    default_detail = _("No downloads are left for this item.")


class EntitlementRevoked(DomainError):
    code = "revoked"
    status_code = 410
    default_detail = _("This item was revoked (refunded).")


class FulfilmentFailed(DomainError):
    code = "fulfilment_failed"
    status_code = 409
    default_detail = _("The order could not be fulfilled.")


class HoldingPeriod(DomainError):
    code = "holding_period"
    status_code = 409
    default_detail = _("This item cannot be given yet.")


class RecipientNotEligible(DomainError):
    code = "recipient_not_eligible"
    status_code = 409
    default_detail = _("This item can only be given to another shopper with a verified email address.")
