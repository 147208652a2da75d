"""The operators' action log: who did what to which queue item, from the console.

Each console button carries a one-time `key` (rendered with the page); the row is inserted with
that unique key before the service is called, so a double click or a resubmitted form finds the
first row and replays its outcome instead of acting twice. The owning app's audit trail (the
OrderEvent of an order, for instance) is written by its own service with the same actor.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ActionOutcome(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused")


class OperatorAction(models.Model):
    key = models.UUIDField(_("key"), unique=True, help_text=_("One per rendered button: a second submit replays the first."))
    action = models.CharField(_("action"), max_length=40)
    target_type = models.CharField(_("target type"), max_length=40, help_text=_("e.g. orders.order"))
    target_id = models.CharField(_("target id"), max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("actor"))
    outcome = models.CharField(_("outcome"), max_length=10, choices=ActionOutcome.choices, default=ActionOutcome.RUNNING)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("operator action")
        verbose_name_plural = _("operator actions")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"], name="opaction_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} ({self.get_outcome_display()})"
