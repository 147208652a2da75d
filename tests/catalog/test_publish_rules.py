"""Publishing: a product goes on sale only once it can deliver something (services.product_set_published,
product_save, the admin's action and form, the import)."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.catalog import services
from apps.catalog.models import DownloadFile, LicenceKey, LicenceKeyStatus, Product, ProductKind
from apps.catalog.resources import ProductResource
from marketplace.errors import ValidationFailed
from tests.factories import ProductFactory, ServiceSlotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def _draft(exhibitor, **kwargs) -> Product:
    return ProductFactory(exhibitor=exhibitor, is_published=False, **kwargs)


def _refusal(product: Product) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        services.product_set_published(product=product, published=True)
    assert not Product.objects.get(pk=product.pk).is_published
    return info.value


# --- what each kind needs ------------------------------------------------------------------------


def test_a_download_without_a_file_or_an_unused_key_is_not_published(exhibitor_a):
    # Given a download whose only key is already delivered
    product = _draft(exhibitor_a)
    services.licence_keys_add(product=product, keys=["K-1"])
    LicenceKey.objects.filter(product=product).update(status=LicenceKeyStatus.ASSIGNED)
    # When staff publish it, then the refusal names what is missing
    error = _refusal(product)
    assert "file or an unused licence key" in error.detail
    assert error.attr == "files"


@pytest.mark.parametrize("deliverable", ["file", "key"])
def test_a_download_with_a_file_or_a_key_is_published(exhibitor_a, deliverable):
    product = _draft(exhibitor_a)
    if deliverable == "file":
        services.download_file_save(download_file=DownloadFile(product=product, name="Guide",
                                                               file=ContentFile(b"%PDF", name="guide.pdf")))
    else:
        services.licence_keys_add(product=product, keys=["K-1"])
    services.product_set_published(product=product, published=True)
    assert Product.objects.get(pk=product.pk).is_published


def test_a_pass_needs_a_validity_window_that_has_not_ended(exhibitor_a):
    now = timezone.now()
    product = _draft(exhibitor_a, kind=ProductKind.PASS)
    assert "validity window" in _refusal(product).detail

    Product.objects.filter(pk=product.pk).update(pass_valid_from=now - timedelta(days=2), pass_valid_until=now - timedelta(days=1))
    error = _refusal(Product.objects.get(pk=product.pk))
    assert "already ended" in error.detail and error.attr == "pass_valid_until"

    Product.objects.filter(pk=product.pk).update(pass_valid_until=now + timedelta(days=1))
    services.product_set_published(product=Product.objects.get(pk=product.pk), published=True)
    assert Product.objects.get(pk=product.pk).is_published


def test_a_service_needs_an_upcoming_slot(exhibitor_a):
    product = _draft(exhibitor_a, kind=ProductKind.SERVICE)
    past = timezone.now() - timedelta(days=1)
    ServiceSlotFactory(product=product, starts_at=past, ends_at=past + timedelta(minutes=30))
    error = _refusal(product)
    assert "upcoming time slot" in error.detail and error.attr == "slots"

    ServiceSlotFactory(product=product)  # tomorrow
    services.product_set_published(product=product, published=True)
    assert Product.objects.get(pk=product.pk).is_published


def test_a_collectible_needs_its_editions(exhibitor_a):
    product = _draft(exhibitor_a, collectible=True)
    product.editions.all().delete()  # e.g. rows lost to a bad manual fix
    assert "numbered editions" in _refusal(product).detail


def test_publishing_twice_and_unpublishing_are_idempotent(exhibitor_a):
    product = _draft(exhibitor_a, collectible=True)
    services.product_set_published(product=product, published=True)
    services.product_set_published(product=product, published=True)
    assert Product.objects.get(pk=product.pk).is_published
    services.product_set_published(product=product, published=False)
    services.product_set_published(product=product, published=False)
    assert not Product.objects.get(pk=product.pk).is_published


def test_an_already_published_service_whose_slots_passed_may_still_be_edited(exhibitor_a):
    # Given a published service (slots can pass by themselves while it is on sale)
    product = ProductFactory(exhibitor=exhibitor_a, service=True)
    # When its price changes, the save is not refused for the missing upcoming slot
    product.price = 2999
    services.product_save(product=product)
    assert Product.objects.get(pk=product.pk).price == 2999


# --- the save path --------------------------------------------------------------------------------


def test_creating_a_published_product_that_cannot_deliver_is_refused_and_writes_nothing(exhibitor_a):
    with pytest.raises(ValidationFailed) as info:
        services.product_save(product=Product(exhibitor=exhibitor_a, kind=ProductKind.PASS, slug="p", title="Pass",
                                              price=100, is_published=True))
    assert "validity window" in info.value.detail
    assert not Product.objects.filter(slug="p").exists()


def test_a_published_pass_cannot_lose_its_validity_window(exhibitor_a):
    now = timezone.now()
    product = ProductFactory(exhibitor=exhibitor_a, pass_=True, pass_valid_from=now, pass_valid_until=now + timedelta(days=1))
    product.pass_valid_until = None
    with pytest.raises(ValidationFailed, match="validity window"):
        services.product_save(product=product)


def test_a_new_collectible_may_be_created_published(exhibitor_a):
    product = services.product_save(product=Product(exhibitor=exhibitor_a, kind=ProductKind.COLLECTIBLE, slug="c",
                                                    title="C", price=100, edition_size=3, is_published=True))
    assert product.is_published and product.editions.count() == 3


# --- the admin ------------------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_publish_action_names_what_each_refused_product_misses(staff_a, exhibitor_a):
    ok = _draft(exhibitor_a, collectible=True, title="Lantern print")
    refused = _draft(exhibitor_a, kind=ProductKind.SERVICE, title="Skin check")
    response = _client(staff_a).post(reverse("admin:catalog_product_changelist"),
                                     {"action": "publish", "_selected_action": [ok.pk, refused.pk]}, follow=True)
    text = response.content.decode()
    assert "Skin check: A service needs at least one upcoming time slot before it can be published." in text
    assert "Published 1 product(s)." in text
    assert Product.objects.get(pk=ok.pk).is_published
    assert not Product.objects.get(pk=refused.pk).is_published


def _post(exhibitor_id: int, **overrides) -> dict:
    data = {"exhibitor": exhibitor_id, "kind": ProductKind.DOWNLOAD, "slug": "", "title_en": "Brush pack",
            "title_zh_hans": "", "description_en": "", "description_zh_hans": "", "price": "29.90", "currency": "CNY",
            "per_customer_limit": "", "edition_size": "", "stock_total": "", "download_limit": "", "licence_keys_bulk": "",
            "meeting_url": "", "pass_valid_from_0": "", "pass_valid_from_1": "", "pass_valid_until_0": "",
            "pass_valid_until_1": ""}
    for prefix in ("slots", "files", "licence_keys"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(overrides)
    return data


def test_a_pass_ticked_published_without_validity_is_a_form_error_that_keeps_the_input(staff_a, exhibitor_a):
    response = _client(staff_a).post(reverse("admin:catalog_product_add"),
                                     _post(exhibitor_a.pk, kind=ProductKind.PASS, title_en="VIP pass", is_published="on"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "validity window" in str(form.errors["pass_valid_from"])
    assert 'value="VIP pass"' in response.content.decode()
    assert not Product.objects.filter(title_en="VIP pass").exists()


def test_a_download_published_with_keys_added_on_the_same_page_goes_on_sale(staff_a, exhibitor_a):
    response = _client(staff_a).post(reverse("admin:catalog_product_add"),
                                     _post(exhibitor_a.pk, is_published="on", licence_keys_bulk="K-1\nK-2"), follow=True)
    product = Product.objects.get(title_en="Brush pack")
    assert product.is_published
    assert product.licence_keys.count() == 2
    assert "Saved as a draft" not in response.content.decode()


def test_a_download_published_without_anything_to_deliver_is_saved_as_a_draft_with_the_reason(staff_a, exhibitor_a):
    response = _client(staff_a).post(reverse("admin:catalog_product_add"), _post(exhibitor_a.pk, is_published="on"),
                                     follow=True)
    product = Product.objects.get(title_en="Brush pack")
    assert not product.is_published
    text = response.content.decode()
    assert "Saved as a draft, not published yet: A download needs at least one file or an unused licence key" in text


# --- the import -----------------------------------------------------------------------------------


def test_an_imported_row_that_cannot_deliver_is_refused_with_the_reason(staff_a, exhibitor_a):
    import io

    import tablib

    csv = "slug,kind,title,price,currency,is_published\nvip,pass,VIP,9.00,CNY,1\nok,pass,OK,9.00,CNY,0\n"
    result = ProductResource(user=staff_a).import_data(tablib.Dataset().load(io.StringIO(csv), format="csv"),
                                                       raise_errors=False)
    assert [row.number for row in result.invalid_rows] == [1]
    assert "validity window" in " ".join(str(e) for row in result.invalid_rows for e in row.error_dict.values())
    assert not Product.objects.filter(slug="vip").exists()
