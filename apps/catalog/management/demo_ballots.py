"""The demo expo's drops (API.md "Demo expo (additions)"): `demo-ballot`, a collectible of Inkwave
Digital Art Studio sold by ballot whose registration is open now (the draw a day later), and holder
priority on the upcoming `night-market-lanterns` drop for holders of `demo-drop` (from a day
before its sale opens).

Loaded after the demo expo (`load_demo`), through the catalog services, idempotently: an existing
`demo-ballot`, ballot or priority is left as it is (an operator may have edited or drawn it).
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog import services as catalog_services
from apps.catalog.management.demo import OPERATOR_EMAIL, DemoLoadResult
from apps.catalog.models import Ballot, HolderPriority, Product, ProductKind
from apps.catalog.services import ballots, drops
from apps.exhibitors.models import Exhibitor

DEMO_BALLOT_SLUG = "demo-ballot"
DEMO_BALLOT_EXHIBITOR = "inkwave-studio"
DEMO_BALLOT_EDITIONS = 10
PRIORITY_PRODUCT = "night-market-lanterns"
PRIORITY_HOLDERS_OF = "demo-drop"


@transaction.atomic
def demo_ballot_load(*, result: DemoLoadResult, now: datetime | None = None) -> Product | None:
    """Create `demo-ballot` (published, registration open for a day from an hour ago, drawn ten
    minutes after it closes, 60-minute purchase windows) and the lanterns' holder priority,
    unless they exist; counts what it created in `result`.

    Preconditions: the demo expo is loaded; with another fixture that lacks its exhibitor, nothing
    is made and None returned. Raises what the catalog services raise. Idempotent.
    """
    now = now or timezone.now()
    exhibitor = Exhibitor.objects.filter(slug=DEMO_BALLOT_EXHIBITOR).first()
    operator = User.objects.filter(email=OPERATOR_EMAIL).first()
    if exhibitor is None:
        return None
    product = Product.objects.filter(exhibitor=exhibitor, slug=DEMO_BALLOT_SLUG).first()
    if product is None:
        product = catalog_services.product_save(product=Product(
            exhibitor=exhibitor, kind=ProductKind.COLLECTIBLE, slug=DEMO_BALLOT_SLUG, price=39900, currency="CNY",
            edition_size=DEMO_BALLOT_EDITIONS, per_customer_limit=1,
            title_en="Golden Koi — Ballot Drop", title_zh_hans="金色锦鲤 · 抽签发售",
            description_en=f"{DEMO_BALLOT_EDITIONS} numbered editions, sold by a fair, verifiable ballot: register "
                           "while it is open; after the draw each winner may buy one within an hour.",
            description_zh_hans=f"{DEMO_BALLOT_EDITIONS} 份编号作品，以公平、可核验的抽签方式发售：登记期内报名，"
                                "抽签后每位中签者可在一小时内购买一份。",
        ))
        result.created["products"] += 1
        result.created["editions"] += DEMO_BALLOT_EDITIONS
    if not Ballot.objects.filter(product=product).exists():
        ends = now + timedelta(days=1)
        ballots.ballot_save(product=product, registration_starts_at=now - timedelta(hours=1), registration_ends_at=ends,
                            draw_at=ends + timedelta(minutes=10), purchase_window_minutes=60, actor=operator, now=now)
        result.created["ballots"] += 1
    if not product.is_published:
        product = catalog_services.product_set_published(product=product, published=True)
    result.products_by_kind[product.kind] += 1
    _demo_priority(result=result, now=now)
    return product


def _demo_priority(*, result: DemoLoadResult, now: datetime) -> None:
    lanterns = Product.objects.filter(exhibitor__slug=DEMO_BALLOT_EXHIBITOR, slug=PRIORITY_PRODUCT).first()
    koi = Product.objects.filter(exhibitor__slug=DEMO_BALLOT_EXHIBITOR, slug=PRIORITY_HOLDERS_OF).first()
    if lanterns is None or koi is None or lanterns.sale_starts_at is None or lanterns.sale_starts_at <= now:
        return
    if HolderPriority.objects.filter(product=lanterns).exists():
        return
    drops.holder_priority_save(product=lanterns, starts_at=lanterns.sale_starts_at - timedelta(days=1), holders_of=[koi])
    result.created["holder priorities"] += 1
