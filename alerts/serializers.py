"""Input and output shapes of POST /event."""

from typing import Any

from rest_framework import serializers

from alerts.services import TransactionOutcome
from alerts.stream import TRANSACTION_TYPES
from events.serializers import MAX_ID, MAX_TRANSACTION_AMOUNT
from events.validation import LATEST_TIME
from midnite_test.serializers import MoneyField, StrictIntegerField, StrictSerializer, money_parse

# 2299-12-31T23:59:59Z, the last second ClickHouse's event log can hold.
MAX_TIMESTAMP = int(LATEST_TIME.timestamp())


class TransactionInputSerializer(StrictSerializer):
    """POST /event: a deposit or a withdrawal, answered with its alert codes."""

    type = serializers.ChoiceField(choices=TRANSACTION_TYPES)
    amount = MoneyField(max_value=MAX_TRANSACTION_AMOUNT)
    user_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    t = StrictIntegerField(
        min_value=0, max_value=MAX_TIMESTAMP, help_text="Whole seconds since the epoch."
    )


_TRANSACTION_KEYS = frozenset({"type", "amount", "user_id", "t"})


def transaction_input_validate(data: Any) -> dict[str, Any]:
    """Return POST /event's validated body, or raise ValidationError naming each bad field.

    A plainly valid body is checked by `transaction_input_plain`, with the serializer's rules,
    without instantiating the serializer: copying its fields costs more than the rest of the
    request's Python. Anything else goes through TransactionInputSerializer, so every error is
    the serializer's.
    """
    plain = transaction_input_plain(data)
    if plain is not None:
        return plain
    serializer = TransactionInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def transaction_input_plain(data: Any) -> dict[str, Any] | None:
    """Return POST /event's body validated, when it is plainly valid; else None.

    None does not mean invalid: TransactionInputSerializer decides those bodies.
    """
    if type(data) is not dict or data.keys() != _TRANSACTION_KEYS:
        return None
    event_type, user_id, t = data["type"], data["user_id"], data["t"]
    if not (
        isinstance(event_type, str)
        and event_type in TRANSACTION_TYPES
        and type(user_id) is int
        and 1 <= user_id <= MAX_ID
        and type(t) is int
        and 0 <= t <= MAX_TIMESTAMP
    ):
        return None
    try:
        amount = money_parse(data["amount"], max_value=MAX_TRANSACTION_AMOUNT)
    except ValueError:
        return None
    return {"type": event_type, "amount": amount, "user_id": user_id, "t": t}


def transaction_answer(outcome: TransactionOutcome) -> dict[str, Any]:
    """Return TransactionOutputSerializer's shape, built directly: every value is plain already.

    The one answer of POST /event, whichever path serves it (EventCreateView, alerts.fast_path).
    """
    codes = list(outcome.alert_codes)
    return {"alert": bool(codes), "alert_codes": codes, "user_id": outcome.user_id}


class TransactionOutputSerializer(serializers.Serializer):
    alert = serializers.BooleanField(help_text="True exactly when alert_codes is not empty.")
    alert_codes = serializers.ListField(child=serializers.IntegerField())
    user_id = serializers.IntegerField()
