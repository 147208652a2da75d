"""The demo expo's voucher campaigns (API.md "Demo expo (additions)"), loaded by `load_demo`:

- `demo-vouchers`: platform-funded, open now, 50 vouchers of 10.00 CNY off orders of at least
  20.00 CNY, 1 per shopper;
- `demo-senior-vouchers`: funded by the city commerce bureau, for verified members of `senior`
  (`senior@expo.test` is one), 20 vouchers of 30.00 CNY off 100.00 CNY, 1 per shopper.

Got-or-created by slug and email: a second load creates nothing and changes nothing.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts import services as account_services
from apps.accounts.models import EligibilityGroup, User
from apps.catalog.management.demo import DEMO_PASSWORD, OPERATOR_EMAIL
from apps.vouchers import services
from apps.vouchers.models import Campaign, FunderKind

SENIOR_EMAIL = "senior@expo.test"
CURRENCY = "CNY"


def demo_vouchers(*, now: datetime | None = None) -> dict[str, int]:
    """Create the demo campaigns and the verified senior shopper if missing. Needs the operator
    account (load the demo expo first). Idempotent; returns what it created."""
    now = now or timezone.now()
    created = {"campaigns": 0, "accounts": 0}
    operator = User.objects.get(email=OPERATOR_EMAIL)
    with transaction.atomic():
        senior_group, _ = EligibilityGroup.objects.get_or_create(slug="senior", defaults={"name": "Seniors (60 and over)"})
        EligibilityGroup.objects.get_or_create(slug="low-income", defaults={"name": "Low-income households"})
        senior = User.objects.filter(email=SENIOR_EMAIL).first()
        if senior is None:
            senior = User.objects.create_user(email=SENIOR_EMAIL, password=DEMO_PASSWORD)
            created["accounts"] += 1
            account_services.eligibility_verify(user=senior, group=senior_group, actor=operator,
                                                note="Demo: ID card checked at the help desk.")
        specs = [
            Campaign(slug="demo-vouchers", title_en="Expo opening voucher: 10 off 20", title_zh_hans="博览会开幕消费券：满20减10",
                     funder_kind=FunderKind.PLATFORM,
                     funder_name="Expo platform", currency=CURRENCY, face_value=1000, min_spend=2000, budget=50 * 1000,
                     claim_starts_at=now - timedelta(hours=1), claim_ends_at=now + timedelta(days=30),
                     per_customer_limit=1, valid_days=7, returns_to_pool=True),
            Campaign(slug="demo-senior-vouchers", title_en="City senior consumption voucher: 30 off 100",
                     title_zh_hans="城市长者消费券：满100减30",
                     funder_kind=FunderKind.PUBLIC, funder_name="City Commerce Bureau", currency=CURRENCY, face_value=3000,
                     min_spend=10000, budget=20 * 3000, eligibility=senior_group,
                     claim_starts_at=now - timedelta(hours=1), claim_ends_at=now + timedelta(days=30),
                     per_customer_limit=1, valid_days=14),
        ]
        for campaign in specs:
            if not Campaign.objects.filter(slug=campaign.slug).exists():
                services.campaign_save(campaign=campaign, actor=operator)
                created["campaigns"] += 1
    return created
