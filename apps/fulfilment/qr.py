"""QR codes as standalone images: SVG (with the SVG namespace, a white background, a size and a
viewBox, so it renders opened on its own or in an <img>) and PNG (segno writes it without Pillow).
"""

from __future__ import annotations

import io
import re

import segno

SVG_CONTENT_TYPE = "image/svg+xml"
PNG_CONTENT_TYPE = "image/png"
FORMATS = {"svg": SVG_CONTENT_TYPE, "png": PNG_CONTENT_TYPE}


def _code(data: str) -> segno.QRCode:
    # micro=False: phones' scanners read regular QR codes; short data would get a Micro QR.
    return segno.make(data, error="m", micro=False)


def qr_svg(data: str, *, scale: int = 6, title: str = "") -> bytes:
    """A standalone SVG document of `data`: `<?xml ...?><svg xmlns=... width height viewBox>`."""
    buffer = io.BytesIO()
    _code(data).save(buffer, kind="svg", scale=scale, border=4, xmldecl=True, svgns=True, omitsize=True,
                     light="#fff", dark="#000", title=title or None)
    svg = buffer.getvalue().decode()
    # segno writes either a size or a viewBox; both make it crisp at its own size and scalable by CSS.
    svg = re.sub(r'viewBox="0 0 (\d+) (\d+)"', r'width="\1" height="\2" viewBox="0 0 \1 \2"', svg, count=1)
    return svg.encode()


def qr_png(data: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    _code(data).save(buffer, kind="png", scale=scale, border=4, light="#fff", dark="#000")
    return buffer.getvalue()


def qr_image(data: str, fmt: str, *, title: str = "") -> tuple[bytes, str]:
    """(content, content type) for format "svg" or "png"."""
    if fmt == "png":
        return qr_png(data), PNG_CONTENT_TYPE
    return qr_svg(data, title=title), SVG_CONTENT_TYPE
