"""Bundles in orders: a bundle line is placed as ordinary lines of its components.

Each component line carries its component's exhibitor, its slot (chosen in the request's
`component_slots`) and a price that is its share of the bundle's (`bundle_split`: exact integers,
summing to the bundle's price), and points back to the bundle (`OrderLine.bundle`,
`bundle_quantity`). So the claim transaction holds every component's inventory or none (one
transaction, the usual fixed lock order), fulfilment delivers each component as its own kind,
and payouts and refunds, which work per line and per exhibitor, split by share by themselves.

A component of `quantity` q and share S is priced per unit: S // q, and S % q of its units one
fen more (a second line at that price), so `total = unit_price * quantity` holds on every line
and the component's lines sum to S per bundle.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from apps.catalog import services as catalog_services
from apps.catalog.models import BundleComponent, Product, ProductKind, SaleMode, ServiceSlot
from apps.catalog.services.bundles import MAX_COMPONENTS
from apps.exhibitors.models import ExhibitorStatus
from marketplace.errors import LimitExceeded, NotOnSale, SlotFull, SlotRequired, SoldOut, ValidationFailed

MAX_BUNDLE_COMPONENTS = MAX_COMPONENTS


class RequestedLine(Protocol):
    @property
    def product_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def slot_id(self) -> int | None: ...
    @property
    def component_slots(self) -> tuple[tuple[int, int], ...]: ...


@dataclass(frozen=True)
class PlannedLine:
    """An order line about to be created: what placement claims and writes (prices from the rows)."""

    product_id: int
    quantity: int
    slot_id: int | None
    unit_price: int
    bundle_id: int | None = None
    bundle_quantity: int | None = None


def _refuse_unsellable(bundle: Product, component: Product, now: datetime) -> None:
    sellable = (component.kind != ProductKind.BUNDLE and component.sale_mode != SaleMode.BALLOT
                and component.is_published and component.exhibitor.status == ExhibitorStatus.APPROVED
                and component.currency == bundle.currency and component.is_in_sale_window(now))
    if not sellable:
        raise NotOnSale(_("%(bundle)s is not on sale now: %(product)s is not.")
                        % {"bundle": bundle.title, "product": component.title})


def _component_slot(bundle: Product, component: Product, chosen: dict[int, int], slots: dict[int, ServiceSlot],
                    now: datetime) -> int | None:
    if component.kind != ProductKind.SERVICE:
        return None
    slot_id = chosen.get(component.pk)
    if slot_id is None:
        raise SlotRequired(_("%(product)s in %(bundle)s needs a time slot (component_slots).")
                           % {"product": component.title, "bundle": bundle.title})
    slot = slots.get(slot_id)
    if slot is None or slot.product_id != component.pk:
        raise ValidationFailed(_("Slot %(slot)s is not a slot of product %(product)s.")
                               % {"slot": slot_id, "product": component.pk}, attr="lines")
    if slot.starts_at <= now:
        raise ValidationFailed(_("Slot %(slot)s has already started.") % {"slot": slot_id}, attr="lines")
    return slot_id


def _bundle_lines(line: RequestedLine, bundle: Product, parts: list[BundleComponent], slot_of: dict[int, int | None]
                  ) -> list[PlannedLine]:
    shares = catalog_services.bundle_split(price=bundle.price, shares=[part.share_bps for part in parts])
    planned = []
    for part, share in zip(parts, shares, strict=True):
        unit, extra = divmod(share, part.quantity)
        for units, price in (((part.quantity - extra) * line.quantity, unit), (extra * line.quantity, unit + 1)):
            if units:
                planned.append(PlannedLine(product_id=part.component_id, quantity=units, slot_id=slot_of[part.component_id],
                                           unit_price=price, bundle_id=bundle.pk, bundle_quantity=line.quantity))
    return planned


def bundle_lines_expand(*, lines: Sequence[RequestedLine], products: dict[int, Product], now: datetime) -> list[PlannedLine]:
    """The lines to place: each requested line at its product's price, and each bundle line as
    lines of its components priced by share. Adds the component products to `products`.

    Preconditions: `lines` passed placement's own validation (products published, quantities,
    slots of services, the bundle's sale window). Raises ValidationFailed (`component_slots` on a
    line that is not a bundle's, or naming a product that is not a service of the bundle; a slot of
    another product, or started), SlotRequired (a service component without its slot), NotOnSale
    (a bundle without components, or with one that is not on sale itself), SoldOut / SlotFull
    (from the Redis flags, before any lock), LimitExceeded (a component's per-customer limit over
    the whole order). Reads only: no query unless a bundle is ordered (then two or three).
    """
    planned: list[PlannedLine] = []
    bundle_lines = []
    for line in lines:
        product = products[line.product_id]
        if product.kind == ProductKind.BUNDLE:
            bundle_lines.append(line)
            continue
        if line.component_slots:
            raise ValidationFailed(_("Only a bundle's line takes component slots."), attr="lines")
        planned.append(PlannedLine(product_id=line.product_id, quantity=line.quantity, slot_id=line.slot_id,
                                   unit_price=product.price))
    if not bundle_lines:
        return planned
    parts_of: dict[int, list[BundleComponent]] = defaultdict(list)
    for part in (BundleComponent.objects.filter(bundle_id__in=[line.product_id for line in bundle_lines])
                 .select_related("component__exhibitor").order_by("bundle_id", "id")):
        parts_of[part.bundle_id].append(part)
    slot_ids = {slot_id for line in bundle_lines for _product_id, slot_id in line.component_slots}
    sold_out, full = catalog_services.inventory_flags(
        product_ids={part.component_id for parts in parts_of.values() for part in parts}, slot_ids=slot_ids)
    if sold_out:
        raise SoldOut(_("Product %(id)s is sold out.") % {"id": min(sold_out)})
    if full:
        raise SlotFull()
    slots = {slot.pk: slot for slot in ServiceSlot.objects.filter(id__in=slot_ids)} if slot_ids else {}
    for line in bundle_lines:
        bundle, parts, chosen = products[line.product_id], parts_of.get(line.product_id, []), dict(line.component_slots)
        if not parts or sum(part.share_bps for part in parts) != catalog_services.SHARES_TOTAL:
            raise NotOnSale(_("%(product)s is not on sale now.") % {"product": bundle.title})
        services = {part.component_id for part in parts if part.component.kind == ProductKind.SERVICE}
        stray = sorted(set(chosen) - services)
        if stray:
            raise ValidationFailed(_("Product %(id)s is not a service of %(bundle)s.") % {"id": stray[0], "bundle": bundle.title},
                                   attr="lines")
        slot_of = {}
        for part in parts:
            _refuse_unsellable(bundle, part.component, now)
            slot_of[part.component_id] = _component_slot(bundle, part.component, chosen, slots, now)
            products.setdefault(part.component_id, part.component)
        planned += _bundle_lines(line, bundle, parts, slot_of)
    units: Counter[int] = Counter()
    for planned_line in planned:
        units[planned_line.product_id] += planned_line.quantity
    for product_id, count in sorted(units.items()):
        limit = products[product_id].per_customer_limit
        if limit is not None and count > limit:
            raise LimitExceeded(_("At most %(limit)s per customer.") % {"limit": limit})
    return planned
