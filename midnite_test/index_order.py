"""Reads that must come in index order, whatever the planner guesses without statistics."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

# What `read_in_index_order` sets, for a statement sent in pipeline mode (alerts.pipeline):
# every sort priced out, the incremental sort too, to the end of the transaction.
SORTS_PRICED_OUT = (
    "SELECT set_config('enable_sort', 'off', true),"
    " set_config('enable_incremental_sort', 'off', true)"
)


@contextmanager
def read_in_index_order() -> Iterator[None]:
    """Run the queries inside with PostgreSQL's explicit sorts priced out (`enable_sort`).

    Each list is `ORDER BY <time> DESC, id DESC LIMIT n` on an index that starts with the
    user: read backwards, it stops after about n rows. Without statistics (a database never
    analyzed) the planner guesses a user has a few dozen rows and prefers reading them all
    and sorting them, which for a user with 100,000 events reads 100,000 rows. Priced out of
    sorts, it reads the index in order (an incremental sort at most breaks ties).
    The setting is this transaction's and is put back as it was when the block ends.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('enable_sort'), set_config('enable_sort', 'off', true)"
        )
        previous, _ = cursor.fetchone()
        yield
        cursor.execute("SELECT set_config('enable_sort', %s, true)", [previous])
