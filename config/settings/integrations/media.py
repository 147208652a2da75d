"""Public media: product images and their thumbnails (easy-thumbnails).

Thumbnails are made once, when an image is uploaded (apps/catalog/images.py), never on the
catalog's hot path: the API writes their URLs from the image's name alone, so every option that
shapes a thumbnail's file name is fixed here. `replace_alpha` flattens transparent images onto
white, so every thumbnail is a JPEG whatever was uploaded (and its name is predictable).
"""

THUMBNAIL_ALIASES = {
    "": {
        # Catalogue tiles: square, cropped around the busiest part of the picture.
        "thumb_200": {"size": (200, 200), "crop": "smart", "quality": 85, "replace_alpha": "white"},
        # Product page: fits inside 600 x 600, never cropped nor enlarged.
        "thumb_600": {"size": (600, 600), "quality": 85, "replace_alpha": "white"},
    },
}
THUMBNAIL_NAMER = "easy_thumbnails.namers.default"
THUMBNAIL_EXTENSION = "jpg"
THUMBNAIL_TRANSPARENCY_EXTENSION = "jpg"
THUMBNAIL_PRESERVE_EXTENSIONS = None
THUMBNAIL_BASEDIR = ""
THUMBNAIL_SUBDIR = ""
THUMBNAIL_PREFIX = ""

# Uploads: what the admin and the import accept as a product image.
PRODUCT_IMAGE_MAX_BYTES = 5 * 1024 * 1024
PRODUCT_IMAGE_MAX_PIXELS = 40_000_000
PRODUCT_IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")

# Django serves public media (/media/) itself only where nothing else does: `make run` and the
# browser tests. Production serves it from its storage (S3 or the web server), never Django.
SERVE_PUBLIC_MEDIA = False
