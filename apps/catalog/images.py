"""Product images: upload checks, thumbnails made once at upload time, and their public URLs.

The catalog API writes `image: {original, thumb_200, thumb_600}` for every row of a page without
a query or a storage call per row: a thumbnail's name is the image's name plus a suffix fixed by
its options (config/settings/integrations/media.py), and the public URL is one cached prefix plus
that name. `thumbnails_generate` makes the files under exactly those names when the image is
uploaded (tests/catalog/test_admin_product_images.py proves the prediction).
"""

import secrets
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.encoding import filepath_to_uri
from django.utils.translation import gettext_lazy as _
from easy_thumbnails.files import Thumbnailer, get_thumbnailer
from easy_thumbnails.models import Source
from PIL import Image

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
ACCEPTED = _("Upload a JPEG, PNG or WebP picture.")


def _aliases() -> dict[str, dict[str, Any]]:
    return settings.THUMBNAIL_ALIASES[""]


def image_validate(file: Any) -> str:
    """Check an uploaded product image; return the file extension its content calls for.

    Refuses (ValidationError, with a message for the person uploading) a file over
    PRODUCT_IMAGE_MAX_BYTES, anything Pillow cannot read as an image, a format outside
    PRODUCT_IMAGE_FORMATS and pictures of more than PRODUCT_IMAGE_MAX_PIXELS pixels. Leaves the
    file positioned at its start.
    """
    limit = settings.PRODUCT_IMAGE_MAX_BYTES
    size = getattr(file, "size", None)
    if size is not None and size > limit:
        raise ValidationError(
            _("This picture is %(size).1f MB; pictures may be at most %(limit)d MB. Make it smaller and upload it again."),
            code="image_too_large", params={"size": size / 1024 / 1024, "limit": limit // 1024 // 1024},
        )
    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format, (width, height) = image.format, image.size
            image.verify()
    except Exception as exc:  # Pillow raises many kinds (UnidentifiedImageError, OSError, SyntaxError, ...)
        raise ValidationError(_("This file is not a picture. %(accepted)s"), code="not_an_image",
                              params={"accepted": ACCEPTED}) from exc
    finally:
        file.seek(0)
    if image_format not in settings.PRODUCT_IMAGE_FORMATS:
        raise ValidationError(_("%(format)s pictures are not accepted. %(accepted)s"), code="image_type",
                              params={"format": image_format or "?", "accepted": ACCEPTED})
    if width * height > settings.PRODUCT_IMAGE_MAX_PIXELS:
        raise ValidationError(_("This picture is %(width)d x %(height)d pixels, too large to show. Make it smaller."),
                              code="image_too_large", params={"width": width, "height": height})
    return EXTENSIONS[image_format]


def image_upload_name(extension: str) -> str:
    """A fresh name for an uploaded image (the field's upload_to adds the folder).

    Random, so a replaced picture never reuses a cached URL, and plain ASCII whatever the
    exhibitor called their file.
    """
    return f"{secrets.token_hex(8)}.{extension}"


def thumbnails_generate(fieldfile: Any) -> dict[str, str]:
    """Make every thumbnail size of a stored image now; return {size: stored name}.

    Idempotent: an existing thumbnail is kept. Raises ValidationError if the content cannot be
    thumbnailed after all (image_validate passed on a file Pillow cannot decode further).
    """
    thumbnailer = get_thumbnailer(fieldfile)
    names: dict[str, str] = {}
    for size, options in _aliases().items():
        thumbnail = thumbnailer.get_thumbnail(options)
        if thumbnail is None:
            raise ValidationError(_("This picture could not be read. %(accepted)s"), code="not_an_image",
                                  params={"accepted": ACCEPTED})
        names[size] = thumbnail.name
    return names


def image_files_delete(name: str) -> None:
    """Delete a stored image and its thumbnails. Idempotent; call after the commit that dropped it."""
    if not name:
        return
    for suffix in _suffixes().values():
        default_storage.delete(name + suffix)
    default_storage.delete(name)
    Source.objects.filter(name=name).delete()  # easy-thumbnails' record of them (cascades)


@lru_cache(maxsize=1)
def _suffixes() -> dict[str, str]:
    """{size: what its thumbnail's name adds to the image's name}, from easy-thumbnails itself."""
    probe = "probe/probe.jpg"
    thumbnailer = Thumbnailer(name=probe)
    suffixes = {}
    for size, options in _aliases().items():
        name = thumbnailer.get_thumbnail_name(options)
        if not name.startswith(probe):
            raise RuntimeError(f"Thumbnail names must extend the image's name (THUMBNAIL_NAMER): got {name!r}.")
        suffixes[size] = name[len(probe):]
    return suffixes


@lru_cache(maxsize=2)
def _public_prefix(absolute: bool = True) -> str:
    """What the public storage puts before a file name; made absolute with PUBLIC_BASE_URL when
    the storage answers a path (the file system), for links opened anywhere."""
    url = default_storage.url("probe")
    prefix = url[: -len("probe")]
    return settings.PUBLIC_BASE_URL + prefix if absolute and prefix.startswith("/") else prefix


def thumbnail_name(name: str, size: str) -> str:
    """The stored name of an image's thumbnail of `size` (which thumbnails_generate made)."""
    return name + _suffixes()[size]


def image_urls(name: str | None, *, absolute: bool = True) -> dict[str, str] | None:
    """{original, thumb_200, thumb_600} URLs of a stored image, or None without one.

    Absolute (PUBLIC_BASE_URL) for the API; `absolute=False` gives the storage's own URLs, which
    the admin uses so its previews work on whatever address it is opened. Pure string work (no
    query, no storage call): cheap enough for every row of a catalog page.
    """
    if not name:
        return None
    base = _public_prefix(absolute) + filepath_to_uri(name)
    return {"original": base, **{size: base + suffix for size, suffix in _suffixes().items()}}


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {"STORAGES", "MEDIA_URL", "MEDIA_ROOT", "PUBLIC_BASE_URL"} or setting.startswith("THUMBNAIL_"):
        _public_prefix.cache_clear()
        _suffixes.cache_clear()
