"""A key is looked up in the database once per API_KEY_CACHE_SECONDS per process."""

import time

from django.utils import timezone

from api_keys.models import ApiKey
from api_keys.selectors import api_key_authenticate
from api_keys.services import api_key_revoke


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
