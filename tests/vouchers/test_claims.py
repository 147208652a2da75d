"""Claiming vouchers: the contract's refusals, limits per shopper and window, eligibility, the
budget, the exhausted flag, and windows that recur daily."""

from datetime import time, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts import services as account_services
from apps.vouchers import services
from apps.vouchers.errors import CampaignExhausted, NotClaimableNow, NotEligible, VoucherLimitExceeded
from apps.vouchers.models import Campaign, CustomerClaims, Voucher, VoucherStatus
from apps.vouchers.windows import current_window, next_window
from tests.factories import ShopperFactory
from tests.vouchers.conftest import make_campaign

pytestmark = pytest.mark.django_db


def test_a_claim_gives_an_available_voucher_valid_for_the_campaigns_days(campaign, shopper):
    voucher = services.voucher_claim(campaign=campaign, user=shopper)
    assert voucher.status == VoucherStatus.AVAILABLE
    assert voucher.code.startswith("VC-")
    assert abs((voucher.expires_at - timezone.now()) - timedelta(days=7)) < timedelta(minutes=1)
    campaign.refresh_from_db()
    assert (campaign.claimed_count, campaign.remaining) == (1, 9)


def test_a_second_claim_over_the_per_shopper_limit_is_limit_exceeded_and_writes_nothing(campaign, shopper):
    services.voucher_claim(campaign=campaign, user=shopper)
    with pytest.raises(VoucherLimitExceeded) as caught:
        services.voucher_claim(campaign=campaign, user=shopper)
    assert caught.value.code == "limit_exceeded"
    campaign.refresh_from_db()
    assert campaign.claimed_count == 1
    assert Voucher.objects.filter(user=shopper).count() == 1


def test_the_budget_is_never_exceeded_and_then_exhausted_is_answered_from_redis(operator):
    campaign = make_campaign(actor=operator, budget=2500)  # 2 vouchers of 10.00 (the rest of the budget issues none)
    assert campaign.quantity == 2
    for _ in range(2):
        services.voucher_claim(campaign=campaign, user=ShopperFactory())
    late = ShopperFactory()
    with pytest.raises(CampaignExhausted) as caught:
        services.voucher_claim(campaign=campaign, user=late)
    assert caught.value.code == "campaign_exhausted"
    # Flagged now: the next refusal reads Redis, never the campaign row.
    with CaptureQueriesContext(connection) as queries, pytest.raises(CampaignExhausted):
        services.voucher_claim(campaign=campaign, user=late)
    assert len(queries) == 0
    assert Voucher.objects.filter(campaign=campaign).count() == 2


@pytest.mark.parametrize(("starts", "ends"), [(timedelta(hours=1), timedelta(days=1)), (-timedelta(days=2), -timedelta(days=1))])
def test_before_or_after_the_claim_window_is_not_claimable_now(operator, shopper, starts, ends):
    now = timezone.now()
    campaign = make_campaign(actor=operator, claim_starts_at=now + starts, claim_ends_at=now + ends)
    with pytest.raises(NotClaimableNow) as caught:
        services.voucher_claim(campaign=campaign, user=shopper)
    assert caught.value.code == "not_claimable_now"


def test_a_paused_campaign_is_not_claimable(operator, shopper):
    campaign = make_campaign(actor=operator, is_active=False)
    with pytest.raises(NotClaimableNow):
        services.voucher_claim(campaign=campaign, user=shopper)


def test_an_eligibility_group_admits_verified_current_members_only(operator, shopper, other_shopper, senior_group):
    campaign = make_campaign(actor=operator, eligibility=senior_group)
    with pytest.raises(NotEligible) as caught:
        services.voucher_claim(campaign=campaign, user=shopper)
    assert (caught.value.code, caught.value.status_code) == ("not_eligible", 403)
    account_services.eligibility_verify(user=shopper, group=senior_group, actor=operator)
    assert services.voucher_claim(campaign=campaign, user=shopper).status == VoucherStatus.AVAILABLE
    # A membership that ran out no longer counts.
    account_services.eligibility_verify(user=other_shopper, group=senior_group, actor=operator,
                                        valid_until=timezone.now() - timedelta(minutes=1))
    with pytest.raises(NotEligible):
        services.voucher_claim(campaign=campaign, user=other_shopper)


def _daily_campaign(operator, **fields):
    now = timezone.localtime()
    start = (now - timedelta(minutes=5)).time().replace(second=0, microsecond=0)
    return make_campaign(actor=operator, claim_starts_at=now - timedelta(days=3), claim_ends_at=now + timedelta(days=3),
                         window_starts=start, window_minutes=30, **fields)


def test_daily_windows_open_at_their_time_and_say_when_the_next_opens(operator):
    campaign = _daily_campaign(operator)
    now = timezone.now()
    window = current_window(campaign, now)
    assert window is not None
    assert window.starts_at <= now < window.ends_at
    assert window.index == 3
    later = window.ends_at + timedelta(minutes=1)
    assert current_window(campaign, later) is None
    upcoming = next_window(campaign, later)
    assert upcoming is not None
    assert upcoming.starts_at - window.starts_at == timedelta(days=1)
    noon = make_campaign(actor=operator, slug="noon", window_starts=time(12, 0), window_minutes=60,
                         claim_starts_at=now - timedelta(days=1), claim_ends_at=now + timedelta(days=5))
    assert timezone.localtime(next_window(noon, now).starts_at).time() in (time(12, 0), timezone.localtime(noon.claim_starts_at).time())


def test_per_window_limit_resets_in_the_next_window_but_the_total_limit_holds(operator, shopper):
    campaign = _daily_campaign(operator, per_customer_limit=2, per_window_limit=1)
    services.voucher_claim(campaign=campaign, user=shopper)
    with pytest.raises(VoucherLimitExceeded):
        services.voucher_claim(campaign=campaign, user=shopper)
    window = current_window(campaign, timezone.now())
    tomorrow = window.starts_at + timedelta(days=1, minutes=1)
    services.voucher_claim(campaign=campaign, user=shopper, now=tomorrow)
    with pytest.raises(VoucherLimitExceeded):
        services.voucher_claim(campaign=campaign, user=shopper, now=tomorrow + timedelta(days=1))
    assert CustomerClaims.objects.get(campaign=campaign, user=shopper).total == 2


def test_a_windows_quota_without_rollover_loses_what_a_window_left(operator):
    campaign = _daily_campaign(operator, budget=10 * 1000, window_quota=2, returns_to_pool=False)
    services.voucher_claim(campaign=campaign, user=ShopperFactory())
    window = current_window(campaign, timezone.now())
    services.voucher_claim(campaign=campaign, user=ShopperFactory())
    with pytest.raises(CampaignExhausted) as caught:
        services.voucher_claim(campaign=campaign, user=ShopperFactory())
    assert "window" in str(caught.value.detail)
    tomorrow = window.starts_at + timedelta(days=1, minutes=1)
    cache.clear()
    for _ in range(2):
        services.voucher_claim(campaign=campaign, user=ShopperFactory(), now=tomorrow)
    with pytest.raises(CampaignExhausted):
        services.voucher_claim(campaign=campaign, user=ShopperFactory(), now=tomorrow)


def test_a_windows_quota_with_rollover_lets_the_next_window_take_what_this_one_left(operator):
    campaign = _daily_campaign(operator, budget=10 * 1000, window_quota=2, returns_to_pool=True)
    window = current_window(campaign, timezone.now())
    # Window 3 (the 4th day) may have handed out 4 × 2 = 8 in all: nothing was claimed before, so 8 now.
    for _ in range(8):
        services.voucher_claim(campaign=campaign, user=ShopperFactory())
    with pytest.raises(CampaignExhausted):
        services.voucher_claim(campaign=campaign, user=ShopperFactory())
    tomorrow = window.starts_at + timedelta(days=1, minutes=1)
    cache.clear()
    for _ in range(2):  # the budget's last two
        services.voucher_claim(campaign=campaign, user=ShopperFactory(), now=tomorrow)
    with pytest.raises(CampaignExhausted):
        services.voucher_claim(campaign=campaign, user=ShopperFactory(), now=tomorrow)
    assert Campaign.objects.get(pk=campaign.pk).claimed_count == 10


def test_expired_vouchers_go_back_to_the_pool_when_the_campaign_says_so(operator, django_capture_on_commit_callbacks):
    pooled = make_campaign(actor=operator, budget=1000, returns_to_pool=True, valid_days=1)
    kept = make_campaign(actor=operator, slug="kept", budget=1000, returns_to_pool=False, valid_days=1)
    first = services.voucher_claim(campaign=pooled, user=ShopperFactory())
    services.voucher_claim(campaign=kept, user=ShopperFactory())
    with pytest.raises(CampaignExhausted):
        services.voucher_claim(campaign=pooled, user=ShopperFactory())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # the exhausted flag is cleared after commit
        assert services.vouchers_expire_due(now=timezone.now() + timedelta(days=2)) == 2
    assert callbacks
    assert services.vouchers_expire_due(now=timezone.now() + timedelta(days=2)) == 0  # called twice: nothing more
    first.refresh_from_db()
    assert (first.status, first.returned_to_pool) == (VoucherStatus.EXPIRED, True)
    pooled.refresh_from_db()
    kept.refresh_from_db()
    assert (pooled.remaining, kept.remaining) == (1, 0)
    services.voucher_claim(campaign=pooled, user=ShopperFactory())  # the flag was cleared with the return
