"""A key is looked up in the database once per API_KEY_CACHE_SECONDS per process."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from api_keys.checks import key_cache_period_check
from api_keys.models import ApiKey
from api_keys.selectors import api_key_authenticate
from api_keys.services import api_key_revoke

ROOT = Path(__file__).resolve().parents[2]
# API_KEY_CACHE_SECONDS's default, which other_process runs with: README and revoke_api_key say
# a revoked key is refused within it (REVOCATION_WINDOW_SECONDS bounds what may be configured).
DEFAULT_KEY_CACHE_SECONDS = 1.0


def _register_nobody(client):
    return client.post("/users", {}, format="json")


def test_a_key_seen_recently_costs_no_query(issue, django_assert_num_queries):
    issued = issue()
    api_key_authenticate(plaintext=issued.plaintext)

    with django_assert_num_queries(0):
        key = api_key_authenticate(plaintext=issued.plaintext)

    assert key == issued.api_key


def test_an_unknown_key_seen_recently_costs_no_query(db, django_assert_num_queries):
    api_key_authenticate(plaintext="mk_000000000000_unknown")

    with django_assert_num_queries(0):
        assert api_key_authenticate(plaintext="mk_000000000000_unknown") is None


def test_a_key_revoked_by_another_process_works_until_the_cache_period_ends(
    issue, client_for, settings
):
    settings.API_KEY_CACHE_SECONDS = 0.5
    issued = issue()
    client = client_for(issued.plaintext)
    cached_at = time.monotonic()
    assert _register_nobody(client).status_code == 400
    # What `revoke_api_key` run elsewhere leaves behind: the row, not this process's cache.
    ApiKey.objects.filter(pk=issued.api_key.pk).update(revoked_at=timezone.now())

    still = _register_nobody(client)
    later = _register_nobody(client)
    while later.status_code != 401 and time.monotonic() - cached_at < 5:
        later = _register_nobody(client)

    assert still.status_code == 400
    assert later.status_code == 401
    assert later.json()["error"] == "invalid_api_key"
    assert time.monotonic() - cached_at >= 0.5, "refused before the cache period ended"


def test_a_key_revoked_in_this_process_stops_working_at_once(issue, client_for):
    issued = issue()
    client = client_for(issued.plaintext)
    assert _register_nobody(client).status_code == 400

    api_key_revoke(prefix_or_name=issued.api_key.name)

    assert _register_nobody(client).status_code == 401


@pytest.fixture
def other_process(settings):
    """Start another web process's key cache on `plaintext`, with or without Redis configured.

    It reads the settings from the environment as a deployment does, with
    API_KEY_CACHE_SECONDS at its default. Returns a function asking it whether it accepts the
    key now.
    """
    started = []

    def start(plaintext: str, *, cache_url: str):
        database = connection.settings_dict
        url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        url += database["NAME"]
        if connection.vendor == "sqlite":
            url = f"sqlite:///{database['NAME']}"
        env = {**os.environ, "DATABASE_URL": url, "CACHE_URL": cache_url}
        env.pop("API_KEY_CACHE_SECONDS", None)
        child = subprocess.Popen(
            [sys.executable, "-m", "api_keys.tests.key_child", plaintext],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(child)

        def answer() -> str:
            child.stdin.write("\n")
            child.stdin.flush()
            return child.stdout.readline().strip()

        return answer

    yield start
    for child in started:
        child.stdin.close()
        child.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("with_redis", [False, True], ids=["without-redis", "with-redis"])
def test_every_process_refuses_a_revoked_key_within_its_default_cache_period(
    issue, other_process, settings, with_redis
):
    issued = issue()
    lookup = other_process(
        issued.plaintext, cache_url=settings.CELERY_BROKER_URL if with_redis else ""
    )
    assert lookup() == "ACCEPTED"  # and kept in that process's cache

    api_key_revoke(prefix_or_name=issued.api_key.name)
    deadline = time.monotonic() + DEFAULT_KEY_CACHE_SECONDS

    # Asked again and again until refused: an answer asked for after the window is a failure.
    while True:
        asked_at = time.monotonic()
        if lookup() == "REFUSED":
            break
        assert asked_at < deadline, "the other process still accepts the key after the window"


@pytest.mark.parametrize("period", [2.5, 30, -1])
def test_a_cache_period_longer_than_the_revocation_window_fails_the_system_check(settings, period):
    settings.API_KEY_CACHE_SECONDS = period

    [error] = key_cache_period_check(None)

    assert error.id == "api_keys.E002"


@pytest.mark.parametrize("period", [0, 1, 2])
def test_a_cache_period_within_the_revocation_window_passes_the_system_check(settings, period):
    settings.API_KEY_CACHE_SECONDS = period

    assert key_cache_period_check(None) == []
