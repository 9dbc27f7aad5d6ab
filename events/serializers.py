"""Input and output shapes of the events API."""

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.validation import timestamp_parse
from midnite_test.serializers import MoneyField, PlainCharField, StrictSerializer

MAX_TRANSACTION_AMOUNT = Decimal(10) ** 12
MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.DATETIME)
class TimestampField(serializers.Field):
    """An ISO 8601 timestamp with a timezone, returned in UTC."""

    def to_internal_value(self, data):
        try:
            return timestamp_parse(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc) + _plus_hint(data)) from None

    def to_representation(self, value):
        return value.isoformat().replace("+00:00", "Z")


def _plus_hint(value) -> str:
    """How to send an offset's `+` in a URL, when a space stands where it would parse."""
    if isinstance(value, str) and " " in value:
        try:
            timestamp_parse(value.replace(" ", "+"))
        except ValueError:
            return ""
        return " A '+' in a URL's query string reads as a space: send it as %2B."
    return ""


class EventInputSerializer(serializers.Serializer):
    """POST /events (documentation: the body is checked by events.validation)."""

    event_id = serializers.CharField(max_length=128, help_text='Not starting with "txn:".')
    tenant_id = serializers.CharField(max_length=128)
    source = serializers.CharField(max_length=64)
    event_type = serializers.CharField(max_length=64)
    timestamp = serializers.CharField(help_text="ISO 8601 with a timezone, stored as UTC.")
    payload = serializers.DictField(
        required=False,
        help_text=(
            "At most 64 KiB serialized. Numbers positional (no exponent), at most 40 digits; "
            "kept as doubles."
        ),
    )
    user_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    amount = MoneyField(max_value=MAX_TRANSACTION_AMOUNT, required=False, allow_null=True)


class EventOutputSerializer(serializers.Serializer):
    event_id = serializers.CharField(source="event.event_id")
    tenant_id = serializers.CharField(source="event.tenant_id")
    source = serializers.CharField(source="event.source")
    event_type = serializers.CharField(source="event.event_type")
    timestamp = TimestampField(source="event.occurred_at")
    payload = serializers.DictField(
        source="event.properties",
        help_text="As stored; numbers written positionally, as they are accepted (0.0000001).",
    )
    user_id = serializers.IntegerField(source="event.user_id", allow_null=True)
    amount = serializers.DecimalField(
        source="event.amount", max_digits=15, decimal_places=2, allow_null=True
    )
    received_at = TimestampField()


class EventIngestedSerializer(EventOutputSerializer):
    duplicate = serializers.BooleanField(help_text="True when the event was stored already.")


class EventBulkInputSerializer(serializers.Serializer):
    """POST /events/bulk (documentation: items are checked by events.validation)."""

    events = EventInputSerializer(many=True, help_text="1 to 5,000 events.")


class BulkProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in `events`, from 0.")
    errors = serializers.DictField(help_text="Per-field problems.")


class EventBulkOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(help_text="Events stored before with the same content.")
    conflicts = BulkProblemSerializer(
        many=True, help_text="Stored before, or earlier in this request, with other content."
    )
    rejected = BulkProblemSerializer(many=True, help_text="Invalid items; nothing stored.")


class TimeRangeQueryMixin:
    """Adds the `from` (inclusive) and `to` (exclusive) parameters, Python keywords both."""

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = TimestampField(required=False, help_text="Inclusive, with a timezone.")
        fields["to"] = TimestampField(required=False, help_text="Exclusive, with a timezone.")
        return fields


def time_range_order_check(attrs: dict) -> None:
    """Raise ValidationError, naming `to`, when the range ends before it starts: it holds
    nothing, so it is a mistake that would otherwise be answered as "no events"."""
    if "from" in attrs and "to" in attrs and attrs["to"] < attrs["from"]:
        raise serializers.ValidationError({"to": ["Must not be before `from`."]})


class EventQuerySerializer(TimeRangeQueryMixin, StrictSerializer):
    tenant_id = PlainCharField(required=False, max_length=128)
    source = PlainCharField(required=False, max_length=64)
    event_type = PlainCharField(required=False, max_length=64)
    user_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    page = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)
    cursor = serializers.CharField(required=False)

    def validate(self, attrs: dict) -> dict:
        time_range_order_check(attrs)
        if "page" in attrs and "cursor" in attrs:
            raise serializers.ValidationError(
                {"cursor": ["A numbered `page` or a keyset `cursor`: send one of them."]}
            )
        return attrs


class EventPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(required=False, help_text="Only with `page`.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(
        required=False,
        allow_null=True,
        help_text="Only with `page`; null on page 1, and when the page before is past the end too.",
    )
    results = EventOutputSerializer(many=True)
