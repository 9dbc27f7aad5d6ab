"""POST /event's input validation: the fast check agrees with TransactionInputSerializer."""

from decimal import Decimal

import pytest
from rest_framework.exceptions import ValidationError

from alerts.serializers import TransactionInputSerializer, transaction_input_validate

VALID = {"type": "deposit", "amount": "42.00", "user_id": 1, "t": 10}
BODIES = [
    VALID,
    {**VALID, "type": "withdraw", "amount": Decimal("0.5"), "t": 0},
    {**VALID, "amount": 7},
    {**VALID, "amount": "1000000000000.00", "user_id": 2**63 - 1, "t": 10413791999},
    {**VALID, "type": "refund"},
    {**VALID, "type": ["deposit"]},
    {**VALID, "amount": "0"},
    {**VALID, "amount": "1.005"},
    {**VALID, "amount": "1e3"},
    {**VALID, "amount": True},
    {**VALID, "amount": "1000000000000.01"},
    {**VALID, "user_id": True},
    {**VALID, "user_id": 0},
    {**VALID, "user_id": "1"},
    {**VALID, "user_id": 2**63},
    {**VALID, "t": -1},
    {**VALID, "t": 10413792000},
    {**VALID, "t": 1.0},
    {**VALID, "t": None},
    {**VALID, "extra": 1},
    {key: value for key, value in VALID.items() if key != "t"},
    [VALID],
    "deposit",
]


def serializer_answer(body):
    serializer = TransactionInputSerializer(data=body)
    if serializer.is_valid():
        return "valid", dict(serializer.validated_data)
    return "invalid", serializer.errors


def fast_answer(body):
    try:
        return "valid", dict(transaction_input_validate(body))
    except ValidationError as exc:
        return "invalid", exc.detail


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_fast_check_answers_as_the_serializer_does(body):
    assert fast_answer(body) == serializer_answer(body)


def test_a_valid_amount_is_a_decimal_in_cents():
    assert transaction_input_validate({**VALID, "amount": 7})["amount"] == Decimal("7.00")
