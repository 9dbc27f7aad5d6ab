"""Time-bucketed counts and amount sums of events."""

from django.db import models


class MetricBucket(models.Model):
    """Events of one tenant, source and type in one time bucket: their count and amount sum.

    Maintained incrementally by the metrics consumer of the outbox, one increment per stored
    event, in the transaction that marks the event's message done; never by scanning events.
    """

    class Size(models.TextChoices):
        MINUTE = "minute"
        HOUR = "hour"
        DAY = "day"

    tenant_id = models.CharField(max_length=128)
    bucket_size = models.CharField(max_length=8, choices=Size.choices)
    bucket_start = models.DateTimeField()
    source = models.CharField(max_length=64, blank=True)
    event_type = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)
    amount_sum = models.DecimalField(max_digits=24, decimal_places=2, default=0)

    class Meta:
        # Moved from the events app with its table (migration metrics.0001).
        db_table = "events_metricbucket"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "bucket_size", "bucket_start", "source", "event_type"],
                name="metric_bucket_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.bucket_size} {self.bucket_start} {self.event_type}"
