"""A key is found through its unique hash, whatever the planner knows about the table."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api_keys.selectors import api_key_authenticate, api_key_cache_clear
from api_keys.services import api_key_create
from midnite_test.tests.query_plans import plan_rows_touched_max


@pytest.mark.django_db
def test_a_key_lookup_reads_one_row_among_thousands_never_analyzed():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO api_keys_apikey (name, prefix, key_hash, created_at, tenants, scopes)"
            " SELECT 'key ' || n, substr(md5(n::text), 1, 8), md5(n::text) || md5(n::text),"
            " now(), '[]', '[]' FROM generate_series(1, 5000) AS n"
        )
    plaintext = api_key_create(name="the caller").plaintext
    api_key_cache_clear()

    with CaptureQueriesContext(connection) as captured:
        assert api_key_authenticate(plaintext=plaintext).name == "the caller"

    [lookup] = [query["sql"] for query in captured.captured_queries]
    assert plan_rows_touched_max(lookup) <= 1
