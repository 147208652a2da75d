"""Exhibitors (brands with a hall and booth) and the staff who act for them."""

from django.conf import settings
from django.db import models

from marketplace.models import TimeStampedModel


class ExhibitorStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    SUSPENDED = "suspended", "Suspended"


class Exhibitor(TimeStampedModel):
    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    name_zh = models.CharField("name (Chinese)", max_length=120, blank=True)
    hall = models.CharField(max_length=20, help_text="Expo hall, e.g. 'H1'.")
    booth = models.CharField(max_length=20, help_text="Booth within the hall, e.g. 'A12'.")
    description = models.TextField(blank=True)
    contact_email = models.EmailField(blank=True)
    status = models.CharField(max_length=20, choices=ExhibitorStatus.choices, default=ExhibitorStatus.PENDING, db_index=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Platform commission on this exhibitor's sales, in basis points (1000 = 10 %).
    commission_bps = models.PositiveIntegerField(default=1000)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="ExhibitorMembership", related_name="exhibitors")  # type: ignore[var-annotated]

    class Meta:
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
    OWNER = "owner", "Owner"
    STAFF = "staff", "Staff"


class ExhibitorMembership(TimeStampedModel):
    """A user who acts for an exhibitor in the admin. Scoping (marketplace.tenancy) reads this."""

    exhibitor = models.ForeignKey(Exhibitor, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exhibitor_memberships")
    role = models.CharField(max_length=20, choices=MembershipRole.choices, default=MembershipRole.STAFF)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "exhibitor"], name="membership_unique_user_exhibitor")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.exhibitor.slug}"
