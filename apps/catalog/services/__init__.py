"""Writes for the catalog (DESIGN.md habit 1), split by sub-domain: products (save, publish rules,
delete), deliverables (slots, download files, licence keys), inventory (claims, releases and the
sold-out flags) and bundles (components, shares, the price split). Other apps import from here."""

from apps.catalog.services.bundles import (
    SHARES_TOTAL,
    ComponentSpec,
    bundle_components_set,
    bundle_editable_by,
    bundle_publish_blockers,
    bundle_split,
)
from apps.catalog.services.deliverables import (
    download_file_delete,
    download_file_save,
    licence_key_delete,
    licence_key_save,
    licence_keys_add,
    slot_delete,
    slot_save,
    slots_create,
)
from apps.catalog.services.inventory import (
    SOLD_OUT_FLAG_TTL,
    InventorySlotFull,
    InventorySoldOut,
    inventory_claim_editions,
    inventory_claim_slots,
    inventory_claim_stock,
    inventory_clear_flags,
    inventory_flag_sold_out,
    inventory_flags,
    inventory_mark_sold,
    inventory_release,
    inventory_remaining,
    inventory_restock_editions,
)
from apps.catalog.services.products import (
    EDITION_BATCH,
    FIELD_BLOCKER_ATTRS,
    SLUG_MAX_LENGTH,
    PublishBlocker,
    product_delete,
    product_publish_blockers,
    product_save,
    product_set_published,
    product_slug_suggest,
)

__all__ = [
    "EDITION_BATCH", "FIELD_BLOCKER_ATTRS", "SLUG_MAX_LENGTH", "SOLD_OUT_FLAG_TTL", "InventorySlotFull", "InventorySoldOut",
    "PublishBlocker", "download_file_delete", "download_file_save", "inventory_claim_editions", "inventory_claim_slots",
    "inventory_claim_stock", "inventory_clear_flags", "inventory_flag_sold_out", "inventory_flags", "inventory_mark_sold",
    "inventory_release", "inventory_remaining", "inventory_restock_editions", "licence_key_delete", "licence_key_save",
    "licence_keys_add", "product_delete", "product_publish_blockers", "product_save", "product_set_published",
    "product_slug_suggest", "slot_delete", "slot_save", "slots_create",
]
__all__ += ["SHARES_TOTAL", "ComponentSpec", "bundle_components_set", "bundle_editable_by", "bundle_publish_blockers",
            "bundle_split"]
