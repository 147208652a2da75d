"""Refusals of the voucher endpoints and of an order placed with a voucher (API.md "Vouchers")."""

from django.utils.translation import gettext_lazy as _

from marketplace.errors import DomainError, LimitExceeded


class CampaignExhausted(DomainError):
    code = "campaign_exhausted"
    status_code = 409
    default_detail = _("All vouchers of this campaign have been claimed.")


class NotClaimableNow(DomainError):
    code = "not_claimable_now"
    status_code = 409
    default_detail = _("Vouchers of this campaign cannot be claimed now.")


class NotEligible(DomainError):
    code = "not_eligible"
    status_code = 403
    default_detail = _("This campaign is reserved for a group of shoppers you are not a verified member of.")


class VoucherLimitExceeded(LimitExceeded):
    default_detail = _("You have claimed as many vouchers of this campaign as a shopper may.")


class VoucherNotApplicable(DomainError):
    code = "voucher_not_applicable"
    status_code = 409
    default_detail = _("This voucher cannot be used for this order.")
