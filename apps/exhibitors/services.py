"""Writes for exhibitors and their staff (DESIGN.md habit 1)."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from apps.exhibitors.models import Exhibitor, ExhibitorMembership, ExhibitorStatus, MembershipRole
from marketplace.transitions import transition


@transaction.atomic
def exhibitor_create(*, slug: str, name: str, hall: str, booth: str, description: str = "",
                     name_zh_hans: str = "", description_zh_hans: str = "", contact_email: str = "",
                     commission_bps: int = 1000) -> Exhibitor:
    """Create a pending exhibitor. Not idempotent: a taken slug or booth raises IntegrityError.

    `name` and `description` are the English texts, whatever language is active; an empty Chinese
    text is stored as "no translation" (Chinese readers get the English one).
    """
    exhibitor = Exhibitor(slug=slug, name=name, name_en=name, name_zh_hans=name_zh_hans or None, hall=hall, booth=booth,
                          description=description, description_en=description, description_zh_hans=description_zh_hans or None,
                          contact_email=contact_email, commission_bps=commission_bps)
    exhibitor.full_clean()
    exhibitor.save()
    return exhibitor


@transaction.atomic
def exhibitor_save(*, exhibitor: Exhibitor, changed_fields: list[str] | None = None) -> Exhibitor:
    """Persist an admin-edited exhibitor (the form already validated it)."""
    exhibitor.save(update_fields=changed_fields or None)
    return exhibitor


@transaction.atomic
def exhibitor_approve(*, exhibitor: Exhibitor, by: Any) -> Exhibitor:
    """Approve a pending or suspended exhibitor; its published products become visible.

    Idempotent: approving an approved exhibitor changes nothing (a logged no-op). Audited.
    """
    return transition(Exhibitor, exhibitor.pk, name="approve", to=ExhibitorStatus.APPROVED,
                      allowed_from=(ExhibitorStatus.PENDING, ExhibitorStatus.SUSPENDED), actor=by,
                      also={"approved_at": timezone.now(), "approved_by": by}).obj


@transaction.atomic
def exhibitor_suspend(*, exhibitor: Exhibitor, by: Any = None, reason: str = "") -> Exhibitor:
    """Hide an exhibitor and its products from shoppers. Idempotent (a repeat is a logged no-op).

    Raises InvalidState for an exhibitor in any other state than approved or pending.
    """
    return transition(Exhibitor, exhibitor.pk, name="suspend", to=ExhibitorStatus.SUSPENDED,
                      allowed_from=(ExhibitorStatus.APPROVED, ExhibitorStatus.PENDING), actor=by, reason=reason).obj


@transaction.atomic
def exhibitor_member_add(*, exhibitor: Exhibitor, user: Any, role: str = MembershipRole.STAFF) -> ExhibitorMembership:
    """Give `user` admin access to `exhibitor`'s data. Idempotent per (user, exhibitor).

    The user becomes staff (admin login) and joins the exhibitor-staff group, which carries the
    model permissions; which rows they see is decided by the membership (marketplace.tenancy).
    """
    membership, _ = ExhibitorMembership.objects.get_or_create(exhibitor=exhibitor, user=user, defaults={"role": role})
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    group, _ = Group.objects.get_or_create(name=settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"])
    user.groups.add(group)
    return membership


# Model permissions of the exhibitor-staff group, as (app_label, model, actions). Which rows staff
# see is decided by memberships (marketplace.tenancy); these only open the admin pages.
EXHIBITOR_STAFF_PERMISSIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("exhibitors", "exhibitor", ("view", "change")),
    ("catalog", "product", ("view", "add", "change", "delete")),
    ("catalog", "edition", ("view", "change")),
    ("catalog", "serviceslot", ("view", "add", "change", "delete")),
    ("catalog", "downloadfile", ("view", "add", "change", "delete")),
    ("catalog", "licencekey", ("view", "add", "change", "delete")),
    # Bundles of their own goods only (apps/catalog/services/bundles.py).
    ("catalog", "bundlecomponent", ("view", "add", "change", "delete")),
    # Drops of their own products: ballots and results read-only (operators draw), holder priority.
    ("catalog", "ballot", ("view",)),
    ("catalog", "ballotentry", ("view",)),
    ("catalog", "holderpriority", ("view", "add", "change", "delete")),
    # Lines of their own products only (OrderLineAdmin is scoped); never whole orders.
    ("orders", "orderline", ("view",)),
    # Voucher campaigns their exhibitor funds, for its own goods (apps/vouchers/admin.py), and
    # what those campaigns owe (the settlement report); vouchers and redemptions read-only.
    ("vouchers", "campaign", ("view", "add", "change")),
    ("vouchers", "voucher", ("view",)),
    ("vouchers", "redemption", ("view",)),
    ("payments", "vouchersettlement", ("view",)),
    # What their customers own (bookings to serve, passes to redeem), scoped like the rest.
    ("fulfilment", "entitlement", ("view",)),
    # Their own sales webhooks and the delivery log.
    ("notifications", "exhibitorwebhookendpoint", ("view", "add", "change", "delete")),
    ("notifications", "webhookdelivery", ("view",)),
)


@transaction.atomic
def roles_ensure() -> tuple[Group, Group]:
    """Create the operators and exhibitor-staff groups and set their model permissions.

    Operators get every permission that exists; exhibitor staff get EXHIBITOR_STAFF_PERMISSIONS.
    Precondition: Permission rows exist (they are created post_migrate; see ExhibitorsConfig).
    A permission that does not exist yet is skipped. Idempotent: the groups converge to exactly
    these permissions on every call.
    """
    from django.contrib.auth.models import Permission
    from django.db.models import Q

    operators, _ = Group.objects.get_or_create(name=settings.MARKETPLACE["OPERATORS_GROUP"])
    staff, _ = Group.objects.get_or_create(name=settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"])
    operators.permissions.set(Permission.objects.all())
    wanted = Q(pk__in=[])
    for app_label, model, actions in EXHIBITOR_STAFF_PERMISSIONS:
        wanted |= Q(content_type__app_label=app_label, codename__in=[f"{a}_{model}" for a in actions])
    staff.permissions.set(Permission.objects.filter(wanted))
    return operators, staff


@transaction.atomic
def exhibitor_member_remove(*, membership: ExhibitorMembership) -> None:
    """Revoke a user's access to one exhibitor's data. Idempotent (a removed row stays removed).

    The user keeps admin login and the staff group only while they belong to another exhibitor.
    """
    user = membership.user
    ExhibitorMembership.objects.filter(pk=membership.pk).delete()
    if not ExhibitorMembership.objects.filter(user=user).exists() and not user.is_superuser:
        user.groups.remove(*Group.objects.filter(name=settings.MARKETPLACE["EXHIBITOR_STAFF_GROUP"]))
        if user.is_staff:
            user.is_staff = False
            user.save(update_fields=["is_staff"])
