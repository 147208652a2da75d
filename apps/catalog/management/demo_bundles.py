"""The demo expo's bundle (API.md "Demo expo (additions)"): `demo-bundle`, a collectible, a download
and a pass of three exhibitors at one price, listed under Nebula Booth as its lead exhibitor and
made by the demo operator (only operators bundle several exhibitors' goods).

Loaded after the demo expo (`load_demo`), through the catalog services, idempotently: an existing
`demo-bundle` is left as it is (an operator may have edited it).
"""

from django.db import transaction

from apps.accounts.models import User
from apps.catalog import services as catalog_services
from apps.catalog.management.demo import OPERATOR_EMAIL, DemoLoadResult
from apps.catalog.models import Product, ProductKind
from apps.exhibitors.models import Exhibitor

DEMO_BUNDLE_SLUG = "demo-bundle"
DEMO_BUNDLE_LEAD = "nebula-booth"
# (exhibitor slug, product slug, units per bundle, share in basis points): 28 % + 21 % + 51 %.
DEMO_BUNDLE_COMPONENTS = (
    ("nebula-booth", "nebula-genesis-badge", 1, 2800),
    ("pixel-dragon-games", "lantern-quest-soundtrack", 1, 2100),
    ("jade-leaf-tea", "tea-ceremony-tasting", 1, 5100),
)
DEMO_BUNDLE_PRICE = 11800  # CNY 118.00 for goods that cost CNY 134.00 one by one


@transaction.atomic
def demo_bundle_load(*, result: DemoLoadResult) -> Product | None:
    """Create and publish `demo-bundle` unless it exists; counts what it created in `result`.

    Preconditions: the demo expo is loaded (its exhibitors, products and operator account); with
    another fixture that lacks them (`load_demo --fixture`), nothing is made and None returned.
    Raises what the catalog services raise (ValidationFailed if a component cannot be sold).
    Idempotent.
    """
    lead = Exhibitor.objects.filter(slug=DEMO_BUNDLE_LEAD).first()
    operator = User.objects.filter(email=OPERATOR_EMAIL).first()
    components = [Product.objects.filter(exhibitor__slug=exhibitor_slug, slug=product_slug).first()
                  for exhibitor_slug, product_slug, _quantity, _share in DEMO_BUNDLE_COMPONENTS]
    if lead is None or operator is None:
        return None
    bundle = Product.objects.filter(exhibitor=lead, slug=DEMO_BUNDLE_SLUG).first()
    if bundle is None:
        if None in components:
            return None
        bundle = catalog_services.product_save(product=Product(
            exhibitor=lead, kind=ProductKind.BUNDLE, slug=DEMO_BUNDLE_SLUG, price=DEMO_BUNDLE_PRICE, currency="CNY",
            title_en="Expo Explorer Bundle", title_zh_hans="展会探索礼包",
            description_en="A Nebula Genesis Badge, the Lantern Quest soundtrack and a Tea Ceremony Tasting Pass: "
                           "three booths, one price.",
            description_zh_hans="星云创世徽章、《灯笼奇旅》原声音乐和茶道品鉴通行证：三个展位，一个价格。",
        ))
        specs = [catalog_services.ComponentSpec(product_id=component.pk, quantity=quantity, share_bps=share_bps)
                 for component, (_e, _p, quantity, share_bps) in zip(components, DEMO_BUNDLE_COMPONENTS, strict=True)
                 if component is not None]
        catalog_services.bundle_components_set(bundle=bundle, components=specs, actor=operator)
        bundle = catalog_services.product_set_published(product=bundle, published=True)
        result.created["products"] += 1
    result.products_by_kind[bundle.kind] += 1
    return bundle
