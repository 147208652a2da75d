"""Exhibitors (brands with a hall and booth) and the staff who act for them."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.i18n import EnglishOriginalColumnsMixin
from marketplace.models import TimeStampedModel


class ExhibitorStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")
    SUSPENDED = "suspended", _("Suspended")


class Exhibitor(EnglishOriginalColumnsMixin, TimeStampedModel):
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    # Translated (apps/exhibitors/translation.py): name_en, name_zh_hans, description_en, description_zh_hans.
    name = models.CharField(_("name"), max_length=120)
    hall = models.CharField(_("hall"), max_length=20, help_text=_("Expo hall, e.g. 'H1'."))
    booth = models.CharField(_("booth"), max_length=20, help_text=_("Booth within the hall, e.g. 'A12'."))
    description = models.TextField(_("description"), blank=True)
    contact_email = models.EmailField(_("contact email"), blank=True)
    status = models.CharField(_("status"), max_length=20, choices=ExhibitorStatus.choices, default=ExhibitorStatus.PENDING,
                              db_index=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("approved by"))
    # Platform commission on this exhibitor's sales, in basis points (1000 = 10 %).
    commission_bps = models.PositiveIntegerField(_("commission (basis points)"), default=1000,
                                                 help_text=_("1000 is a tenth of each sale."))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="ExhibitorMembership", related_name="exhibitors",  # type: ignore[var-annotated]
                                     verbose_name=_("members"))

    class Meta:
        verbose_name = _("exhibitor")
        verbose_name_plural = _("exhibitors")
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(fields=["hall", "booth"], name="exhibitor_unique_booth"),
            models.CheckConstraint(condition=models.Q(commission_bps__lte=10000), name="exhibitor_commission_bps_lte_10000"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hall}-{self.booth})"

    @property
    def is_approved(self) -> bool:
        return self.status == ExhibitorStatus.APPROVED


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    STAFF = "staff", _("Staff")


class ExhibitorMembership(TimeStampedModel):
    """A user who acts for an exhibitor in the admin. Scoping (marketplace.tenancy) reads this."""

    exhibitor = models.ForeignKey(Exhibitor, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("exhibitor"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exhibitor_memberships",
                             verbose_name=_("user"))
    role = models.CharField(_("role"), max_length=20, choices=MembershipRole.choices, default=MembershipRole.STAFF)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "exhibitor"], name="membership_unique_user_exhibitor")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.exhibitor.slug}"
