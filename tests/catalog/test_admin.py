"""The catalog admin: every tenancy path for staff of A against B's data, and the writes."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.catalog import services
from apps.catalog.models import DownloadFile, Edition, LicenceKey, Product, ProductKind, ServiceSlot
from apps.exhibitors import services as exhibitor_services
from tests.factories import ExhibitorFactory, ProductFactory, ServiceSlotFactory, staff_of

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_a(staff_a) -> Client:
    return _client(staff_a)


@pytest.fixture
def client_op(operator) -> Client:
    return _client(operator)


@pytest.fixture
def private_media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "private": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def _catalog_rows(exhibitor, name: str) -> dict:
    """One row of every kind of catalog data for `exhibitor`, titled after `name`."""
    slug = name.lower()
    download = ProductFactory(exhibitor=exhibitor, title=f"{name} Download", slug=f"{slug}-download")
    collectible = ProductFactory(exhibitor=exhibitor, collectible=True, title=f"{name} Collectible", slug=f"{slug}-coll")
    service = ProductFactory(exhibitor=exhibitor, service=True, title=f"{name} Service", slug=f"{slug}-service")
    slot = ServiceSlotFactory(product=service)
    file = services.download_file_save(download_file=DownloadFile(product=download, name=f"{slug}-file.zip",
                                                                  file=ContentFile(b"PK", name=f"{slug}-file.zip")))
    services.licence_keys_add(product=download, keys=[f"{name.upper()}-KEY-1"])
    return {"download": download, "collectible": collectible, "service": service, "slot": slot, "file": file,
            "key": LicenceKey.objects.get(product=download), "edition": collectible.editions.first()}


@pytest.fixture
def b_data(exhibitor_b, private_media):
    return _catalog_rows(exhibitor_b, "Bravo")


@pytest.fixture
def a_data(exhibitor_a, private_media):
    return _catalog_rows(exhibitor_a, "Alpha")


def _url(model: str, view: str = "changelist", *args) -> str:
    return reverse(f"admin:catalog_{model}_{view}", args=args)


def _result_pks(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def _product_post(exhibitor_id: int, **overrides) -> dict:
    data = {
        "exhibitor": exhibitor_id, "kind": ProductKind.DOWNLOAD, "slug": "new-thing", "title_en": "New thing",
        "title_zh_hans": "", "description_en": "", "description_zh_hans": "", "price": "19.99", "currency": "CNY",
        "per_customer_limit": "", "edition_size": "", "stock_total": "", "download_limit": "", "licence_keys_bulk": "",
    }
    # The add page carries every kind's inlines (empty here), as a browser posts them.
    for prefix in ("slots", "files", "licence_keys"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update(overrides)
    return data


# --- change lists ----------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "key"), [
    ("product", "download"), ("edition", "edition"), ("serviceslot", "slot"), ("downloadfile", "file"), ("licencekey", "key"),
])
def test_staff_change_lists_hide_other_exhibitors_rows(client_a, a_data, b_data, model, key):
    # Given data of both exhibitors
    # When staff of A open the change list
    response = client_a.get(_url(model))
    # Then A's rows are listed and none of B's
    assert response.status_code == 200
    pks = _result_pks(response)
    assert a_data[key].pk in pks
    assert b_data[key].pk not in pks
    assert "Bravo" not in response.content.decode()


def test_staff_edition_list_shows_only_their_editions(client_a, a_data, b_data):
    response = client_a.get(_url("edition"))
    editions = Edition.objects.filter(pk__in=_result_pks(response))
    assert set(editions.values_list("product_id", flat=True)) == {a_data["collectible"].pk}


def test_operator_change_list_shows_every_exhibitor(client_op, a_data, b_data):
    pks = _result_pks(client_op.get(_url("product")))
    assert {a_data["download"].pk, b_data["download"].pk} <= pks


# --- list filters ----------------------------------------------------------------------------


@pytest.fixture
def staff_ac(exhibitor_a, private_media):
    """Staff of A and of a third exhibitor C (so their filters have several choices to show)."""
    exhibitor_c = ExhibitorFactory(slug="charlie", name="Charlie")
    _catalog_rows(exhibitor_c, "Charlie")
    user = staff_of(exhibitor_a, email="two@expo.test")
    exhibitor_services.exhibitor_member_add(exhibitor=exhibitor_c, user=user)
    return user


def _filter_labels(response) -> list[str]:
    return [str(label) for spec in response.context["cl"].filter_specs for _pk, label in getattr(spec, "lookup_choices", [])]


@pytest.mark.parametrize("model", ["product", "edition", "serviceslot", "downloadfile", "licencekey"])
def test_staff_list_filter_choices_do_not_name_other_exhibitors(staff_ac, a_data, b_data, model):
    # When staff of A and C open a change list with exhibitor/product filters
    response = _client(staff_ac).get(_url(model))
    # Then the filters offer A's and C's exhibitors/products, never B's
    labels = _filter_labels(response)
    assert any("Alpha" in label for label in labels)
    assert any("Charlie" in label for label in labels)
    assert not [label for label in labels if "Bravo" in label]


def test_single_exhibitor_staff_see_no_exhibitor_filter(client_a, a_data, b_data):
    # One exhibitor means nothing to choose: the filter is not shown at all.
    labels = _filter_labels(client_a.get(_url("product")))
    assert not [label for label in labels if "Alpha" in label or "Bravo" in label]


def test_operator_list_filter_offers_every_exhibitor(client_op, a_data, b_data):
    response = client_op.get(_url("product"))
    choices = [str(label) for spec in response.context["cl"].filter_specs for _pk, label in getattr(spec, "lookup_choices", [])]
    assert any("Bravo" in c for c in choices)
    assert any("Alpha" in c for c in choices)


def test_filtering_by_another_exhibitors_id_shows_nothing(client_a, a_data, b_data, exhibitor_b):
    response = client_a.get(_url("product"), {"exhibitor__id__exact": exhibitor_b.pk})
    assert response.status_code == 200
    assert b_data["download"].pk not in _result_pks(response)


# --- autocomplete ----------------------------------------------------------------------------


def _autocomplete(client, app_label, model_name, field_name, term=""):
    response = client.get(reverse("admin:autocomplete"),
                          {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term})
    assert response.status_code == 200
    return {int(r["id"]) for r in response.json()["results"]}


def test_exhibitor_autocomplete_is_scoped(client_a, client_op, exhibitor_a, exhibitor_b):
    assert _autocomplete(client_a, "catalog", "product", "exhibitor") == {exhibitor_a.pk}
    assert _autocomplete(client_a, "catalog", "product", "exhibitor", term="Bravo") == set()
    assert {exhibitor_a.pk, exhibitor_b.pk} <= _autocomplete(client_op, "catalog", "product", "exhibitor")


@pytest.mark.parametrize(("model", "a_key", "b_key"), [
    ("serviceslot", "service", "service"),
    ("downloadfile", "download", "download"),
    ("licencekey", "download", "download"),
])
def test_product_autocomplete_is_scoped_and_kind_filtered(client_a, a_data, b_data, model, a_key, b_key):
    # When staff of A search products for a slot/file/key
    found = _autocomplete(client_a, "catalog", model, "product")
    # Then only A's products of the right kind come back
    assert a_data[a_key].pk in found
    assert b_data[b_key].pk not in found
    assert a_data["collectible"].pk not in found
    assert _autocomplete(client_a, "catalog", model, "product", term="Bravo") == set()


def test_autocomplete_is_refused_to_users_without_view_permission(exhibitor_a):
    shopper_staff = staff_of(exhibitor_a, email="nogroup@alpha.test")
    shopper_staff.groups.clear()
    response = _client(shopper_staff).get(reverse("admin:autocomplete"),
                                          {"app_label": "catalog", "model_name": "product", "field_name": "exhibitor"})
    assert response.status_code == 403


# --- object URLs answer 404 ------------------------------------------------------------------


@pytest.mark.parametrize(("model", "key"), [
    ("product", "download"), ("product", "collectible"), ("edition", "edition"), ("serviceslot", "slot"),
    ("downloadfile", "file"), ("licencekey", "key"),
])
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_exhibitors_object_urls_answer_404(client_a, b_data, model, key, view):
    response = client_a.get(_url(model, view, b_data[key].pk))
    assert response.status_code == 404


def test_posting_to_another_exhibitors_change_url_answers_404_and_changes_nothing(client_a, b_data, exhibitor_b):
    product = b_data["download"]
    response = client_a.post(_url("product", "change", product.pk), _product_post(exhibitor_b.pk, title_en="Hacked"))
    assert response.status_code == 404
    product.refresh_from_db()
    assert product.title == "Bravo Download"


def test_deleting_another_exhibitors_slot_answers_404(client_a, b_data):
    response = client_a.post(_url("serviceslot", "delete", b_data["slot"].pk), {"post": "yes"})
    assert response.status_code == 404
    assert ServiceSlot.objects.filter(pk=b_data["slot"].pk).exists()


# --- writes with foreign ids are form errors -------------------------------------------------


def test_product_with_another_exhibitors_id_is_a_form_error(client_a, exhibitor_b):
    response = client_a.post(_url("product", "add"), _product_post(exhibitor_b.pk))
    assert response.status_code == 200
    assert "exhibitor" in response.context["adminform"].form.errors
    assert not Product.objects.filter(slug="new-thing").exists()


def test_staff_of_several_exhibitors_choose_among_theirs_only(staff_ac, exhibitor_a, exhibitor_b):
    # Given staff of A and C
    exhibitor_c = staff_ac.exhibitors.get(slug="charlie")
    client = _client(staff_ac)
    # Then the add form offers A and C (no preset), C is accepted and B refused
    form = client.get(_url("product", "add")).context["adminform"].form
    assert set(form.fields["exhibitor"].queryset.values_list("pk", flat=True)) == {exhibitor_a.pk, exhibitor_c.pk}
    assert form.initial.get("exhibitor") is None
    response = client.post(_url("product", "add"), _product_post(exhibitor_c.pk, slug="for-c"))
    assert response.status_code == 302
    assert Product.objects.get(slug="for-c").exhibitor_id == exhibitor_c.pk
    response = client.post(_url("product", "add"), _product_post(exhibitor_b.pk, slug="for-b"))
    assert "exhibitor" in response.context["adminform"].form.errors
    assert not Product.objects.filter(slug="for-b").exists()


def test_single_exhibitor_staff_get_their_exhibitor_preset(client_a, exhibitor_a):
    form = client_a.get(_url("product", "add")).context["adminform"].form
    assert form.initial["exhibitor"] == exhibitor_a.pk
    assert list(form.fields["exhibitor"].queryset) == [exhibitor_a]
    assert form.fields["exhibitor"].empty_label is None


@pytest.mark.parametrize("model", ["serviceslot", "downloadfile", "licencekey"])
def test_row_for_another_exhibitors_product_is_a_form_error(client_a, b_data, model):
    product = b_data["service"] if model == "serviceslot" else b_data["download"]
    start = timezone.now() + timedelta(days=3)
    data = {
        "serviceslot": {"product": product.pk, "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": "10:00:00",
                        "ends_at_0": start.strftime("%Y-%m-%d"), "ends_at_1": "11:00:00", "capacity": "2"},
        "downloadfile": {"product": product.pk, "name": "evil.zip", "file": ContentFile(b"x", name="evil.zip")},
        "licencekey": {"product": product.pk, "key": "EVIL-KEY"},
    }[model]
    counts = (ServiceSlot.objects.count(), DownloadFile.objects.count(), LicenceKey.objects.count())
    response = client_a.post(_url(model, "add"), data)
    assert response.status_code == 200
    assert "product" in response.context["adminform"].form.errors
    assert (ServiceSlot.objects.count(), DownloadFile.objects.count(), LicenceKey.objects.count()) == counts


def test_slot_for_a_product_that_is_not_a_service_is_a_form_error(client_a, a_data):
    start = timezone.now() + timedelta(days=3)
    response = client_a.post(_url("serviceslot", "add"), {
        "product": a_data["download"].pk, "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": "10:00:00",
        "ends_at_0": start.strftime("%Y-%m-%d"), "ends_at_1": "11:00:00", "capacity": "2"})
    assert "product" in response.context["adminform"].form.errors


def test_staff_add_a_slot_to_their_service(client_a, a_data):
    start = timezone.localtime(timezone.now() + timedelta(days=3))
    response = client_a.post(_url("serviceslot", "add"), {
        "product": a_data["service"].pk, "starts_at_0": start.strftime("%Y-%m-%d"), "starts_at_1": "10:00:00",
        "ends_at_0": start.strftime("%Y-%m-%d"), "ends_at_1": "11:30:00", "capacity": "4"})
    assert response.status_code == 302
    slot = ServiceSlot.objects.filter(product=a_data["service"]).latest("id")
    assert (slot.capacity, slot.taken) == (4, 0)


def test_a_booked_slot_cannot_be_deleted(client_a, a_data):
    slot = a_data["slot"]
    ServiceSlot.objects.filter(pk=slot.pk).update(taken=1)
    response = client_a.post(_url("serviceslot", "delete", slot.pk), {"post": "yes"}, follow=True)
    assert ServiceSlot.objects.filter(pk=slot.pk).exists()
    assert "has bookings" in response.content.decode()


# --- products: creation, money, editions, actions --------------------------------------------


def test_price_in_major_units_is_stored_in_minor_units(client_a, exhibitor_a):
    response = client_a.post(_url("product", "add"), _product_post(exhibitor_a.pk, price="19.99"))
    assert response.status_code == 302
    product = Product.objects.get(slug="new-thing")
    assert (product.price, product.currency, product.exhibitor_id) == (1999, "CNY", exhibitor_a.pk)


@pytest.mark.parametrize(("price", "currency"), [("-1", "CNY"), ("19.999", "CNY"), ("5.5", "JPY"), ("abc", "CNY")])
def test_invalid_prices_are_form_errors(client_a, exhibitor_a, price, currency):
    response = client_a.post(_url("product", "add"), _product_post(exhibitor_a.pk, price=price, currency=currency))
    assert response.status_code == 200
    assert "price" in response.context["adminform"].form.errors
    assert not Product.objects.filter(slug="new-thing").exists()


def test_change_form_shows_price_in_major_units(client_a, a_data):
    form = client_a.get(_url("product", "change", a_data["download"].pk)).context["adminform"].form
    assert str(form["price"].value()) == "19.99"


def test_creating_a_collectible_creates_its_numbered_editions(client_a, exhibitor_a):
    response = client_a.post(_url("product", "add") + "?kind=collectible", _product_post(
        exhibitor_a.pk, kind=ProductKind.COLLECTIBLE, slug="poster", edition_size="25"))
    assert response.status_code == 302
    product = Product.objects.get(slug="poster")
    assert list(product.editions.order_by("serial").values_list("serial", flat=True)) == list(range(1, 26))


def test_edition_size_is_read_only_after_creation(client_a, a_data):
    product = a_data["collectible"]
    response = client_a.get(_url("product", "change", product.pk))
    assert "edition_size" not in response.context["adminform"].form.fields
    assert "edition_size" in response.context["adminform"].readonly_fields


def test_duplicate_slug_for_the_same_exhibitor_is_a_form_error(client_a, a_data, exhibitor_a):
    response = client_a.post(_url("product", "add"), _product_post(exhibitor_a.pk, slug="alpha-download"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Product.objects.filter(slug="alpha-download").count() == 1


def test_collectible_without_edition_size_is_a_form_error(client_a, exhibitor_a):
    response = client_a.post(_url("product", "add"), _product_post(exhibitor_a.pk, kind=ProductKind.COLLECTIBLE))
    assert "edition_size" in response.context["adminform"].form.errors
    assert not Product.objects.filter(slug="new-thing").exists()


def test_licence_keys_pasted_in_bulk_are_added_once(client_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, slug="keys-only")
    services.licence_keys_add(product=product, keys=["K-1"])
    data = _product_post(exhibitor_a.pk, slug=product.slug, title_en=product.title, licence_keys_bulk="K-1\nK-2\n\nK-3\nK-2")
    data.update({"files-TOTAL_FORMS": "0", "files-INITIAL_FORMS": "0",
                 "licence_keys-TOTAL_FORMS": "0", "licence_keys-INITIAL_FORMS": "0"})
    # The existing key's inline row is on the page; submit it unchanged.
    key = LicenceKey.objects.get(product=product)
    data.update({"licence_keys-TOTAL_FORMS": "1", "licence_keys-INITIAL_FORMS": "1", "licence_keys-0-id": key.pk,
                 "licence_keys-0-product": product.pk, "licence_keys-0-key": "K-1"})
    response = client_a.post(_url("product", "change", product.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert sorted(LicenceKey.objects.filter(product=product).values_list("key", flat=True)) == ["K-1", "K-2", "K-3"]


def test_publish_and_unpublish_actions(client_a, a_data, b_data):
    product = a_data["download"]
    Product.objects.filter(pk=product.pk).update(is_published=False)
    client_a.post(_url("product"), {"action": "publish", "_selected_action": [product.pk, b_data["download"].pk]})
    assert Product.objects.get(pk=product.pk).is_published
    client_a.post(_url("product"), {"action": "unpublish", "_selected_action": [product.pk, b_data["download"].pk]})
    assert not Product.objects.get(pk=product.pk).is_published
    # B's product was selected by id but is outside the scope: untouched
    assert Product.objects.get(pk=b_data["download"].pk).is_published


# --- pages render ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [None, *ProductKind.values])
def test_product_add_page_renders_for_every_kind(client_a, kind):
    response = client_a.get(_url("product", "add"), {"kind": kind} if kind else {})
    assert response.status_code == 200


@pytest.mark.parametrize("key", ["download", "service", "collectible"])
def test_product_change_page_renders_for_every_kind(client_a, a_data, key):
    assert client_a.get(_url("product", "change", a_data[key].pk)).status_code == 200


def test_pass_change_page_renders(client_a, exhibitor_a):
    product = ProductFactory(exhibitor=exhibitor_a, pass_=True)
    assert client_a.get(_url("product", "change", product.pk)).status_code == 200


def test_inventory_pages_render(client_a, a_data, private_media):
    services.licence_keys_add(product=a_data["download"], keys=["K-9"])
    file = services.download_file_save(download_file=DownloadFile(product=a_data["download"], name="a.zip",
                                                                  file=ContentFile(b"PK", name="a.zip")))
    edition = a_data["collectible"].editions.first()
    for url in [_url("serviceslot", "add"), _url("serviceslot", "change", a_data["slot"].pk),
                _url("downloadfile", "add"), _url("downloadfile", "change", file.pk),
                _url("licencekey", "add"), _url("licencekey", "change", LicenceKey.objects.get(key="K-9").pk),
                _url("edition", "change", edition.pk), _url("product", "import"), _url("product", "export")]:
        assert client_a.get(url).status_code == 200, url


def test_editions_cannot_be_added_or_edited(client_a, a_data):
    edition = a_data["collectible"].editions.first()
    assert client_a.get(_url("edition", "add")).status_code == 403
    response = client_a.post(_url("edition", "change", edition.pk), {"status": "sold"})
    assert response.status_code == 403
    edition.refresh_from_db()
    assert edition.status == "available"


# --- deletes go through the services -------------------------------------------------------------


def test_product_with_a_held_edition_cannot_be_deleted_from_the_admin(client, staff_a, exhibitor_a):
    from apps.catalog.models import Edition, EditionStatus, Product

    # Given a collectible one of whose editions is held by an order
    product = ProductFactory(exhibitor=exhibitor_a, collectible=True)
    Edition.objects.filter(product=product, serial=1).update(status=EditionStatus.HELD)
    client.force_login(staff_a)
    # When staff delete it from the admin
    response = client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"}, follow=True)
    # Then it is refused and nothing is deleted
    assert Product.objects.filter(pk=product.pk).exists()
    assert response.status_code == 200


def test_untouched_product_is_deleted_with_its_editions(client, staff_a, exhibitor_a):
    from apps.catalog.models import Edition, Product

    product = ProductFactory(exhibitor=exhibitor_a, collectible=True)
    client.force_login(staff_a)
    client.post(f"/admin/catalog/product/{product.pk}/delete/", {"post": "yes"})
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not Edition.objects.filter(product_id=product.pk).exists()


def test_delivered_licence_key_cannot_be_deleted(client, staff_a, exhibitor_a):
    from apps.catalog.models import LicenceKey, LicenceKeyStatus

    product = ProductFactory(exhibitor=exhibitor_a)
    key = LicenceKey.objects.create(product=product, key="AAAA-BBBB", status=LicenceKeyStatus.ASSIGNED)
    client.force_login(staff_a)
    client.post(f"/admin/catalog/licencekey/{key.pk}/delete/", {"post": "yes"}, follow=True)
    assert LicenceKey.objects.filter(pk=key.pk).exists()
