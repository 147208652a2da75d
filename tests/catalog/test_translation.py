"""Translated content (django-modeltranslation): products and exhibitors in English and Chinese,
Chinese falling back to English, and the migration that replaced the hand-written `_zh` columns."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import translation

from apps.catalog.models import Product
from apps.exhibitors.models import Exhibitor
from tests.factories import ExhibitorFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_chinese_reads_the_chinese_text_and_falls_back_to_english():
    # given a product with a Chinese title but no Chinese description, by an exhibitor without a Chinese name
    exhibitor = ExhibitorFactory(name="Jade Studio", description="Carvings.")
    product = ProductFactory(exhibitor=exhibitor, title="Tea ceremony", title_zh_hans="茶道", description="Live.",
                             description_zh_hans="")
    product = Product.objects.select_related("exhibitor").get(pk=product.pk)

    # then each language reads its own text, and Chinese falls back to English where there is none
    with translation.override("zh-hans"):
        assert (product.title, product.description, product.exhibitor.name) == ("茶道", "Live.", "Jade Studio")
    with translation.override("en"):
        assert (product.title, product.description, product.exhibitor.name) == ("Tea ceremony", "Live.", "Jade Studio")


def test_values_fall_back_too_and_the_original_column_stays_english():
    product = ProductFactory(title="Tea ceremony", title_zh_hans=None)

    with translation.override("zh-hans"):
        assert Product.objects.filter(pk=product.pk).values_list("title", flat=True).get() == "Tea ceremony"
        # an edit made while Chinese is active does not leak into the English text
        product.title_zh_hans = "茶道"
        product.save()
    # the untranslated column mirrors English: what raw SQL and lookups through other models see
    with connection.cursor() as cursor:
        cursor.execute("SELECT title, title_en, title_zh_hans FROM catalog_product WHERE id = %s", [product.pk])
        assert cursor.fetchone() == ("Tea ceremony", "Tea ceremony", "茶道")


def test_factories_and_services_store_english_whatever_the_active_language():
    with translation.override("zh-hans"):
        product = ProductFactory(title="Tea ceremony")
        exhibitor = ExhibitorFactory(name="Jade Studio")

    product.refresh_from_db()
    exhibitor.refresh_from_db()
    assert (product.title_en, exhibitor.name_en, exhibitor.name_zh_hans) == ("Tea ceremony", "Jade Studio", None)


def test_exhibitor_names_are_translated_in_the_api(api_client):
    ExhibitorFactory(slug="jade", name="Jade Studio", name_zh_hans="玉工作室")

    zh = api_client.get("/api/v1/exhibitors/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]
    en = api_client.get("/api/v1/exhibitors/").json()["results"][0]

    assert (zh["name"], zh["name_zh"]) == ("玉工作室", "玉工作室")
    assert (en["name"], en["name_zh"]) == ("Jade Studio", "玉工作室")


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_the_old_chinese_columns_into_the_translated_ones():
    # given the schema before translation, with rows written in the old columns
    before = [("exhibitors", "0001_initial"), ("catalog", "0002_meeting_links_and_image")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO exhibitors_exhibitor (created_at, updated_at, slug, name, name_zh, hall, booth, description,"
            " contact_email, status, commission_bps) VALUES (now(), now(), 'jade', 'Jade Studio', '玉工作室', 'H1', 'A1',"
            " 'Carvings.', '', 'approved', 1000) RETURNING id")
        exhibitor_id = cursor.fetchone()[0]
        for slug, title_zh in (("tea", "茶道"), ("print", "")):
            cursor.execute(
                "INSERT INTO catalog_product (created_at, updated_at, exhibitor_id, kind, slug, title, title_zh,"
                " description, description_zh, price, currency, is_published, stock_taken, meeting_url, image)"
                " VALUES (now(), now(), %s, 'download', %s, %s, %s, 'Live.', '', 100, 'CNY', true, 0, '', '')",
                [exhibitor_id, slug, slug.title(), title_zh])

    # when the migrations run forward
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    # then the Chinese texts are in the zh-hans columns (empty ones as "no translation"), English in _en
    tea, plain = Product.objects.order_by("slug").filter(slug__in=["tea", "print"]).reverse()
    assert (tea.title_en, tea.title_zh_hans, tea.description_en, tea.description_zh_hans) == ("Tea", "茶道", "Live.", None)
    assert (plain.title_en, plain.title_zh_hans) == ("Print", None)
    jade = Exhibitor.objects.get(slug="jade")
    assert (jade.name_en, jade.name_zh_hans, jade.description_en) == ("Jade Studio", "玉工作室", "Carvings.")
    with translation.override("zh-hans"):
        assert (tea.title, plain.title, jade.name) == ("茶道", "Print", "玉工作室")


def test_the_admin_edits_both_languages_with_labels_in_the_reader_s_language(operator):
    from django.test import Client

    exhibitor = ExhibitorFactory(name="Jade Studio", name_zh_hans="玉工作室")
    client = Client()
    client.force_login(operator)

    page = client.get(f"/admin/exhibitors/exhibitor/{exhibitor.pk}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans")

    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="name_en"' in html and 'name="name_zh_hans"' in html
    assert "名称（英文）" in html and "名称（中文）" in html and "展会信息" in html
