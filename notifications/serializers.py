"""Input and output shapes of the notifications API."""

from rest_framework import serializers

from midnite_test.serializers import StrictSerializer
from notifications.models import Notification
from notifications.selectors import AUDIT_LIMIT_DEFAULT, AUDIT_LIMIT_MAX


class AuditQuerySerializer(StrictSerializer):
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=AUDIT_LIMIT_MAX,
        default=AUDIT_LIMIT_DEFAULT,
        help_text=f"Entries per list, 1 to {AUDIT_LIMIT_MAX}.",
    )
    # DRF's override of the Accept header, e.g. ?format=json to read the JSON in a browser.
    format = serializers.ChoiceField(choices=["json", "html"], required=False)


class AuditEventSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    event_type = serializers.CharField()
    event_timestamp = serializers.DateTimeField(help_text="When it happened, UTC.")
    properties = serializers.DictField()


class AuditNotificationSerializer(serializers.Serializer):
    notification_type = serializers.CharField()
    channel = serializers.CharField(
        help_text=(
            "The template's channel until sent; then the one it went by: `email`, `sms`, "
            "`webhook`, `webhook+email` or `log` (no provider, under console delivery)."
        )
    )
    trigger_event = serializers.CharField(help_text="The `event_id` of the event that caused it.")
    status = serializers.ChoiceField(
        choices=[s for s in Notification.Status.values if s != Notification.Status.NOT_MATCHED]
    )
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    suppression_reason = serializers.CharField(
        allow_null=True, help_text="Why it was suppressed, cancelled or failed; else null."
    )
    rules_version = serializers.IntegerField(
        help_text="The version of the notification rules that decided it (its sends follow it)."
    )


class AuditDecisionSerializer(serializers.Serializer):
    rule = serializers.CharField()
    notification_type = serializers.CharField()
    trigger_event = serializers.CharField(help_text="The `event_id` of the event evaluated.")
    status = serializers.ChoiceField(choices=Notification.Status.choices)
    reason = serializers.CharField(help_text="What an operator reads: the policy, the numbers.")
    created_at = serializers.DateTimeField()
    rules_version = serializers.IntegerField(
        help_text="The version of the notification rules this step was taken under."
    )


class UserAuditSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The user's primary key.")
    user_id = serializers.CharField(help_text="The external id (the primary key without one).")
    traits = serializers.DictField()
    recent_events = AuditEventSerializer(many=True)
    notification_history = AuditNotificationSerializer(
        many=True, help_text="Every notification decided, `not_matched` ones excepted."
    )
    decisions = AuditDecisionSerializer(many=True, help_text="Each step, with its reason.")
