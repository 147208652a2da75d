"""Writes for vouchers, split by sub-domain: claims (the race for a campaign's budget) and
redemption (a voucher on an order: plan, apply, use, give back, refund, expire). Other apps
import from here."""

from apps.vouchers.services.campaigns import campaign_save, campaign_set_scope
from apps.vouchers.services.claims import campaign_clear_exhausted, campaign_get_claimable, voucher_claim
from apps.vouchers.services.redemption import (
    VoucherLine,
    VoucherPlan,
    split_largest_remainder,
    voucher_after_full_refund,
    voucher_apply,
    voucher_mark_used,
    voucher_plan_for,
    voucher_precheck,
    voucher_reclaim_for_order,
    voucher_release_for_order,
    voucher_subsidy_shares,
    vouchers_expire_due,
)

__all__ = [
    "VoucherLine",
    "VoucherPlan",
    "campaign_clear_exhausted",
    "campaign_get_claimable",
    "campaign_save",
    "campaign_set_scope",
    "split_largest_remainder",
    "voucher_after_full_refund",
    "voucher_apply",
    "voucher_claim",
    "voucher_mark_used",
    "voucher_plan_for",
    "voucher_precheck",
    "voucher_reclaim_for_order",
    "voucher_release_for_order",
    "voucher_subsidy_shares",
    "vouchers_expire_due",
]
