"""Input and output shapes of the rule sets' API."""

from rest_framework import serializers

from events.serializers import TimeRangeQueryMixin, TimestampField
from midnite_test.serializers import StrictCharField, StrictSerializer
from rule_sets.models import RuleSetBacktest, RuleSetVersion

# A version's YAML text: the default files are a few KiB.
SOURCE_MAX_CHARS = 200_000


class RuleSetVersionCreateSerializer(StrictSerializer):
    """A new draft version of a kind's rules: their YAML source."""

    source = StrictCharField(
        max_length=SOURCE_MAX_CHARS,
        trim_whitespace=False,
        help_text="The rules as YAML, in the kind's file format (config/*.yml).",
    )
    note = StrictCharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=RuleSetVersion._meta.get_field("note").max_length,
        help_text="Why this version: shown in the change log.",
    )


class RuleSetVersionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    version = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RuleSetVersion.Status.choices)
    note = serializers.CharField()
    sha256 = serializers.CharField(help_text="Of `source`, in hex.")
    created_by = serializers.CharField(
        help_text="The API key's name, the staff user's username, or \"anonymous\"."
    )
    created_at = TimestampField()
    activated_at = TimestampField(
        allow_null=True, help_text="When it was last made active; null if never."
    )


class RuleSetVersionDetailSerializer(RuleSetVersionSerializer):
    source = serializers.CharField()
    diff = serializers.CharField(
        help_text="Unified diff from the active version to this one; empty for the active one."
    )

    def to_representation(self, detail):
        version = detail.version
        return {
            **RuleSetVersionSerializer(version).data,
            "source": version.source,
            "diff": detail.diff,
        }


class ActivationSerializer(serializers.Serializer):
    activated_by = serializers.CharField()
    activated_at = TimestampField()
    replaced = serializers.IntegerField(
        allow_null=True, help_text="The version it replaced; null for the first."
    )
    diff = serializers.CharField(help_text="Unified diff from the replaced version to this one.")


class RuleSetVersionHistorySerializer(RuleSetVersionSerializer):
    activations = ActivationSerializer(
        many=True, help_text="Each time it was made active, newest first."
    )

    def to_representation(self, history):
        return {
            **RuleSetVersionSerializer(history.version).data,
            "activations": ActivationSerializer(history.activations, many=True).data,
        }


class RuleSetHistoryQuerySerializer(StrictSerializer):
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=1000, default=100)
    cursor = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="From a page's `next` link.",
        # As GET /events and /metrics name a cursor they did not make, not "A valid integer".
        error_messages=dict.fromkeys(
            ("invalid", "min_value", "max_string_length"), "Invalid cursor."
        ),
    )


class RuleSetHistorySerializer(serializers.Serializer):
    kind = serializers.CharField()
    versions = RuleSetVersionHistorySerializer(many=True, help_text="Newest first.")
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last.")


class RuleSetActivateSerializer(StrictSerializer):
    """No fields: an empty body, or none."""


class BacktestCreateSerializer(TimeRangeQueryMixin, StrictSerializer):
    """`from` and `to`: by default the 7 days before now."""


class BacktestRuleSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text='An alert code ("1100") or a notification_type.')
    active = serializers.IntegerField(help_text="Events the active version matches.")
    candidate = serializers.IntegerField(help_text="Events the candidate matches.")
    added = serializers.IntegerField(help_text="Matched by the candidate only.")
    removed = serializers.IntegerField(help_text="Matched by the active version only.")
    users = serializers.IntegerField(help_text="Distinct users whose outcome changes.")
    outcomes = serializers.DictField(
        required=False,
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text=(
            'Notifications only: per version ("active", "candidate"), the outcomes after '
            'limits: "sent" and each suppression reason, with their counts.'
        ),
    )


class BacktestSampleSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    user_id = serializers.IntegerField()
    rule = serializers.CharField()
    change = serializers.ChoiceField(choices=["added", "removed"])
    why = serializers.CharField(help_text="The explanation of the version that matched.")


class BacktestResultSerializer(serializers.Serializer):
    events = serializers.IntegerField(help_text="Events replayed.")
    rules = BacktestRuleSerializer(many=True)
    samples = BacktestSampleSerializer(many=True, help_text="Up to 50 changed judgements.")


class BacktestSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField(source="candidate.kind")
    candidate = serializers.IntegerField(source="candidate.version")
    baseline = serializers.IntegerField(
        source="baseline.version", help_text="The version active when the backtest was made."
    )
    status = serializers.ChoiceField(choices=RuleSetBacktest.Status.choices)
    started = serializers.BooleanField(
        help_text=(
            "Whether a worker has taken it. False while `running` waits for one: if it stays "
            "so, no worker runs (`/healthz/status`, `worker_heartbeat`)."
        )
    )
    progress = serializers.FloatField(help_text="0 to 1: the share of the window's events done.")
    events = serializers.IntegerField(help_text="Events replayed so far.")
    result = BacktestResultSerializer(allow_null=True, help_text="Once `done`.")
    error = serializers.CharField(help_text="Why it `failed`; empty otherwise.")
    created_by = serializers.CharField()
    created_at = TimestampField()
    finished_at = TimestampField(allow_null=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = TimestampField(source="window_start", help_text="Inclusive.")
        fields["to"] = TimestampField(source="window_end", help_text="Exclusive.")
        return fields
