"""The import page offers a template (CSV and Excel) with the columns the import reads and one
example per kind, importable as it stands."""

import io

import pytest
import tablib
from django.test import Client
from django.urls import reverse

from apps.catalog.models import Product, ProductKind
from apps.catalog.resources import ProductResource

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_import_page_links_to_both_templates(staff_a):
    html = _client(staff_a).get(reverse("admin:catalog_product_import")).content.decode()
    assert "Start from our template" in html
    assert reverse("admin:catalog_product_import_template", args=["xlsx"]) in html
    assert reverse("admin:catalog_product_import_template", args=["csv"]) in html


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_template_has_the_header_and_one_example_per_kind_and_imports_as_it_stands(staff_a, exhibitor_a, fmt):
    # When staff download the template
    response = _client(staff_a).get(reverse("admin:catalog_product_import_template", args=[fmt]))
    assert response.status_code == 200
    assert f'filename="products-import-template.{fmt}"' in response["Content-Disposition"]
    if fmt == "csv":
        assert response.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
        dataset = tablib.Dataset().load(io.StringIO(response.content.decode("utf-8-sig")), format="csv")
    else:
        dataset = tablib.Dataset().load(io.BytesIO(response.content), format="xlsx")
    # Then the header row is the import's columns and there is one example row per kind, theirs
    assert dataset.headers == [field.column_name for field in ProductResource().get_import_fields()]
    # (a bundle's products are an inline of the product form, not columns: no bundle example)
    assert sorted(dataset["kind"]) == sorted(k for k in ProductKind.values if k != ProductKind.BUNDLE)
    assert set(dataset["exhibitor"]) == {"alpha"}
    assert "灯会版画" in dataset["title_zh"]
    # And importing it unchanged creates the four products (published where they can deliver)
    result = ProductResource(user=staff_a).import_data(dataset, raise_errors=False)
    assert not result.has_errors() and not result.has_validation_errors(), [
        row.error_dict for row in result.invalid_rows]
    published = dict(Product.objects.filter(exhibitor=exhibitor_a).values_list("kind", "is_published"))
    assert published == {ProductKind.COLLECTIBLE: True, ProductKind.PASS: True,
                         ProductKind.DOWNLOAD: False, ProductKind.SERVICE: False}


def test_the_template_is_refused_to_who_cannot_import(exhibitor_a):
    from tests.factories import UserFactory

    outsider = UserFactory(is_staff=True)
    assert _client(outsider).get(reverse("admin:catalog_product_import_template", args=["csv"])).status_code == 403


def test_an_unknown_template_format_answers_404(staff_a):
    assert _client(staff_a).get(reverse("admin:catalog_product_import_template", args=["pdf"])).status_code == 404


def test_import_rows_without_a_slug_get_one_from_the_title(staff_a, exhibitor_a):
    csv = "slug,kind,title,price,currency,edition_size\n,collectible,Lantern print,9.90,CNY,3\n,collectible,Lantern print,9.90,CNY,3\n"
    result = ProductResource(user=staff_a).import_data(tablib.Dataset().load(io.StringIO(csv), format="csv"),
                                                       raise_errors=False)
    assert not result.has_validation_errors(), [row.error_dict for row in result.invalid_rows]
    assert sorted(Product.objects.filter(exhibitor=exhibitor_a).values_list("slug", flat=True)) == [
        "lantern-print", "lantern-print-2"]
