"""Notifications: one row per (rule, trigger event), and the decisions that explain it."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from events.models import Event
from users.models import User

# The codename of the permission to read every tenant's audit trail (app label notifications).
AUDIT_EVERY_TENANT = "view_every_tenant_audit"


class Notification(models.Model):
    """What one notification rule decided about one event, and where delivery stands.

    The unique (rule, trigger event) pair makes evaluation idempotent: a retried or
    concurrent evaluation of the same event cannot decide twice.
    """

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        SENT = "sent"
        SUPPRESSED = "suppressed"
        NOT_MATCHED = "not_matched"
        CANCELLED = "cancelled"
        FAILED = "failed"

    # No index of its own: notification_user_type_time leads with the user.
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    rule = models.CharField(max_length=128)
    notification_type = models.CharField(max_length=128)
    channel = models.CharField(max_length=16)
    private = models.BooleanField(default=False)
    trigger_event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    # The trigger event's time: debounce periods and calendar days are counted in event time.
    trigger_occurred_at = models.DateTimeField()
    # The version of the notification rules that decided it; its sends follow that version.
    rules_version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    subject = models.TextField(blank=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "trigger_event"], name="notification_unique_rule_event"
            ),
        ]
        # Staff read the audit trail through their admin session, which names no tenant.
        permissions = [(AUDIT_EVERY_TENANT, "Can read every tenant's audit trail")]
        indexes = [
            models.Index(
                fields=["user", "notification_type", "trigger_occurred_at"],
                name="notification_user_type_time",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(status="scheduled"),
                name="notification_due",
            ),
            # The audit's notification history, newest first, read in index order.
            models.Index(
                fields=["user", "created_at", "id"],
                condition=~Q(status="not_matched"),
                name="notification_user_history",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notification_type} for {self.user_id}: {self.status}"


class Decision(models.Model):
    """One step in a notification's life, with the reason an operator can read.

    Append-only: a notification scheduled, retried and then sent has three decisions.
    """

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="decisions"
    )
    # No index of its own: decision_user_created_id leads with the user.
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=16, choices=Notification.Status.choices)
    reason = models.TextField(blank=True)
    # The version of the notification rules this step was taken under: its notification's.
    rules_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        # The audit's decisions, newest first, read in index order.
        indexes = [
            models.Index(fields=["user", "created_at", "id"], name="decision_user_created_id")
        ]

    def __str__(self) -> str:
        return f"{self.status}: {self.reason}"
