"""Refusals of the catalog's drops (API.md "Drops"), with stable codes."""

from django.utils.translation import gettext_lazy as _

from marketplace.errors import DomainError


class NotRegistrableNow(DomainError):
    code = "not_registrable_now"
    status_code = 409
    default_detail = _("Registration for this ballot is not open now.")


class AlreadyRegistered(DomainError):
    code = "already_registered"
    status_code = 409
    default_detail = _("You are already registered for this ballot.")


class BallotRequired(DomainError):
    code = "ballot_required"
    status_code = 409
    default_detail = _("This drop is sold by ballot: only a winner may order it, inside their purchase window.")
