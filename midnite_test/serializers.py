"""Strict serializer building blocks shared by the API's input serializers."""

import re
from collections.abc import Mapping
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects fields it does not declare, alongside any other field error."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {name: ["Unknown field."] for name in data if name not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**exc.detail, **unknown})
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, floats or booleans."""

    default_error_messages = {"invalid": "A JSON integer is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
            {"type": "number", "multipleOf": 0.01},
        ],
        "example": "42.00",
    }
)
class MoneyField(serializers.Field):
    """A positive amount with at most two decimal places, as a decimal string or JSON number.

    Exponent notation, NaN, Infinity and booleans are rejected; the value is a Decimal.
    """

    default_error_messages = {
        "invalid": 'A decimal string such as "42.00" or a JSON number is required.',
        "positive": "Must be greater than 0.",
        "places": "At most 2 decimal places are allowed.",
        "max_value": "Must be at most {max_value}.",
    }

    def __init__(self, *, max_value: Decimal, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_value = max_value

    def to_internal_value(self, data) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("invalid")
        if isinstance(data, str) and not _PLAIN_DECIMAL.fullmatch(data):
            self.fail("invalid")
        amount = Decimal(data)
        if not amount.is_finite():
            self.fail("invalid")
        if amount <= 0:
            self.fail("positive")
        if amount.as_tuple().exponent < -2:
            self.fail("places")
        if amount > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return amount.quantize(Decimal("0.01"))

    def to_representation(self, value: Decimal) -> str:
        return str(value)


class ErrorSerializer(serializers.Serializer):
    """The API's one error shape (documentation only)."""

    error = serializers.CharField(help_text="Stable machine-readable code, e.g. unknown_user.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(help_text="Per-field problems or other context.")
