"""Input and output shapes of the events API."""

from decimal import Decimal

from rest_framework import serializers

from events.services import TRANSACTION_TYPES
from midnite_test.serializers import MoneyField, StrictIntegerField, StrictSerializer

MAX_TRANSACTION_AMOUNT = Decimal(10) ** 12
MAX_ID = 2**63 - 1
# 9999-12-31T23:59:59Z, the last second a datetime can hold.
MAX_TIMESTAMP = 253402300799


class TransactionInputSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=TRANSACTION_TYPES)
    amount = MoneyField(max_value=MAX_TRANSACTION_AMOUNT)
    user_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    t = StrictIntegerField(
        min_value=0, max_value=MAX_TIMESTAMP, help_text="Whole seconds since the epoch."
    )


class TransactionOutputSerializer(serializers.Serializer):
    alert = serializers.BooleanField(help_text="True exactly when alert_codes is not empty.")
    alert_codes = serializers.ListField(child=serializers.IntegerField())
    user_id = serializers.IntegerField()


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()


class BacklogSerializer(serializers.Serializer):
    consumer = serializers.CharField()
    unshipped = serializers.IntegerField()
    oldest_age_seconds = serializers.FloatField(allow_null=True)
    dead_lettered = serializers.IntegerField()


class ReadinessSerializer(serializers.Serializer):
    status = serializers.CharField()
    checks = serializers.DictField(
        child=serializers.CharField(), help_text='"ok" or "failed: <why>", per dependency.'
    )
    failed = serializers.ListField(child=serializers.CharField())
    outbox = BacklogSerializer(many=True)


class UserRegisterInputSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, allow_blank=True)
    last_name = serializers.CharField(max_length=150, allow_blank=True)


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    created_at = serializers.DateTimeField()
