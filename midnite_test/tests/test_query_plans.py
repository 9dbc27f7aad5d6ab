import pytest
from django.db import connection

from midnite_test.tests.query_plans import plan_rows_touched_max


@pytest.fixture
def numbers(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE numbers (n integer PRIMARY KEY, parity integer)")
        cursor.execute("INSERT INTO numbers SELECT n, n % 2 FROM generate_series(1, 2000) AS n")


def test_a_filter_counts_every_row_it_read_not_only_those_it_kept(numbers):
    assert plan_rows_touched_max("SELECT * FROM numbers WHERE parity = 3") == 2000


def test_an_index_lookup_touches_only_what_it_finds(numbers):
    assert plan_rows_touched_max("SELECT * FROM numbers WHERE n = %s", [7]) == 1
