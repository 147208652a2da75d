"""Abstract base models shared by every app, and the kernel's own tables (idempotency keys)."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """Creation and modification times on every domain row."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class IdempotencyState(models.TextChoices):
    IN_FLIGHT = "in_flight", _("In flight")
    DONE = "done", _("Done")


class IdempotencyRecord(models.Model):
    """A client's `Idempotency-Key` and the first response given for it (DESIGN.md habit 6).

    The row is inserted (unique per user and key) before the work starts, in its own committed
    transaction, so a concurrent duplicate hits the constraint instead of doing the work twice.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # sha256 of method, path and canonical JSON body: a reused key with another request is refused.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=IdempotencyState.choices, default=IdempotencyState.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.state})"


class AuditEvent(models.Model):
    """One row per state change of any audited object: the kernel's generic audit trail.

    Written by `marketplace.transitions` in the same transaction as the change it records
    (DESIGN.md habit 3). Orders keep their own `OrderEvent` rows (the ops console reads them);
    every other state machine writes here. `object_id` is text so integer and UUID keys share it.
    """

    content_type = models.ForeignKey("contenttypes.ContentType", on_delete=models.CASCADE, related_name="+",
                                     verbose_name=_("object type"))
    object_id = models.CharField(_("object id"), max_length=64)
    name = models.CharField(_("transition"), max_length=60)
    from_state = models.CharField(_("from"), max_length=40, blank=True)
    to_state = models.CharField(_("to"), max_length=40)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("actor"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["content_type", "object_id", "created_at"], name="auditevent_object")]

    def __str__(self) -> str:
        return f"{self.name}: {self.from_state or '∅'} → {self.to_state}"
