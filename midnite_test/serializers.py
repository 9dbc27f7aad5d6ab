"""Strict serializer building blocks shared by the API's input serializers."""

import re
from collections.abc import Mapping
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from midnite_test.errors import InvalidQuery
from midnite_test.text import controls_refuse

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


class StrictCharField(serializers.CharField):
    """A JSON string: a number or a boolean is refused, not stored as its text."""

    default_error_messages = {"not_a_string": "A string is required."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class PlainCharField(StrictCharField):
    """A JSON string with no control character (midnite_test.text): an identifier, a name."""

    def to_internal_value(self, data):
        try:
            return controls_refuse(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class StrictEmailField(StrictCharField, serializers.EmailField):
    """An email address given as a JSON string."""


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

    def __init__(self, *, max_value: Decimal, **kwargs) -> None:
        super().__init__(**kwargs)
        self.max_value = max_value

    def to_internal_value(self, data) -> Decimal:
        try:
            return money_parse(data, max_value=self.max_value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from None

    def to_representation(self, value: Decimal) -> str:
        return str(value)


def money_parse(value, *, max_value: Decimal) -> Decimal:
    """Return `value` (a decimal string or JSON number) as a positive amount in cents.

    Raises ValueError with the message to show: exponent notation, NaN, Infinity, booleans,
    more than two decimal places and amounts over `max_value` are refused.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise ValueError('A decimal string such as "42.00" or a JSON number is required.')
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value):
        raise ValueError('A decimal string such as "42.00" or a JSON number is required.')
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError('A decimal string such as "42.00" or a JSON number is required.')
    if amount <= 0:
        raise ValueError("Must be greater than 0.")
    if amount.as_tuple().exponent < -2:
        raise ValueError("At most 2 decimal places are allowed.")
    if amount > max_value:
        raise ValueError(f"Must be at most {max_value}.")
    return amount.quantize(Decimal("0.01"))


class ErrorSerializer(serializers.Serializer):
    """The API's one error shape (documentation only)."""

    error = serializers.CharField(help_text="Stable machine-readable code, e.g. unknown_user.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(help_text="Per-field problems or other context.")


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()


class BacklogSerializer(serializers.Serializer):
    consumer = serializers.CharField()
    unshipped = serializers.IntegerField(
        help_text=(
            "Entries not handled yet. Each stream's are counted up to a cap (10,000), so that "
            "the status stays cheap whatever the backlog."
        )
    )
    unshipped_at_least = serializers.BooleanField(
        help_text="True when a stream's count stopped at its cap: `unshipped` is a lower bound."
    )
    oldest_age_seconds = serializers.FloatField(allow_null=True)
    dead_lettered = serializers.IntegerField()


class HorizonHolderSerializer(serializers.Serializer):
    pid = serializers.IntegerField(help_text="The PostgreSQL backend's process id.")
    transaction_age_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Null when the database role may not see it (grant it pg_read_all_stats).",
    )
    state = serializers.CharField(
        allow_null=True,
        help_text=(
            "pg_stat_activity's state, such as `idle in transaction`; null when the database "
            "role may not see it."
        ),
    )


class ReadinessSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`ok`, or `unavailable` (503).")
    checks = serializers.DictField(
        child=serializers.CharField(), help_text='`{"database": "ok"}` or `"failed"`.'
    )
    failed = serializers.ListField(child=serializers.CharField())


class WorkerHeartbeatSerializer(serializers.Serializer):
    checked_at = serializers.DateTimeField()
    age_seconds = serializers.FloatField(help_text="How long ago the worker last reported.")
    clickhouse_ok = serializers.BooleanField(help_text="Whether ClickHouse answered it.")


class CursorAheadSerializer(serializers.Serializer):
    consumer = serializers.CharField()
    cursor_xid = serializers.IntegerField()
    server_next_xid = serializers.IntegerField()


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`ok`, or `degraded` when a dependency failed.")
    checks = serializers.DictField(
        child=serializers.CharField(), help_text='`"ok"` or `"failed: <why>"`, per dependency.'
    )
    failed = serializers.ListField(child=serializers.CharField())
    outbox = BacklogSerializer(many=True)
    outbox_horizon_holder = HorizonHolderSerializer(
        allow_null=True,
        help_text=(
            "The session of this database with the oldest open transaction that has written: "
            "the outbox ships nothing it or later transactions wrote until it ends. Null when "
            "there is none. Transactions of other databases never hold the outbox back."
        ),
    )
    outbox_cursors_ahead = CursorAheadSerializer(
        many=True,
        help_text=(
            "Consumers whose claims have stopped: their cursor is ahead of the server's "
            "transaction ids after a restore or a move to another cluster. Empty when all is "
            "well; `manage.py outbox rebase-cursor` resumes them."
        ),
    )
    worker_heartbeat = WorkerHeartbeatSerializer(
        allow_null=True,
        help_text=(
            "The worker's last report (every 5 s and at its start); null when no worker ever "
            "reported. A growing age says the worker is down or stuck."
        ),
    )


def query_parse(serializer_class, request: Request) -> dict:
    """Return the request's query parameters validated by `serializer_class`.

    Raises InvalidQuery, naming each bad parameter in its details; a parameter sent twice is
    one (which value would count is a guess).
    """
    repeated = {
        name: [f"Sent {len(values)} times; send it once."]
        for name, values in request.query_params.lists()
        if len(values) > 1
    }
    if repeated:
        raise InvalidQuery("A query parameter is repeated; see details.", details=repeated)
    serializer = serializer_class(data=request.query_params.dict())
    if not serializer.is_valid():
        raise InvalidQuery(
            "The query parameters are invalid; see details.", details=serializer.errors
        )
    return serializer.validated_data


class NoQuerySerializer(StrictSerializer):
    """The query string of an endpoint that takes no parameters, a write or a GET: one sent
    (`?dry_run=1`, a backtest's `from` in the URL instead of the body, a misspelt filter on a
    GET) is refused, not ignored. Only the health probes take any query string."""
