"""Payments in the admin.

Operators see every money row (payments, refunds, the ledger, the webhook inbox), replay events
and retry payouts. Exhibitor staff see, for their own exhibitors only (marketplace.tenancy):
the Payouts page (their payout account, its onboarding, what is waiting and what was paid) and
read-only lists of their transfers and reversals. Another exhibitor's ids answer 404. Writes go
through the services; nothing here saves a model.
"""


# Importing the submodules registers their ModelAdmins; payouts last, since it re-registers the
# exhibitor admin with its payouts part.
from apps.payments.admin import payments, settlement, transfers  # noqa: F401
from apps.payments.admin.payouts import ExhibitorPayoutsAdmin, exhibitor_payouts_cell, payouts_summary, start_onboarding

__all__ = ["ExhibitorPayoutsAdmin", "exhibitor_payouts_cell", "payouts_summary", "start_onboarding"]
