"""Product pictures: uploaded in the admin, checked, thumbnailed at upload time, and shown in the
catalog API as absolute URLs without costing the catalog a query."""

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from apps.catalog import images, services
from apps.catalog.models import Product, ProductKind
from marketplace.errors import ValidationFailed
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.PUBLIC_BASE_URL = "https://expo.example"
    return tmp_path / "media"


def picture(fmt: str = "PNG", size: tuple[int, int] = (800, 500), mode: str = "RGBA", name: str = "图片 photo.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change_post(product: Product, **overrides) -> dict:
    data = {"title_en": product.title_en, "slug": product.slug, "title_zh_hans": "", "description_en": "",
            "description_zh_hans": "", "price": "19.99", "currency": "CNY", "is_published": "on", "per_customer_limit": "",
            "stock_total": "", "download_limit": "", "licence_keys_bulk": "",
            "files-TOTAL_FORMS": "0", "files-INITIAL_FORMS": "0",
            "licence_keys-TOTAL_FORMS": "0", "licence_keys-INITIAL_FORMS": "0"}
    data.update(overrides)
    return data


def test_staff_upload_a_picture_and_its_thumbnails_are_made_at_once(staff_a, exhibitor_a, media):
    # Given a published download of A
    product = ProductFactory(exhibitor=exhibitor_a)
    # When staff upload a transparent PNG with a Chinese file name on its change page
    response = _client(staff_a).post(reverse("admin:catalog_product_change", args=[product.pk]),
                                     _change_post(product, image=picture()))
    assert response.status_code == 302
    # Then it is stored under a fresh ASCII name and every thumbnail exists, as JPEG, where the
    # catalog's URLs point
    product.refresh_from_db()
    name = product.image.name
    assert name.startswith("products/") and name.endswith(".png") and name.isascii()
    for size, box in (("thumb_200", (200, 200)), ("thumb_600", (600, 600))):
        path = media / images.thumbnail_name(name, size)
        assert path.exists(), size
        with Image.open(path) as thumb:
            assert thumb.format == "JPEG"
            assert thumb.width <= box[0] and thumb.height <= box[1]
    with Image.open(media / images.thumbnail_name(name, "thumb_200")) as square:
        assert square.size == (200, 200)


def test_the_catalog_shows_absolute_urls_of_the_picture_and_thumbnails(api_client, staff_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a)
    _client(staff_a).post(reverse("admin:catalog_product_change", args=[product.pk]), _change_post(product, image=picture()))
    product.refresh_from_db()
    item = api_client.get(f"/api/v1/products/{product.pk}/").json()
    base = f"https://expo.example/media/{product.image.name}"
    assert item["image"] == {
        "original": base,
        "thumb_200": "https://expo.example/media/" + images.thumbnail_name(product.image.name, "thumb_200"),
        "thumb_600": "https://expo.example/media/" + images.thumbnail_name(product.image.name, "thumb_600"),
    }
    # and each URL answers with the file (make run serves /media/)
    for url in item["image"].values():
        response = Client().get(url.removeprefix("https://expo.example"))
        assert response.status_code == 200
        b"".join(response.streaming_content)


@pytest.mark.parametrize(("upload", "message"), [
    (SimpleUploadedFile("notes.png", b"just some text", content_type="image/png"), "not a picture"),
    (picture("GIF", mode="RGB", name="anim.gif"), "GIF pictures are not accepted"),
])
def test_files_that_are_not_accepted_pictures_are_refused_with_a_clear_message(staff_a, exhibitor_a, upload, message):
    product = ProductFactory(exhibitor=exhibitor_a)
    response = _client(staff_a).post(reverse("admin:catalog_product_change", args=[product.pk]),
                                     _change_post(product, image=upload))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["image"])
    assert message in errors or "Upload a valid image" in errors
    product.refresh_from_db()
    assert not product.image


def test_a_picture_over_the_size_cap_is_refused(staff_a, exhibitor_a, settings):
    settings.PRODUCT_IMAGE_MAX_BYTES = 1024
    product = ProductFactory(exhibitor=exhibitor_a)
    response = _client(staff_a).post(reverse("admin:catalog_product_change", args=[product.pk]),
                                      _change_post(product, image=picture(size=(300, 300))))
    assert "pictures may be at most" in " ".join(response.context["adminform"].form.errors["image"])


def test_the_service_refuses_a_non_image_too(exhibitor_a):
    product = Product(exhibitor=exhibitor_a, kind=ProductKind.DOWNLOAD, slug="x", title="X", price=1)
    product.image = SimpleUploadedFile("x.jpg", b"nope")
    with pytest.raises(ValidationFailed) as info:
        services.product_save(product=product)
    assert info.value.attr == "image" and "not a picture" in info.value.detail


def test_replacing_a_picture_deletes_the_old_one_and_its_thumbnails(exhibitor_a, media, django_capture_on_commit_callbacks):
    product = ProductFactory(exhibitor=exhibitor_a)
    product.image = picture()
    services.product_save(product=product)
    old = product.image.name
    with django_capture_on_commit_callbacks(execute=True):
        product.image = picture("JPEG", mode="RGB", name="new.jpg")
        services.product_save(product=product)
    assert product.image.name != old and product.image.name.endswith(".jpg")
    assert not (media / old).exists()
    assert not (media / images.thumbnail_name(old, "thumb_200")).exists()
    assert (media / images.thumbnail_name(product.image.name, "thumb_600")).exists()


def test_pictures_cost_the_catalog_no_query(api_client, exhibitor_a, django_assert_num_queries):
    for n in range(5):
        product = ProductFactory(exhibitor=exhibitor_a)
        product.image = picture("JPEG", mode="RGB", size=(50, 50), name=f"p{n}.jpg")
        services.product_save(product=product)
    with django_assert_num_queries(1):
        body = api_client.get("/api/v1/products/?page_size=20").json()
    assert all(item["image"]["thumb_200"].startswith("https://expo.example/media/products/") for item in body["results"])


def test_change_page_and_list_show_the_picture(staff_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, title="Lantern print")
    product.image = picture()
    services.product_save(product=product)
    client = _client(staff_a)
    urls = images.image_urls(product.image.name, absolute=False)
    assert urls is not None and urls["thumb_200"].startswith("/media/products/")
    # the change page previews the picture itself, the list its small thumbnail
    assert urls["original"] in client.get(reverse("admin:catalog_product_change", args=[product.pk])).content.decode()
    assert urls["thumb_200"] in client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert default_storage.exists(product.image.name)
