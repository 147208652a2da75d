"""Admin building blocks every app reuses: exhibitor scoping and money entry in major units.

Tenancy (DESIGN.md habit 8) is enforced here once for the whole admin:

- change lists, change/delete/history views and inlines read through `scope_to_user`;
- an object outside the acting user's scope answers 404 (Django's admin would redirect to the
  index with "does not exist", which tells a curious exhibitor nothing new but is not what the
  contract asks for);
- foreign-key choices to scoped models are scoped, so choosing another exhibitor's id is a form
  validation error ("Select a valid choice"), never a silent write;
- admin autocompletes answer from the *target* admin's `get_queryset`, which is scoped here too;
- list filters on related exhibitor data use `ScopedRelatedDropdownFilter`, whose choices come
  from the scoped change list rather than the whole table.

Split by sub-domain: scoping (the scoped admin base, inlines and filters), access (read-only and
operator-only mixins), audit (the History trail), writes (bulk actions, full-clean forms) and
money (money and percentage fields and columns). Apps import from here.
"""

from marketplace.admin.access import OperatorOnlyAdminMixin, ReadOnlyAdminMixin
from marketplace.admin.audit import AuditTrailMixin
from marketplace.admin.money import (
    MajorUnitsMoneyField,
    MajorUnitsMoneyFormMixin,
    PercentAsBasisPointsField,
    format_bps_percent,
    money_display,
)
from marketplace.admin.scoping import (
    ExhibitorScopedAdmin,
    ExhibitorScopedMixin,
    ScopedRelatedDropdownFilter,
    ScopedStackedInline,
    ScopedTabularInline,
    scoped_choices,
    sole_exhibitor_id,
)
from marketplace.admin.writes import FullCleanFormMixin, run_for_each

__all__ = [
    "AuditTrailMixin",
    "ExhibitorScopedAdmin",
    "ExhibitorScopedMixin",
    "FullCleanFormMixin",
    "MajorUnitsMoneyField",
    "MajorUnitsMoneyFormMixin",
    "OperatorOnlyAdminMixin",
    "PercentAsBasisPointsField",
    "ReadOnlyAdminMixin",
    "ScopedRelatedDropdownFilter",
    "ScopedStackedInline",
    "ScopedTabularInline",
    "format_bps_percent",
    "money_display",
    "run_for_each",
    "scoped_choices",
    "sole_exhibitor_id",
]
