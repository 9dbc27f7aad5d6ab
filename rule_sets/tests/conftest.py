"""Fixtures of the rule sets' tests: keys with and without the `rules` scope, a fake replay."""

import dataclasses

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from api_keys.services import api_key_create
from rule_sets.kinds import rule_set_kind, rule_set_kind_register
from rule_sets.models import KIND_ALERTS

# The default alert rules with the withdrawal threshold lowered from 100 to 50.
LOWER_THRESHOLD = settings.ALERT_RULES_PATH.read_text().replace("value: 100\n", "value: 50\n")


def _client(key: str | None = None) -> APIClient:
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def rules_client(db) -> APIClient:
    """A client whose key, named "risk-team", has the `rules` scope."""
    return _client(api_key_create(name="risk-team", scopes=["rules"]).plaintext)


@pytest.fixture
def unscoped_client(db) -> APIClient:
    """A client whose key has no scope: it acts on every tenant, and not on the rules."""
    return _client(api_key_create(name="partner").plaintext)


@pytest.fixture
def anonymous_client(db) -> APIClient:
    return _client()


class FakeReplay:
    """A replay that reports what a test tells it to, and what it was asked."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.error: Exception | None = None
        self.during = None  # called between its two progress reports

    def __call__(self, *, active, candidate, start, end, tally, progress) -> None:
        self.calls.append({"active": active, "candidate": candidate, "start": start, "end": end})
        tally.rule("1100")
        progress(1, 2)
        if self.during is not None:
            self.during()
        if self.error is not None:
            raise self.error
        tally.judged(
            rule="1100",
            event_id="txn:1:60",
            user_id=1,
            active=False,
            candidate=True,
            why=lambda: "amount 75 is greater than 50",
        )
        tally.events = 2
        progress(2, 2)


@pytest.fixture
def fake_replay():
    """The alerts kind with FakeReplay as its replay; the real kind is registered back after."""
    real = rule_set_kind(KIND_ALERTS)
    replay = FakeReplay()
    rule_set_kind_register(dataclasses.replace(real, replay=replay))
    yield replay
    rule_set_kind_register(real)


@pytest.fixture
def no_replay():
    """The alerts kind with no replay registered."""
    real = rule_set_kind(KIND_ALERTS)
    rule_set_kind_register(dataclasses.replace(real, replay=None))
    yield
    rule_set_kind_register(real)
