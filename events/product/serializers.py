"""Input and output shapes of POST /api/v1/events."""

from rest_framework import serializers

from midnite_test.serializers import PlainCharField, StrictSerializer


class ProductEventInputSerializer(serializers.Serializer):
    """One item of POST /api/v1/events (documentation: items are checked by events.validation)."""

    user_id = serializers.CharField(
        max_length=128, help_text="The user's external id; the user is created on first sight."
    )
    event_type = serializers.CharField(max_length=64)
    event_timestamp = serializers.CharField(help_text="ISO 8601 with a timezone, stored as UTC.")
    properties = serializers.DictField(required=False, help_text="At most 64 KiB serialized.")
    user_traits = serializers.DictField(
        required=False,
        help_text=(
            "Merged into the user's traits (shallow) when the event is new. `email` (where "
            "emails go when the user has no email of their own) must be an email address and "
            "`phone` (where SMS go) an E.164 number such as +447700900123, each a string, or "
            "null; otherwise the item is rejected naming `user_traits`."
        ),
    )
    event_id = serializers.CharField(
        max_length=128,
        required=False,
        allow_null=True,
        help_text='Idempotency key, not starting with "txn:"; without one, the content is.',
    )


class ProductEventQuerySerializer(StrictSerializer):
    tenant_id = PlainCharField(
        required=False,
        max_length=128,
        help_text="Default: the API key's tenant when it has exactly one, else `default`.",
    )


class ProductEventProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the array, from 0.")
    errors = serializers.DictField(help_text="Per-field problems.")


class ProductEventBatchOutputSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored by this request.")
    duplicates = serializers.IntegerField(help_text="Events stored before with the same content.")
    rejected = ProductEventProblemSerializer(
        many=True,
        help_text="Invalid items, and items whose event_id is stored with other content.",
    )
