"""The alerts raised on deposits and withdrawals."""

from django.db import models
from django.utils import timezone

from events.models import Event


class Alert(models.Model):
    """An alert code raised by an event, stored so a replayed request gets the same answer."""

    # No index of its own: alert_unique_event_code leads with the event.
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    code = models.PositiveIntegerField()
    # The version of the alert rules that raised it (rule_sets: kind "alerts").
    rules_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        # Moved from the events app with its table (migration alerts.0001).
        db_table = "events_alert"
        ordering = ["event_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["event", "code"], name="alert_unique_event_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.event_id}"
