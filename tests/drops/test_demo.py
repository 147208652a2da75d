"""The demo expo's drops: `demo-ballot` open for registration now, holder priority on the lanterns."""

import pytest
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.utils import timezone

from apps.catalog.models import Ballot, BallotStatus, DownloadFile, HolderPriority, Product
from apps.catalog.selectors import product_list_public
from tests.factories import authenticated_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_storage_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(DownloadFile._meta.get_field("file"), "storage", FileSystemStorage(location=tmp_path / "private"))


def test_the_demo_ballot_is_open_for_registration_now_and_loads_once(shopper):
    call_command("load_demo", stdout=None)
    ballot = Ballot.objects.select_related("product").get(product__slug="demo-ballot")
    now = timezone.now()

    assert ballot.status == BallotStatus.REGISTRATION
    assert ballot.registration_starts_at <= now < ballot.registration_ends_at
    assert product_list_public().filter(slug="demo-ballot").exists()
    response = authenticated_client(shopper).post(f"/api/v1/products/{ballot.product_id}/ballot/register")
    assert response.status_code == 201

    call_command("load_demo", stdout=None)
    assert Ballot.objects.count() == 1
    assert Product.objects.filter(slug="demo-ballot").count() == 1
    lanterns = HolderPriority.objects.select_related("product").get(product__slug="night-market-lanterns")
    assert list(lanterns.holders_of.values_list("slug", flat=True)) == ["demo-drop"]
    assert lanterns.starts_at < lanterns.product.sale_starts_at
