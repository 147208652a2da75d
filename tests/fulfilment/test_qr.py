"""The QR codes scan: the pass QR holds the pass token (what /booth/ scans), the certificate QR
its public page URL. Decoded with zxing-cpp from the PNG the API serves; the SVG is a standalone
document in the SVG namespace (rendered and decoded in a real browser in test_links_browser.py)."""

import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from PIL import Image
from rest_framework.test import APIClient

from apps.fulfilment import services
from tests.factories import authenticated_client, paid_order

pytestmark = pytest.mark.django_db

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _public_base(settings):
    settings.PUBLIC_BASE_URL = "https://expo.example"


def _decode_png(content: bytes) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(content)).convert("L"))]


def _path(url: str) -> str:
    return url.removeprefix("https://expo.example")


def test_pass_qr_png_holds_the_pass_token(shopper, booth_pass):
    order = paid_order(shopper, (booth_pass, 1))
    (unit,) = services.fulfilment_fulfil_order(order_id=order.pk)
    item = authenticated_client(shopper).get("/api/v1/library/").json()["results"][0]

    png = APIClient().get(_path(item["pass"]["qr_png_url"]))

    assert png["Content-Type"] == "image/png"
    assert _decode_png(png.content) == [unit.pass_token]


def test_certificate_qr_png_holds_the_public_page_url(shopper, drop):
    order = paid_order(shopper, (drop, 1))
    (unit,) = services.fulfilment_fulfil_order(order_id=order.pk)

    png = APIClient().get(f"/api/v1/certificates/{unit.certificate_code}/qr.png")

    assert _decode_png(png.content) == [f"https://expo.example/certificates/{unit.certificate_code}/"]


@pytest.mark.parametrize("kind", ["pass", "certificate"])
def test_svg_qr_is_a_standalone_svg_document(kind, shopper, booth_pass, drop):
    order = paid_order(shopper, (booth_pass if kind == "pass" else drop, 1))
    (unit,) = services.fulfilment_fulfil_order(order_id=order.pk)
    if kind == "pass":
        url = _path(authenticated_client(shopper).get("/api/v1/library/").json()["results"][0]["pass"]["qr_svg_url"])
    else:
        url = f"/api/v1/certificates/{unit.certificate_code}/qr.svg"

    svg = APIClient().get(url)

    assert svg["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(svg.content)
    assert root.tag == f"{SVG_NS}svg"
    width, height = int(root.get("width")), int(root.get("height"))
    assert width == height > 100
    assert root.get("viewBox") == f"0 0 {width} {height}"
    assert root.find(f".//{SVG_NS}path") is not None
