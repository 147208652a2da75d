"""Bundles: one product that sells goods of several exhibitors at one price, split by declared shares.

Who owns a bundle. `Product.exhibitor` of a bundle is its lead exhibitor: the booth it is listed
under in the catalog and whose staff see it in the admin. Being the lead earns nothing: every fen
of a bundle goes to the exhibitors of its components, by share (`bundle_split`), through ordinary
order lines (apps/orders/services/bundles.py). Operators create bundles of any exhibitors' goods;
exhibitor staff may bundle only goods of exhibitors they belong to, and cannot edit (or delete) a
bundle holding another exhibitor's goods (`bundle_editable_by`): shares and price decide others'
money, so those bundles are the operators' to change.

What a bundle may contain: published products of other kinds (never a bundle, never a ballot drop,
which only drawn winners may buy) in the bundle's currency, each with a quantity and a share in
basis points; the shares sum to 10,000. A bundle is on sale only while each component is too
(published, its exhibitor approved, inside its own sale window), so an exhibitor who withdraws a
product withdraws it from every bundle.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from apps.catalog.models import BundleComponent, Product, ProductKind, SaleMode
from apps.catalog.services.products import PublishBlocker, product_publish_blockers
from apps.exhibitors.models import ExhibitorStatus
from marketplace.errors import NotFound, PermissionDenied, ValidationFailed
from marketplace.tenancy import exhibitor_ids_for, is_operator

SHARES_TOTAL = 10_000
MAX_COMPONENTS = 10
MAX_COMPONENT_QUANTITY = 10


@dataclass(frozen=True)
class ComponentSpec:
    """One component as an editor gives it: a product id, units per bundle and a share in basis points."""

    product_id: int
    quantity: int
    share_bps: int


def bundle_split(*, price: int, shares: Sequence[int]) -> list[int]:
    """Split `price` (minor units) by `shares` (basis points summing to 10,000) into integers that
    sum to `price` exactly: each gets the floor of its exact share, and the fen left over go one
    each to the largest remainders (ties: the earlier component). Pure; raises ValueError if the
    shares do not sum to 10,000."""
    if sum(shares) != SHARES_TOTAL or any(share < 0 for share in shares):
        raise ValueError("Shares must be non-negative and sum to 10,000 basis points.")
    floors = [price * share // SHARES_TOTAL for share in shares]
    left = price - sum(floors)
    by_remainder = sorted(range(len(shares)), key=lambda i: (-(price * shares[i] % SHARES_TOTAL), i))
    for i in by_remainder[:left]:
        floors[i] += 1
    return floors


def bundle_editable_by(*, user: Any, bundle: Product) -> bool:
    """Whether `user` may change this bundle (its fields, components, shares) or delete it:
    operators always; staff only when the bundle and all its components belong to exhibitors of
    theirs. Reads the components (one query) for staff."""
    if is_operator(user):
        return True
    own = exhibitor_ids_for(user)
    if bundle.exhibitor_id not in own:
        return False
    if bundle.pk is None:
        return True
    foreign = BundleComponent.objects.filter(bundle_id=bundle.pk).exclude(component__exhibitor_id__in=own)
    return not foreign.exists()


def _component_problem(bundle: Product, component: Product) -> str | None:
    """Why `component` cannot be part of `bundle` at all (whatever its inventory), or None."""
    if component.pk == bundle.pk or component.kind == ProductKind.BUNDLE:
        return str(_("A bundle cannot contain a bundle."))
    if component.sale_mode == SaleMode.BALLOT:
        return str(_("%(product)s is sold by ballot, to drawn winners only; it cannot be part of a bundle.")
                   % {"product": component.title})
    if component.currency != bundle.currency:
        return str(_("%(product)s is priced in %(currency)s; a bundle's products share its currency.")
                   % {"product": component.title, "currency": component.currency})
    return None


@transaction.atomic
def bundle_components_set(*, bundle: Product, components: Sequence[ComponentSpec], actor: Any) -> list[BundleComponent]:
    """Replace a bundle's components with `components` (in that order), checked as a whole.

    Preconditions: `bundle` is a saved bundle product. Raises NotFound for a product `actor` may not
    use (staff: only their exhibitors' products, and only in their exhibitors' bundles) or that
    does not exist; PermissionDenied when staff touch a bundle holding another exhibitor's goods
    (they may not take it over); ValidationFailed for a component that may not be bundled (a
    bundle, a ballot drop, another currency), a product listed twice, a bad quantity or share,
    shares that do not sum to 10,000, too many components, or, on a published bundle, components
    that cannot be sold now (`bundle_publish_blockers`; unpublish the bundle first). Locks the
    bundle row, so concurrent edits serialise. Idempotent: the same components twice give the
    same set.
    """
    locked = Product.objects.select_for_update().get(pk=bundle.pk)
    if locked.kind != ProductKind.BUNDLE:
        raise ValidationFailed(_("Only a bundle has components."), attr="components")
    operator = is_operator(actor)
    own = exhibitor_ids_for(actor)
    if not operator and locked.exhibitor_id not in own:
        raise NotFound(_("No such product."))
    if not bundle_editable_by(user=actor, bundle=locked):
        raise PermissionDenied(_("This bundle holds other exhibitors' goods; only an operator may change it."))
    if len(components) > MAX_COMPONENTS:
        raise ValidationFailed(_("A bundle holds at most %(count)s products.") % {"count": MAX_COMPONENTS}, attr="components")
    ids = [spec.product_id for spec in components]
    if len(set(ids)) != len(ids):
        raise ValidationFailed(_("Each product may appear once in a bundle; use its quantity."), attr="components")
    products = Product.objects.select_related("exhibitor").in_bulk(ids)
    for spec in components:
        product = products.get(spec.product_id)
        if product is None or not (operator or product.exhibitor_id in own):
            # Another exhibitor's goods go into a bundle only by an operator's hand.
            raise NotFound(_("No such product: %(id)s.") % {"id": spec.product_id})
        problem = _component_problem(locked, product)
        if problem:
            raise ValidationFailed(problem, attr="components")
        if not 1 <= spec.quantity <= MAX_COMPONENT_QUANTITY:
            raise ValidationFailed(_("A product's quantity in a bundle is between 1 and %(max)s.")
                                   % {"max": MAX_COMPONENT_QUANTITY}, attr="components")
        if not 1 <= spec.share_bps <= SHARES_TOTAL:
            raise ValidationFailed(_("Each product's share is more than 0 and at most 100 percent."), attr="components")
    if components and sum(spec.share_bps for spec in components) != SHARES_TOTAL:
        raise ValidationFailed(_("The shares add up to %(total)s percent; they must add up to exactly 100 percent.")
                               % {"total": f"{sum(spec.share_bps for spec in components) / 100:g}"}, attr="components")
    BundleComponent.objects.filter(bundle=locked).delete()
    rows = BundleComponent.objects.bulk_create([
        BundleComponent(bundle=locked, component=products[spec.product_id], quantity=spec.quantity, share_bps=spec.share_bps)
        for spec in components
    ])
    if locked.is_published:
        blockers = bundle_publish_blockers(product=locked)
        if blockers:
            raise ValidationFailed(" ".join(str(b.message) for b in blockers), attr="components")
    return rows


def bundle_publish_blockers(*, product: Product) -> list[PublishBlocker]:
    """What keeps a bundle from being sold: no components, shares that do not sum to 10,000, or a
    component that is unpublished, of an exhibitor not approved, not bundleable or unable to
    deliver (its own publish blockers). Empty when it may be published. Reads only."""
    if product.pk is None:
        return [PublishBlocker("components", _("A bundle needs its products before it can be published."))]
    rows = list(BundleComponent.objects.filter(bundle_id=product.pk).select_related("component__exhibitor").order_by("id"))
    if not rows:
        return [PublishBlocker("components", _("A bundle needs its products before it can be published."))]
    blockers: list[PublishBlocker] = []
    if sum(row.share_bps for row in rows) != SHARES_TOTAL:
        blockers.append(PublishBlocker("components", _("The products' shares must add up to exactly 100 percent.")))
    for row in rows:
        component = row.component
        problem = _component_problem(product, component)
        if problem:
            blockers.append(PublishBlocker("components", problem))
        elif not component.is_published or component.exhibitor.status != ExhibitorStatus.APPROVED:
            blockers.append(PublishBlocker("components", _("%(product)s is not on sale; publish it first.")
                                           % {"product": component.title}))
        else:
            blockers += [PublishBlocker("components", _("%(product)s: %(reason)s") % {"product": component.title,
                                                                                       "reason": b.message})
                         for b in product_publish_blockers(product=component)]
    return blockers
