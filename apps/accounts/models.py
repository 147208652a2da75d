"""Users are identified by email everywhere: API login, admin login, demo accounts (API.md)."""

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class UserManager(DjangoUserManager["User"]):
    """Creates users from an email; the username column mirrors it for libraries that expect one."""

    def _create_user(self, email: str | None, password: str | None, **extra: Any) -> "User":  # type: ignore[override]
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> "User":
        # Emails are stored lower-case; the admin login matches them case-insensitively.
        return self.get(email__iexact=username)

    def create_user(self, email: str | None = None, password: str | None = None, **extra: Any) -> "User":  # type: ignore[override]
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str | None = None, password: str | None = None, **extra: Any) -> "User":  # type: ignore[override]
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    username = None  # type: ignore[assignment]
    email = models.EmailField(_("email address"), unique=True)
    language = models.CharField(
        _("language"), max_length=10, default="en", choices=[("en", "English"), ("zh-hans", "简体中文")],
        help_text=_("Language of emails and notifications."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email


class EligibilityGroup(models.Model):
    """A group of shoppers some offers are reserved for (e.g. `senior`, `low-income`): API.md
    "Groups (eligibility)". Membership is verified by an operator (`EligibilityMembership`)."""

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True,
                                   help_text=_("What an operator checks before verifying a member."))

    class Meta:
        verbose_name = _("eligibility group")
        verbose_name_plural = _("eligibility groups")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


class EligibilityMembership(models.Model):
    """A shopper's membership of an eligibility group, verified by an operator. A row exists only
    once verified; `valid_until` (optional) ends it, and revoking deletes it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="eligibility_memberships",
                             verbose_name=_("shopper"))
    group = models.ForeignKey(EligibilityGroup, on_delete=models.CASCADE, related_name="memberships",
                              verbose_name=_("group"))
    verified_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("verified by"))
    verified_at = models.DateTimeField(_("verified at"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True, help_text=_("Empty: no end."))
    note = models.CharField(_("note"), max_length=200, blank=True,
                            help_text=_("What was checked (e.g. the document seen); never the document itself."))

    class Meta:
        verbose_name = _("verified membership")
        verbose_name_plural = _("verified memberships")
        ordering = ["group_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["user", "group"], name="eligibility_one_membership")]

    def __str__(self) -> str:
        return f"{self.user_id} ∈ {self.group_id}"
