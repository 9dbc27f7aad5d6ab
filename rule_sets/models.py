"""Rule sets as versioned data: each kind's versions, the log of activations, backtests."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

KIND_ALERTS = "alerts"
KIND_NOTIFICATIONS = "notifications"
KIND_CHOICES = [(KIND_ALERTS, "Alert rules"), (KIND_NOTIFICATIONS, "Notification rules")]


class RuleSetVersion(models.Model):
    """One version of a kind's rules: the YAML text in the kind's file format, never changed.

    Exactly one version of each kind is `active` (a partial unique index holds at most one; the
    default file is imported as version 1 when a kind has none). Activating another retires it.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        RETIRED = "retired"

    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    version = models.PositiveIntegerField()
    source = models.TextField()
    sha256 = models.CharField(max_length=64, editable=False)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="rule_set_unique_version"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(status="active"), name="rule_set_one_active"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} ({self.status})"


class RuleSetActivation(models.Model):
    """The change log: who made which version active, when, and which version it replaced."""

    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    version = models.ForeignKey(
        RuleSetVersion, on_delete=models.PROTECT, related_name="activations"
    )
    replaced = models.ForeignKey(
        RuleSetVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    activated_by = models.CharField(max_length=150)
    activated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-activated_at", "-id"]
        indexes = [
            models.Index(fields=["kind", "activated_at", "id"], name="rule_set_activation_log")
        ]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version.version} activated by {self.activated_by}"


class RuleSetBacktest(models.Model):
    """A replay of stored history under a candidate version and the active one, and its result.

    A worker runs it (`status` running, then done or failed); `result` holds the per-rule
    counts and samples once done. The rows are the queue (rule_sets.backtests): a worker
    claims a running one whose lease is unset or over, and renews the lease as it reports
    progress, so one whose worker died is claimed again, up to a few attempts.
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    candidate = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="+")
    baseline = models.ForeignKey(RuleSetVersion, on_delete=models.CASCADE, related_name="+")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    progress = models.FloatField(default=0.0)
    events = models.PositiveBigIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The claim of the worker running it: who (a token of its run) and until when.
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(status="running"),
                name="rule_set_backtest_running",
            )
        ]

    @property
    def started(self) -> bool:
        """Whether a worker has taken it (claimed it at least once)."""
        return self.attempts > 0

    def __str__(self) -> str:
        return f"backtest {self.id} of {self.candidate}"
