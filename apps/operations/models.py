"""The operators' action log: who did what to which queue item, from the console.

Each console button carries a one-time `key` (rendered with the page); the row is inserted with
that unique key before the service is called, so a double click or a resubmitted form finds the
first row and replays its outcome instead of acting twice. The owning app's audit trail (the
OrderEvent of an order, for instance) is written by its own service with the same actor.
"""

from django.conf import settings
from django.db import models


class ActionOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"


class OperatorAction(models.Model):
    key = models.UUIDField(unique=True, help_text="One per rendered button: a second submit replays the first.")
    action = models.CharField(max_length=40)
    target_type = models.CharField(max_length=40, help_text="e.g. orders.order")
    target_id = models.CharField(max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=10, choices=ActionOutcome.choices, default=ActionOutcome.RUNNING)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id", "-created_at"], name="opaction_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id} ({self.outcome})"
