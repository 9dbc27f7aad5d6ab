"""The alert stream: POST /event's deposits and withdraws, and nothing else.

They are stored in the default tenant under their own source. Every read of the stream (the
latest `t`, the alert rules' history) is scoped to it, so no other tenant and no other way in
(`/events`, `/events/bulk`, `/api/v1/events`) can move its latest `t` or feed its alerts, even
with events of the same types for the same user.

Each read asks about one event type at a time on `event_stream_type_time` (user, type, time,
id; partial on the stream): a backward scan that stops at its LIMIT, or a range over a window,
whatever the planner knows about the table. Without statistics the planner cannot tell that
index from the tenant's index of the stream's types (`event_tenant_source_type_time`), which
holds every user's transactions and is the smaller (one entry per time for all the users who
sent one then): read from there, a user's latest transaction is found after every other
user's since, and a user's last few after all of them. So each read orders by the stream
index's own order, time then id (STREAM_ORDER), which the tenant's index gives only with a
sort, and the transaction prices sorts out first (SORTS_PRICED_OUT): the one plan left
without a sort reads the user's own index.
"""

from django.db.models import Q

from events.models import TRANSACTION_SOURCE
from users.models import DEFAULT_TENANT

TRANSACTION_TYPES = ("deposit", "withdraw")

# The stream as SQL literals: PostgreSQL uses a partial index for a statement only when the
# index's condition can be proven from its text, which parameters of a generic plan cannot do.
STREAM_SQL = f"tenant_id = '{DEFAULT_TENANT}' AND source = '{TRANSACTION_SOURCE}'"
# The order of `event_stream_type_time` for one user and type, oldest first.
STREAM_ORDER = "occurred_at, id"
STREAM_ORDER_NEWEST = "occurred_at DESC, id DESC"


def stream_q() -> Q:
    """Return the ORM filter that keeps the stream's events."""
    return Q(tenant_id=DEFAULT_TENANT, source=TRANSACTION_SOURCE)
