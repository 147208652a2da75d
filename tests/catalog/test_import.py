"""Bulk listing by CSV: scoped to the acting user's exhibitor, dry-run first, through product_save."""

import io

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.catalog.models import Edition, Product, ProductKind
from apps.catalog.resources import ProductResource
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

HEADER = "exhibitor,slug,kind,title,price,currency,edition_size,is_published\n"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _dataset(csv: str) -> tablib.Dataset:
    return tablib.Dataset().load(io.StringIO(csv), format="csv")


def _import(user, csv: str, *, dry_run: bool = False):
    return ProductResource(user=user).import_data(_dataset(csv), dry_run=dry_run, raise_errors=False)


def _invalid_messages(result) -> str:
    return " ".join(str(err) for row in result.invalid_rows for err in row.error_dict.values())


# --- the resource ----------------------------------------------------------------------------


def test_staff_import_creates_products_with_prices_in_major_units_and_editions(staff_a, exhibitor_a):
    # Given a CSV with a download and a collectible of 25, no exhibitor column
    csv = ("slug,kind,title,price,currency,edition_size,is_published\n"
           "ebook,download,E-book,19.99,CNY,,0\n"
           "poster,collectible,Poster,250,CNY,25,1\n")
    # When staff of A import it
    result = _import(staff_a, csv)
    # Then both products are A's, priced in minor units, and the collectible has editions 1..25
    assert not result.has_errors()
    assert not result.has_validation_errors()
    ebook = Product.objects.get(slug="ebook")
    poster = Product.objects.get(slug="poster")
    assert (ebook.exhibitor_id, ebook.price, ebook.is_published) == (exhibitor_a.pk, 1999, False)
    assert (poster.exhibitor_id, poster.price, poster.kind, poster.is_published) == (
        exhibitor_a.pk, 25000, ProductKind.COLLECTIBLE, True)
    assert list(poster.editions.values_list("serial", flat=True).order_by("serial")) == list(range(1, 26))


def test_a_row_naming_another_exhibitor_is_refused_and_touches_nothing(staff_a, exhibitor_b):
    # Given B's product
    theirs = ProductFactory(exhibitor=exhibitor_b, slug="their-thing", title="Theirs", price=500)
    # When staff of A import rows naming B, for B's slug and a new one
    result = _import(staff_a, HEADER + "bravo,their-thing,download,Hijacked,1.00,CNY,,1\n"
                                       "bravo,brand-new,download,Planted,1.00,CNY,,1\n")
    # Then both rows are refused and B's data is untouched
    assert result.has_validation_errors()
    assert "Unknown exhibitor" in _invalid_messages(result)
    theirs.refresh_from_db()
    assert (theirs.title, theirs.price) == ("Theirs", 500)
    assert not Product.objects.filter(slug="brand-new").exists()


def test_another_exhibitors_slug_without_exhibitor_creates_our_own_product(staff_a, exhibitor_a, exhibitor_b):
    # Given B's product with slug "shared"
    theirs = ProductFactory(exhibitor=exhibitor_b, slug="shared", title="Theirs", price=500)
    # When staff of A import a row with that slug (exhibitor left to default)
    result = _import(staff_a, "slug,kind,title,price,currency\nshared,download,Ours,2.00,CNY\n")
    # Then A gets its own product; B's is untouched
    assert not result.has_validation_errors()
    assert not result.has_errors()
    ours = Product.objects.get(slug="shared", exhibitor=exhibitor_a)
    assert ours.title == "Ours"
    theirs.refresh_from_db()
    assert (theirs.title, theirs.price) == ("Theirs", 500)


def test_import_updates_own_product_by_slug(staff_a, exhibitor_a):
    mine = ProductFactory(exhibitor=exhibitor_a, slug="mine", title="Old", price=100)
    result = _import(staff_a, HEADER + "alpha,mine,download,New,3.50,CNY,,1\n")
    assert not result.has_validation_errors()
    assert not result.has_errors()
    mine.refresh_from_db()
    assert (mine.title, mine.price) == ("New", 350)
    assert Product.objects.filter(slug="mine").count() == 1


@pytest.mark.parametrize(("row", "field_hint"), [
    ("alpha,bad-price,download,X,19.999,CNY,,1\n", "decimal"),
    ("alpha,neg-price,download,X,-1,CNY,,1\n", "non-negative"),
    ("alpha,no-editions,collectible,X,1.00,CNY,,1\n", "edition size"),
])
def test_invalid_rows_are_reported_per_row_and_nothing_is_written(staff_a, row, field_hint):
    result = _import(staff_a, HEADER + "alpha,good,download,Good,1.00,CNY,,0\n" + row)
    assert result.has_validation_errors()
    assert field_hint in _invalid_messages(result).lower()
    assert [r.number for r in result.invalid_rows] == [2]


def test_edition_size_cannot_change_through_import(staff_a, exhibitor_a):
    poster = ProductFactory(exhibitor=exhibitor_a, collectible=True, slug="poster")
    result = _import(staff_a, HEADER + "alpha,poster,collectible,Poster,1.00,CNY,99,1\n")
    assert result.has_validation_errors()
    assert "edition size" in _invalid_messages(result).lower()
    assert Edition.objects.filter(product=poster).count() == 10


def test_operator_must_name_the_exhibitor_and_may_name_any(operator, exhibitor_a, exhibitor_b):
    result = _import(operator, "slug,kind,title,price,currency\nnowhere,download,X,1.00,CNY\n")
    assert "Name the exhibitor" in _invalid_messages(result)
    result = _import(operator, HEADER + "bravo,op-made,download,X,1.00,CNY,,0\n")
    assert not result.has_validation_errors()
    assert not result.has_errors()
    assert Product.objects.get(slug="op-made").exhibitor_id == exhibitor_b.pk


def test_export_is_scoped_and_in_major_units(staff_a, exhibitor_a, exhibitor_b):
    ProductFactory(exhibitor=exhibitor_a, slug="mine", price=1999)
    ProductFactory(exhibitor=exhibitor_b, slug="theirs", price=500)
    data = ProductResource(user=staff_a).export()
    assert list(data["slug"]) == ["mine"]
    assert list(data["price"]) == ["19.99"]
    assert list(data["exhibitor"]) == ["alpha"]


# --- through the admin -----------------------------------------------------------------------


def _upload(csv: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("products.csv", csv.encode(), content_type="text/csv")


def _csv_format_index(client) -> str:
    form = client.get(reverse("admin:catalog_product_import")).context["form"]
    return next(value for value, label in form.fields["format"].choices if str(label).lower() == "csv")


def test_admin_import_dry_run_shows_a_preview_and_writes_nothing_until_confirmed(staff_a, exhibitor_a):
    client = _client(staff_a)
    csv = "slug,kind,title,price,currency,edition_size\nposter,collectible,Poster,9.90,CNY,5\n"
    # When staff upload a file
    response = client.post(reverse("admin:catalog_product_import"),
                           {"format": _csv_format_index(client), "import_file": _upload(csv), "resource": "0"})
    # Then they see a preview with the new row, and nothing is written yet
    assert response.status_code == 200
    result = response.context["result"]
    assert not result.has_errors()
    assert not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["new"]
    assert "Poster" in response.content.decode()
    assert not Product.objects.filter(slug="poster").exists()
    assert not Edition.objects.exists()
    # When they confirm
    confirm = response.context["confirm_form"]
    response = client.post(reverse("admin:catalog_product_process_import"), confirm.initial)
    # Then the product and its editions exist
    assert response.status_code == 302
    poster = Product.objects.get(slug="poster")
    assert (poster.exhibitor_id, poster.price, poster.editions.count()) == (exhibitor_a.pk, 990, 5)


def test_admin_import_shows_per_row_errors_and_offers_no_confirmation(staff_a, exhibitor_b):
    client = _client(staff_a)
    csv = HEADER + "alpha,fine,download,Fine,1.00,CNY,,1\nbravo,planted,download,Planted,1.00,CNY,,1\n"
    response = client.post(reverse("admin:catalog_product_import"),
                           {"format": _csv_format_index(client), "import_file": _upload(csv), "resource": "0"})
    assert response.status_code == 200
    assert response.context["result"].has_validation_errors()
    assert "confirm_form" not in response.context
    assert "Unknown exhibitor" in response.content.decode()
    assert not Product.objects.filter(slug__in=["fine", "planted"]).exists()


def test_admin_export_is_scoped(staff_a, exhibitor_a, exhibitor_b):
    ProductFactory(exhibitor=exhibitor_a, slug="mine")
    ProductFactory(exhibitor=exhibitor_b, slug="theirs")
    client = _client(staff_a)
    form = client.get(reverse("admin:catalog_product_export")).context["form"]
    csv_index = next(value for value, label in form.fields["format"].choices if str(label).lower() == "csv")
    data = {"format": csv_index, "resource": "0"}
    data.update({name: "on" for name in form.fields if name.startswith("productresource_")})
    response = client.post(reverse("admin:catalog_product_export"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "mine" in body
    assert "theirs" not in body
