"""`manage.py load_demo`: the demo expo API.md promises, loaded through the services, idempotently."""

import json
import re
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import authenticate
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone

from apps.accounts.models import User
from apps.catalog.management.demo import (
    DEMO_PASSWORD,
    OPERATOR_EMAIL,
    SHOPPER_EMAIL,
    DemoFixtureError,
    resolve_when,
    staff_email,
)
from apps.catalog.models import DownloadFile, Edition, EditionStatus, LicenceKey, Product, ProductKind, ServiceSlot
from apps.catalog.selectors import product_list_for_user, product_list_public
from apps.exhibitors.models import Exhibitor, ExhibitorMembership, ExhibitorStatus

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def private_storage_in_tmp(tmp_path, monkeypatch):
    """Demo files go to a temporary folder, not the developer's .data/private."""
    storage = FileSystemStorage(location=tmp_path / "private")
    monkeypatch.setattr(DownloadFile._meta.get_field("file"), "storage", storage)
    return storage


def load_demo(*args: str) -> str:
    out = StringIO()
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def table_snapshot() -> dict[str, object]:
    """Row counts and modification times of everything the demo writes."""
    return {
        "users": sorted(User.objects.values_list("email", "is_staff", "is_superuser", "password")),
        "exhibitors": sorted(Exhibitor.objects.values_list("slug", "status", "updated_at")),
        "memberships": ExhibitorMembership.objects.count(),
        "products": sorted(Product.objects.values_list("slug", "updated_at", "stock_total", "is_published")),
        "editions": Edition.objects.count(),
        "slots": sorted(ServiceSlot.objects.values_list("product__slug", "starts_at", "capacity")),
        "licence_keys": sorted(LicenceKey.objects.values_list("key", flat=True)),
        "files": DownloadFile.objects.count(),
    }


def test_load_demo_creates_an_expo_of_six_exhibitors_in_three_halls_with_every_kind():
    # when
    output = load_demo()

    # then
    exhibitors = list(Exhibitor.objects.all())
    assert len(exhibitors) >= 6
    assert len({e.hall for e in exhibitors}) >= 3
    assert all(e.status == ExhibitorStatus.APPROVED and e.name_zh_hans and e.description_zh_hans for e in exhibitors)
    products = list(Product.objects.all())
    assert {p.kind for p in products} == set(ProductKind.values)
    assert all(p.is_published and p.title_zh_hans and p.description and p.description_zh_hans for p in products)
    assert {p.currency for p in products} >= {"CNY"}
    assert "Demo expo loaded: " in output
    assert OPERATOR_EMAIL in output
    assert DEMO_PASSWORD in output


def test_demo_drop_has_25_numbered_editions_a_limit_of_two_and_is_on_sale():
    # when
    load_demo()

    # then
    drop = product_list_public().get(slug="demo-drop")
    assert drop.kind == ProductKind.COLLECTIBLE
    assert drop.edition_size == 25
    assert drop.per_customer_limit == 2
    assert drop.sale_starts_at is None or drop.sale_starts_at <= timezone.now()
    # what the public API lists: on sale now, all 25 left
    listed = product_list_public().filter(pk=drop.pk).values("on_sale", "remaining").get()  # type: ignore[misc]  # annotations
    assert listed == {"on_sale": True, "remaining": 25}
    assert list(drop.editions.order_by("serial").values_list("serial", flat=True)) == list(range(1, 26))
    assert set(drop.editions.values_list("status", flat=True)) == {EditionStatus.AVAILABLE}


def test_every_collectible_gets_its_editions_and_one_drop_opens_later():
    # when
    load_demo()

    # then
    for product in Product.objects.filter(kind=ProductKind.COLLECTIBLE):
        assert product.editions.count() == product.edition_size
    listed = product_list_public().filter(kind=ProductKind.COLLECTIBLE).values("slug", "on_sale", "sale_starts_at")  # type: ignore[misc]
    upcoming = [row for row in listed if not row["on_sale"]]
    assert upcoming
    assert all(row["sale_starts_at"] > timezone.now() + timedelta(days=1) for row in upcoming)


def test_services_have_bookable_slots_over_the_coming_days():
    # when
    load_demo()

    # then
    now = timezone.now()
    services = Product.objects.filter(kind=ProductKind.SERVICE)
    assert services.exists()
    for service in services:
        slots = list(service.slots.all())
        assert slots, service.slug
        assert all(now < s.starts_at < s.ends_at and s.capacity >= 1 and s.taken == 0 for s in slots)
    days = {timezone.localtime(s.starts_at).date() for s in ServiceSlot.objects.all()}
    assert len(days) >= 2


def test_downloads_are_key_pools_unlimited_or_files_and_passes_have_stock_and_validity():
    # when
    load_demo()

    # then
    downloads = Product.objects.filter(kind=ProductKind.DOWNLOAD)
    with_keys = [p for p in downloads if p.licence_keys.exists()]
    assert with_keys
    for product in with_keys:
        assert product.stock_total == product.licence_keys.count()  # no sale without a key to deliver
    assert any(p.stock_total is None for p in downloads)
    passes = Product.objects.filter(kind=ProductKind.PASS)
    assert any(p.stock_total for p in passes)
    assert all(p.pass_valid_from and p.pass_valid_until and p.pass_valid_from < p.pass_valid_until for p in passes)


def test_the_download_file_is_a_readable_pdf_in_private_storage(private_storage_in_tmp):
    # when
    load_demo()

    # then
    download_file = DownloadFile.objects.select_related("product").get(product__slug="tea-brewing-guide")
    assert download_file.product.kind == ProductKind.DOWNLOAD
    assert private_storage_in_tmp.exists(download_file.file.name)
    content = private_storage_in_tmp.open(download_file.file.name).read()
    assert download_file.size == len(content)
    assert content.startswith(b"%PDF-1.4")
    assert content.endswith(b"%%EOF\n")
    assert b"Gongfu Brewing Guide" in content
    # every xref entry points at the object it names, so viewers need no repair
    offsets = re.findall(rb"^(\d{10}) 00000 n $", content, flags=re.MULTILINE)
    for number, offset in enumerate(offsets, start=1):
        assert content[int(offset):].startswith(b"%d 0 obj" % number)
    startxref = re.search(rb"startxref\n(\d+)", content)
    assert startxref is not None
    assert int(startxref.group(1)) == content.index(b"xref\n")


def test_demo_accounts_exist_and_authenticate_with_the_demo_password():
    # when
    load_demo()

    # then
    operator = authenticate(RequestFactory().post("/admin/login/"), email=OPERATOR_EMAIL, password=DEMO_PASSWORD)
    assert operator is not None
    assert operator.is_superuser
    assert operator.is_staff
    shopper = authenticate(RequestFactory().post("/admin/login/"), email=SHOPPER_EMAIL, password=DEMO_PASSWORD)
    assert shopper is not None
    assert not shopper.is_staff
    assert not shopper.is_superuser
    for exhibitor in Exhibitor.objects.all():
        staff = authenticate(RequestFactory().post("/admin/login/"), email=staff_email(exhibitor.slug), password=DEMO_PASSWORD)
        assert staff is not None
        assert staff.is_staff
        assert not staff.is_superuser
        assert list(staff.exhibitors.all()) == [exhibitor]
    assert authenticate(RequestFactory().post("/admin/login/"), email=SHOPPER_EMAIL, password="wrong-password") is None


def test_demo_staff_see_only_their_own_exhibitors_products():
    # given
    load_demo()

    # then
    all_products = set(Product.objects.values_list("id", flat=True))
    for exhibitor in Exhibitor.objects.all():
        staff = User.objects.get(email=staff_email(exhibitor.slug))
        visible = set(product_list_for_user(user=staff).values_list("id", flat=True))
        assert visible
        assert visible == set(exhibitor.products.values_list("id", flat=True))
    operator = User.objects.get(email=OPERATOR_EMAIL)
    assert set(product_list_for_user(user=operator).values_list("id", flat=True)) == all_products
    shopper = User.objects.get(email=SHOPPER_EMAIL)
    assert not product_list_for_user(user=shopper).exists()


def test_loading_twice_creates_and_changes_nothing():
    # given
    load_demo()
    before = table_snapshot()

    # when
    output = load_demo()

    # then
    assert "already loaded" in output
    assert table_snapshot() == before


def test_a_partial_demo_is_completed_without_touching_what_exists():
    # given: the demo loaded, then one exhibitor's staff account and one product removed
    load_demo()
    drop = Product.objects.get(slug="demo-drop")
    kept_exhibitor_times = dict(Exhibitor.objects.values_list("slug", "updated_at"))
    User.objects.filter(email=staff_email("nebula-booth")).delete()
    Product.objects.filter(slug="ink-brush-pack").delete()

    # when
    output = load_demo()

    # then
    assert "already loaded" not in output
    assert User.objects.filter(email=staff_email("nebula-booth")).exists()
    assert Product.objects.filter(slug="ink-brush-pack").count() == 1
    assert Product.objects.get(slug="demo-drop").pk == drop.pk
    assert Edition.objects.filter(product__slug="demo-drop").count() == 25
    assert dict(Exhibitor.objects.values_list("slug", "updated_at")) == kept_exhibitor_times


def test_a_malformed_fixture_is_refused_and_writes_nothing(tmp_path):
    # given
    fixture = tmp_path / "broken.json"
    fixture.write_text(json.dumps({"exhibitors": [{
        "slug": "broken", "name": "Broken", "hall": "H9", "booth": "Z1",
        "products": [{"kind": "collectible", "slug": "x", "title": "X", "price": 100, "edition_size": 3,
                      "sale_starts_at": "next tuesday"}],
    }]}))

    # when / then
    with pytest.raises(CommandError, match="next tuesday"):
        load_demo("--fixture", str(fixture))
    assert not Exhibitor.objects.exists()
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("now", datetime(2026, 5, 1, 7, 30, tzinfo=SHANGHAI)),
        ("+2 days", datetime(2026, 5, 3, 7, 30, tzinfo=SHANGHAI)),
        ("-1 hours", datetime(2026, 5, 1, 6, 30, tzinfo=SHANGHAI)),
        ("+90 minutes", datetime(2026, 5, 1, 9, 0, tzinfo=SHANGHAI)),
        ({"days": 1, "hour": 10}, datetime(2026, 5, 2, 10, 0, tzinfo=SHANGHAI)),
        ({"days": 0, "hour": 9, "minute": 15}, datetime(2026, 5, 1, 9, 15, tzinfo=SHANGHAI)),
    ],
)
def test_fixture_times_are_relative_to_the_load(value, expected):
    # given: early morning in Shanghai, when the UTC date is still the day before
    now = datetime(2026, 5, 1, 7, 30, tzinfo=SHANGHAI)

    # when / then
    assert resolve_when(value, now=now) == expected


@pytest.mark.parametrize("value", ["tomorrow", "+2 weeks", {"hour": 10}, {"days": 1, "second": 3}, 42])
def test_unrecognised_fixture_times_are_refused(value):
    with pytest.raises(DemoFixtureError):
        resolve_when(value, now=timezone.now())
