"""Storage aliases. `private` holds paid files; it is never exposed by URL (signed links only)."""

from django.core.files.storage import Storage, storages


def private_storage() -> Storage:
    """Callable for FileField(storage=...): resolved at run time, so settings can swap it (S3)."""
    return storages["private"]
