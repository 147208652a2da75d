"""factory_boy factories shared by the whole suite. Domain rows are created through services
where creation has side effects (a collectible's editions), so tests see what production sees."""

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog import services as catalog_services
from apps.catalog.models import Product, ProductKind, ServiceSlot
from apps.exhibitors import services as exhibitor_services
from apps.exhibitors.models import Exhibitor, ExhibitorStatus

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    password = PASSWORD  # create_user hashes it

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        manager = cls._get_manager(model_class)
        return manager.create_user(*args, **kwargs)


class OperatorFactory(UserFactory):
    is_staff = True
    is_superuser = True


class ExhibitorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exhibitor

    slug = factory.Sequence(lambda n: f"brand-{n}")
    name = factory.Sequence(lambda n: f"Brand {n}")
    hall = "H1"
    booth = factory.Sequence(lambda n: f"B{n:03d}")
    status = ExhibitorStatus.APPROVED

    @classmethod
    def _create(cls, model_class: type[Exhibitor], *args: Any, **kwargs: Any) -> Exhibitor:
        return super()._create(model_class, *args, **english_columns(kwargs, "name", "description"))


def english_columns(kwargs: dict[str, Any], *names: str) -> dict[str, Any]:
    """`name=`/`title=` in a factory call are the English texts whatever language is active
    (modeltranslation alone would store them in the active language's column)."""
    for name in names:
        if name in kwargs:
            value = kwargs.pop(name)
            kwargs.setdefault(f"{name}_en", value)
    return kwargs


def staff_of(exhibitor: Exhibitor, **kwargs: Any) -> User:
    """A user who is admin staff of `exhibitor` (through the service, as in production)."""
    user = UserFactory(**kwargs)
    exhibitor_services.exhibitor_member_add(exhibitor=exhibitor, user=user)
    user.refresh_from_db()
    return user


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    exhibitor = factory.SubFactory(ExhibitorFactory)
    kind = ProductKind.DOWNLOAD
    slug = factory.Sequence(lambda n: f"product-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    title_zh_hans = factory.Sequence(lambda n: f"商品 {n}")
    price = 1999
    currency = "CNY"
    is_published = True

    class Params:
        collectible = factory.Trait(kind=ProductKind.COLLECTIBLE, edition_size=10)
        service = factory.Trait(kind=ProductKind.SERVICE)
        pass_ = factory.Trait(kind=ProductKind.PASS)

    @classmethod
    def _create(cls, model_class: type[Product], *args: Any, **kwargs: Any) -> Product:
        # Saved as a draft through the service, then put on sale directly: most tests need a
        # product on sale, not its deliverables (a file, a slot, a validity window), which
        # product_set_published demands first (tests/catalog/test_publish_rules.py).
        published = kwargs.pop("is_published", True)
        product = catalog_services.product_save(
            product=model_class(*args, is_published=False, **english_columns(kwargs, "title", "description")))
        if published:
            model_class.objects.filter(pk=product.pk).update(is_published=True)
            product.is_published = True
        return product


class ServiceSlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceSlot

    product = factory.SubFactory(ProductFactory, service=True)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=30))
    capacity = 3


# --- Orders (issue 3) -----------------------------------------------------------------------------


class ShopperFactory(UserFactory):
    email = factory.Sequence(lambda n: f"shopper{n}@example.test")


def place_order(user: User, *lines: tuple[Product, int] | tuple[Product, int, ServiceSlot | None]) -> Any:
    """An order placed through the service, as in production: lines are (product, quantity[, slot])."""
    from apps.orders.services import LineRequest, order_place

    requests = [
        LineRequest(product_id=line[0].pk, quantity=line[1], slot_id=line[2].pk if len(line) > 2 and line[2] else None)  # type: ignore[misc]
        for line in lines
    ]
    return order_place(user=user, lines=requests)


# --- Fulfilment and notifications (issue 5) ---------------------------------------------------------


def paid_order(user: User, *lines: tuple[Product, int] | tuple[Product, int, ServiceSlot | None]) -> Any:
    """An order placed and marked paid through the services (what the payment webhook does)."""
    from apps.orders.services import order_mark_paid

    order = place_order(user, *lines)
    return order_mark_paid(order_id=order.pk, payload={"test": True})


def add_download_file(product: Product, *, name: str = "guide.pdf", content: bytes = b"%PDF-1.4 test") -> Any:
    from django.core.files.base import ContentFile

    from apps.catalog.models import DownloadFile

    download_file = DownloadFile(product=product, name=name)
    download_file.file.save(name, ContentFile(content), save=False)
    return catalog_services.download_file_save(download_file=download_file)


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "notifications.ExhibitorWebhookEndpoint"

    exhibitor = factory.SubFactory(ExhibitorFactory)
    url = "http://127.0.0.1:9/hook"
    secret = factory.Sequence(lambda n: f"whsec-{n}")


def authenticated_client(user: Any) -> Any:
    """A REST client acting as `user`. The session-token login itself is tested in tests/accounts."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client
