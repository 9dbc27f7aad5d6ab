"""Input and output shapes of GET /metrics."""

from rest_framework import serializers

from events.serializers import TimeRangeQueryMixin, TimestampField, time_range_order_check
from metrics.models import MetricBucket
from metrics.selectors import MAX_BUCKETS_PER_PAGE
from midnite_test.serializers import PlainCharField, StrictSerializer


class MetricsQuerySerializer(TimeRangeQueryMixin, StrictSerializer):
    tenant_id = PlainCharField(max_length=128)
    bucket_size = serializers.ChoiceField(choices=MetricBucket.Size.choices)
    source = PlainCharField(required=False, max_length=64)
    event_type = PlainCharField(required=False, max_length=64)
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_BUCKETS_PER_PAGE, default=MAX_BUCKETS_PER_PAGE
    )
    cursor = serializers.CharField(required=False, help_text="From a page's `next` link.")

    def validate(self, attrs: dict) -> dict:
        time_range_order_check(attrs)
        return attrs


class MetricBucketSerializer(serializers.Serializer):
    bucket_start = TimestampField()
    source = serializers.CharField()
    event_type = serializers.CharField()
    count = serializers.IntegerField()
    amount_sum = serializers.DecimalField(max_digits=24, decimal_places=2)


class MetricsSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    bucket_size = serializers.CharField()
    as_of = TimestampField(
        help_text=(
            "Every event committed before this time is counted, but the `dead_lettered` ones."
        )
    )
    dead_lettered = serializers.IntegerField(
        help_text=(
            "The tenant's events the metrics consumer gave up on: counted in no bucket, and "
            "not waited for by `as_of`, until an operator re-queues them."
        )
    )
    buckets = MetricBucketSerializer(many=True)
    next = serializers.URLField(
        allow_null=True, help_text="The next page's URL; null on the last page."
    )
