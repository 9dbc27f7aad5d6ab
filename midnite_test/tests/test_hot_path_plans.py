"""The hot paths' statements read a bounded number of rows on a never-analyzed database.

A fresh deployment serves before its first ANALYZE (autovacuum off here): the planner then
knows the table's size but nothing of its contents, and a statement whose good plan depends
on an estimate may read a user's whole history, or every user's. One user gets 100,000 events
(`history`; `POST /event` also meets 50 users' 100,000 transactions, `crowd`); each test runs
the real code (a view, the fast path, a consumer), records every statement it sent, and runs
each again under EXPLAIN ANALYZE: no plan node may touch more than MAX_ROWS_TOUCHED rows.
"""

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from psycopg import sql

from alerts.fast_path import transaction_fast_path
from alerts.tests.wsgi_client import wsgi_post
from console.overview import overview_alerts, overview_notifications
from events.selectors import EventFilters, events_page
from events.history import UserEventHistory
from events.log import EVENT_LOG, PRODUCT_EVENT_LOG
from events.models import Event
from metrics.consumer import metric_buckets_add
from metrics.selectors import metrics_list
from midnite_test.index_order import read_in_index_order
from midnite_test.tests.query_plans import PlanNode, plan_nodes_planned, plan_nodes_run
from notifications.evaluation import notification_events_evaluate, notification_messages_handle
from notifications.models import Notification
from notifications.selectors import user_audit
from notifications.sending import _due_claim
from outbox.batches import batch_take
from outbox.contracts import CONSUMER_METRICS, CONSUMER_NOTIFICATIONS, TableLog
from outbox.logs import log_rows
from outbox.models import OutboxCursor, OutboxMessage
from outbox.selectors import outbox_processed_until
from rules.history import EventFilter
from users.models import User
from users.selectors import users_find

HISTORY = 100_000
# What one request or one consumer batch here needs: a few LIMIT rows, a 30 s window, a day
# of one rare type, the request's own events. A whole history is a thousand times more.
MAX_ROWS_TOUCHED = 100
SEEDED_FROM = datetime(2026, 1, 1, tzinfo=UTC)
# After the seeded history (one event a minute for 100,000 minutes: 70 days).
NOW_T = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())

# One event a minute, in turn: a deposit and a withdraw of POST /event's stream, a web click
# with an amount, and a product event (mostly page views; a signup, a bank link and a failed
# payment every 200 minutes).
_SEED = """
    INSERT INTO events_event
        (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, received_at)
    SELECT
        'default',
        'seed-' || i,
        1,
        CASE i %% 4
            WHEN 0 THEN 'deposit' WHEN 1 THEN 'withdraw' WHEN 2 THEN 'click'
            ELSE CASE (i / 4) %% 50
                WHEN 0 THEN 'signup_completed' WHEN 1 THEN 'link_bank_success'
                WHEN 2 THEN 'payment_failed' ELSE 'page_view' END
        END,
        CASE i %% 4 WHEN 0 THEN 'transactions' WHEN 1 THEN 'transactions' WHEN 2 THEN 'web'
            ELSE 'product' END,
        %s::timestamptz + i * interval '1 minute',
        CASE WHEN i %% 4 < 3 THEN 10 + i %% 7 END,
        '{}',
        '{}',
        now()
    FROM generate_series(0, %s - 1) AS i
"""


@pytest.fixture
def history(users):
    """User 1 (external id "u_1") with HISTORY events, on tables never analyzed."""
    User.objects.filter(pk=1).update(external_id="u_1", traits={"marketing_opt_in": True})
    with connection.cursor() as cursor:
        cursor.execute(_SEED, [SEEDED_FROM, HISTORY])
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'events_event'")
        assert cursor.fetchone() == (0,), "events_event has statistics: the test means none"


# Many users' transactions interleaved, as a service sees them: users 2 to CROWD_USERS each
# with one a minute, all at the same second, from CROWD_FROM to well after NOW_T (a clock
# ahead of user 1's). User 1 sent a deposit and a withdraw at the start and nothing since. The
# tenant's index of the stream keeps one entry per time for all users (deduplicated), so it
# is far smaller than the per-user index: the one a planner without statistics prefers, and
# read from the newest time it reaches user 1 only at the start.
CROWD_USERS = 50
CROWD_FROM = datetime.fromtimestamp(NOW_T, UTC) - timedelta(minutes=HISTORY // CROWD_USERS // 2)
_CROWD_SEED = """
    INSERT INTO events_event
        (tenant_id, event_id, user_id, event_type, source, occurred_at, amount, properties,
         user_traits, received_at)
    SELECT 'default', 'crowd-' || i, CASE WHEN i < 2 THEN 1 ELSE 2 + i %% (%s - 1) END,
        CASE WHEN i < 2 THEN (ARRAY['deposit', 'withdraw'])[i + 1]
            WHEN i / %s %% 2 = 0 THEN 'deposit' ELSE 'withdraw' END,
        'transactions', %s::timestamptz + i / %s * interval '1 minute', 10 + i %% 7, '{}', '{}',
        now()
    FROM generate_series(0, %s - 1) AS i
"""


@pytest.fixture
def crowd(users):
    """CROWD_USERS users sharing HISTORY transactions, on tables never analyzed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_user (id, first_name, last_name, email, traits, created_at,"
            " updated_at) SELECT n, '', '', '', '{}', now(), now()"
            " FROM generate_series(%s::bigint, %s) AS n",
            [len(users) + 1, CROWD_USERS],
        )
        # The table as a deployment has it before its first VACUUM or ANALYZE: files that only
        # grew (not what earlier tests left in them, rolled back, never vacuumed), and indexes
        # recorded as empty, as the migrations created them (TRUNCATE records them unknown).
        # The planner goes by both. Undone with the test's transaction.
        cursor.execute("TRUNCATE events_event CASCADE")
        cursor.execute(
            "UPDATE pg_class SET reltuples = 0, relpages = 0 WHERE oid IN"
            " (SELECT indexrelid FROM pg_index WHERE indrelid = 'events_event'::regclass)"
        )
        cursor.execute(_CROWD_SEED, [CROWD_USERS, CROWD_USERS, CROWD_FROM, CROWD_USERS, HISTORY])


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple


def _statements_of(run: Callable[[], object]) -> list[Statement]:
    """Return the data statements `run` sends, as sent (with their parameters)."""
    sent: list[Statement] = []

    def record(execute, sql, params, many, context):
        if _reads(sql):
            sent.append(Statement(sql, tuple(params or ())))
        return execute(sql, params, many, context)

    # Capturing makes `alerts.pipeline` send through Django's cursors, which the wrapper sees.
    with CaptureQueriesContext(connection), connection.execute_wrapper(record):
        run()
    assert sent, "the code sent no statement: the test follows nothing"
    return sent


def _reads(sql: str) -> bool:
    """Whether `sql` reads the tables: not a transaction's bracket nor an insert of the rows it
    is given (VALUES, or bulk_create's UNNEST), which, run again, would only fail on them."""
    verb = sql.lstrip().split(None, 1)[0].upper()
    if verb == "INSERT":
        return "SELECT" in sql.upper() and not _GIVEN_ROWS.search(sql)
    return verb in ("SELECT", "WITH", "UPDATE", "DELETE")


_GIVEN_ROWS = re.compile(r"SELECT \* FROM UNNEST\(", re.IGNORECASE)


def _widest(statement: Statement) -> PlanNode:
    """Run `statement` again under EXPLAIN ANALYZE, undone, and return its widest node."""
    try:
        with transaction.atomic():
            nodes = plan_nodes_run(statement.sql, statement.params)
            raise _Undo
    except _Undo:
        pass
    return max(nodes, key=lambda node: node.rows_touched)


def _widest_generic(statement: Statement) -> PlanNode:
    """As `_widest`, under the generic plan of `statement` prepared.

    psycopg prepares a statement once it has run DATABASE_PREPARE_THRESHOLD times on a
    connection; PostgreSQL may then plan it once for any parameters, blind to their values.
    """
    # A name of its own each time: psycopg prepares a text it sees again, PREPARE included,
    # and deallocates every statement when a savepoint is rolled back, so it is done inside.
    name = f"hot_path_{next(_PREPARED)}"
    types = ", ".join(_sql_type(param) for param in statement.params)
    literals = ", ".join(_literal(param) for param in statement.params)
    prepare, execute = (f"{name} ({types})", f"{name} ({literals})") if types else (name, name)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"PREPARE {prepare} AS {_numbered(statement.sql)}")
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            nodes = plan_nodes_run(f"EXECUTE {execute}")
            cursor.execute(f"DEALLOCATE {name}")
            raise _Undo
    except _Undo:
        pass
    return max(nodes, key=lambda node: node.rows_touched)


_PREPARED = itertools.count()


# In isinstance order: a bool is an int, a TextChoices member a str.
_SQL_TYPES = ((bool, "boolean"), (int, "bigint"), (str, "text"), (Decimal, "numeric"))


def _sql_type(param: object) -> str:
    if isinstance(param, (list, tuple)):
        known = [item for item in param if item is not None]
        return (_sql_type(known[0]) if known else "text") + "[]"
    if isinstance(param, datetime):
        return "timestamptz"
    return next((name for kind, name in _SQL_TYPES if isinstance(param, kind)), "text")


def _literal(param: object) -> str:
    """`param` as an SQL literal: EXECUTE under EXPLAIN takes no bound parameters."""
    return sql.Literal(list(param) if isinstance(param, tuple) else param).as_string(
        connection.connection
    )


def _numbered(text: str) -> str:
    """Return `text` with psycopg's placeholders (%s, %b) as PostgreSQL's ($1, $2, ...)."""
    numbers = itertools.count(1)
    return re.sub(r"%[sb%]", lambda m: "%" if m[0] == "%%" else f"${next(numbers)}", text)


class _Undo(Exception):
    """Rolls back the savepoint an explained write ran in."""


def _assert_bounded(statements: list[Statement]) -> None:
    """Assert that no plan node of `statements`, custom or generic, touches too many rows."""
    unbounded = [
        (widest, statement.sql)
        for statement in statements
        for explain in (_widest, _widest_generic)
        if (widest := explain(statement)).rows_touched > MAX_ROWS_TOUCHED
    ]
    assert unbounded == []


def _transaction(t: int, type_: str = "deposit") -> dict:
    return {"type": type_, "amount": "10.00", "user_id": 1, "t": t}


# One user's long history, and many users' transactions (where the tenant's index competes).
SEEDED = ["history", "crowd"]


@pytest.mark.parametrize("seeded", SEEDED)
def test_post_event_through_django(seeded, request, api_client):
    request.getfixturevalue(seeded)

    def post():
        for t, type_ in ((NOW_T, "withdraw"), (NOW_T + 1, "deposit"), (NOW_T + 1, "deposit")):
            response = api_client.post("/event", _transaction(t, type_), format="json")
            assert response.status_code == 200, response.json()

    _assert_bounded(_statements_of(post))


def test_post_event_out_of_order_and_conflicting(history, api_client):
    assert api_client.post("/event", _transaction(NOW_T), format="json").status_code == 200

    def post():
        assert api_client.post("/event", _transaction(NOW_T - 1), format="json").status_code == 400
        conflict = {**_transaction(NOW_T), "amount": "11.00"}
        assert api_client.post("/event", conflict, format="json").status_code == 409

    _assert_bounded(_statements_of(post))


def _not_django(environ, start_response):
    raise AssertionError("the fast path handed the request to Django")


@pytest.fixture
def fast_path(settings):
    """The fast path in front of nothing: each request must be its own to answer."""
    settings.API_THROTTLE_RATE = None
    # Its signals would close the test's connection, inside the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield transaction_fast_path(_not_django)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("seeded", SEEDED)
def test_post_event_through_the_fast_path(seeded, request, api_key, fast_path):
    request.getfixturevalue(seeded)
    app = fast_path

    def post():
        for t in (NOW_T, NOW_T + 1, NOW_T + 1):
            status, _, content = wsgi_post(app, _transaction(t), key=api_key)
            assert status == 200, content

    _assert_bounded(_statements_of(post))


def _event(n: int, **changes) -> dict:
    return {
        "event_id": f"evt_{n}",
        "tenant_id": "default",
        "source": "web",
        "event_type": "click",
        "timestamp": "2026-06-01T00:00:00Z",
        "user_id": 1,
        "amount": "3.00",
        **changes,
    }


def test_post_events_and_bulk_new_and_again(history, api_client):
    def post():
        for _ in range(2):
            assert api_client.post("/events", _event(0), format="json").status_code in (200, 201)
            bulk = {"events": [_event(n) for n in range(1, 11)]}
            assert api_client.post("/events/bulk", bulk, format="json").status_code == 200

    _assert_bounded(_statements_of(post))


def _product_items() -> list[dict]:
    """User 1's signup, bank link and failed payments, and a new user's bank link."""
    return [
        {
            "user_id": user,
            "event_type": event_type,
            "event_timestamp": f"2026-03-11T12:00:{n:02d}Z",
            "properties": {"failure_reason": "INSUFFICIENT_FUNDS", "attempt_number": n},
            "user_traits": {"plan": "pro"},
        }
        for n, (user, event_type) in enumerate(
            [
                ("u_1", "signup_completed"),
                ("u_1", "link_bank_success"),
                ("u_1", "payment_failed"),
                ("u_1", "payment_failed"),
                ("u_2", "link_bank_success"),
            ]
        )
    ]


@pytest.mark.parametrize("seeded", SEEDED)
@pytest.mark.parametrize("tenants", [None, frozenset({"default"})])
def test_a_user_s_events_listed_with_or_without_a_tenant(seeded, tenants, request, db):
    """GET /events?user_id=1, by a key of every tenant or of one (its tenants a filter).

    A page is read with sorts priced out (`read_in_index_order`), so it is run again so too."""
    request.getfixturevalue(seeded)
    filters = EventFilters(tenant_ids=tenants, user_id=1)

    statements = _statements_of(lambda: events_page(filters=filters, **_PAGE))

    with read_in_index_order():
        _assert_bounded(statements)


def test_product_events_new_and_again(history, api_client):
    def post():
        for _ in range(2):
            response = api_client.post("/api/v1/events", _product_items(), format="json")
            assert response.status_code == 202, response.json()

    _assert_bounded(_statements_of(post))


def _messages(log: TableLog) -> list[tuple]:
    """The new events of `log` as its consumer's handler gets them (outbox.batches)."""
    new = log_rows(log).exclude(event_id__startswith="seed-").order_by("xid", "id")
    return [(id, log.topic, id, None) for id in new.values_list("id", flat=True)]


def test_the_metrics_and_notifications_consumers(history, api_client):
    assert api_client.post("/api/v1/events", _product_items(), format="json").status_code == 202
    assert api_client.post("/event", _transaction(NOW_T), format="json").status_code == 200
    metrics, notifications = _messages(EVENT_LOG), _messages(PRODUCT_EVENT_LOG)
    assert len(metrics) == 6 and len(notifications) == 5

    statements = _statements_of(lambda: metric_buckets_add(metrics))
    statements += _statements_of(lambda: notification_messages_handle(notifications))

    _assert_bounded(statements)
    assert Event.objects.count() == HISTORY + 6


def test_the_stores_history_questions_about_several_types(history):
    """What the notification rules that are not a bounded look back ask the store."""
    anchor = Event.objects.get(tenant_id="default", event_id=f"seed-{HISTORY - 1}")
    store = UserEventHistory(user_id=1, anchor=anchor, user_traits={})
    several = EventFilter(event_types=frozenset({"deposit", "withdraw", "signup_completed"}))
    window = dict(start=anchor.occurred_at - timedelta(minutes=30), end=anchor.occurred_at)

    def ask():
        assert len(store.last(count=3, events=several)) == 3
        assert store.aggregate(function="count", path="", events=several, **window) > 0
        assert store.exists(events=several, **window)

    _assert_bounded(_statements_of(ask))


# Indexes earn their place (docs/architecture.md, "Indexes and the queries that use them").
# Every index of the hot tables, by table. A primary key or a unique constraint is there for
# what it enforces; every other index is there for a named query (INDEX_QUERIES).
HOT_TABLE_INDEXES = {
    "events_event": {
        "events_event_pkey",
        "event_unique_event_id",
        "event_user_time",
        "event_user_type_time",
        "event_stream_type_time",
        "event_tenant_time",
        "event_tenant_source_type_time",
        "event_log_order",
        "event_product_log_order",
    },
    "events_alert": {"events_alert_pkey", "alert_unique_event_code", "alert_created_at"},
    "outbox_outboxmessage": {
        "outbox_outboxmessage_pkey",
        "outbox_message_order",
        "outbox_message_dead",
    },
    "notifications_notification": {
        "notifications_notification_pkey",
        "notification_unique_rule_event",
        "notifications_notification_trigger_event_id_a0de224b",
        "notification_user_type_time",
        "notification_due",
        "notification_user_history",
        "notification_decided_at",
    },
    "notifications_decision": {
        "notifications_decision_pkey",
        "notifications_decision_notification_id_dcbf9458",
        "decision_user_created_id",
    },
    "events_metricbucket": {"events_metricbucket_pkey", "metric_bucket_unique"},
    "events_user": {
        "events_user_pkey",
        "user_unique_external_id",
        "user_unique_email_ci",
        "user_email_trait_ci",
    },
}


def test_the_hot_tables_have_the_listed_indexes_and_no_other(db):
    """An index added, or dropped, is one this module and the architecture's table account for."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY(%s)",
            [list(HOT_TABLE_INDEXES)],
        )
        found: dict[str, set[str]] = {table: set() for table in HOT_TABLE_INDEXES}
        for table, index in cursor.fetchall():
            found[table].add(index)
    assert found == HOT_TABLE_INDEXES


def _planned_indexes(run: Callable[[], object]) -> set[str]:
    """The indexes in the plans of the data statements `run` sends, each planned just before it
    runs, on its own connection: under the settings it runs with (a SET LOCAL included).

    The planner settings a hot path sets for the rest of its transaction (PLANNER_SETTINGS) are
    put back after `run`: in production its transaction ends there, in a test it goes on."""
    used: set[str] = set()

    def plan(execute, sql, params, many, context):
        if _reads(sql) and not many:
            with context["connection"].connection.cursor() as cursor:
                nodes = plan_nodes_planned(cursor, sql, params)
            used.update(node.index for node in nodes if node.index)
        return execute(sql, params, many, context)

    try:
        with CaptureQueriesContext(connection), connection.execute_wrapper(plan):
            run()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("; ".join(f"RESET {setting}" for setting in PLANNER_SETTINGS))
    return used


# What the hot paths price out for the rest of a transaction (midnite_test.index_order,
# outbox.horizon).
PLANNER_SETTINGS = ("enable_seqscan", "enable_bitmapscan", "enable_sort", "enable_incremental_sort")


TABLE_ROWS = 20_000


@pytest.fixture
def every_hot_table(history, api_client):
    """Besides the history: TABLE_ROWS users, notifications of user 1 (a tenth scheduled) with a
    decision each, metrics messages (a hundredth dead-lettered, the first half claimed) and
    metric buckets; none analyzed. A few rows would be read whole, whatever the indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_user (external_id, first_name, last_name, email, traits,"
            " created_at, updated_at) SELECT 'seed_' || n, '', '', '', '{}', now(), now()"
            " FROM generate_series(1, %s) AS n",
            [TABLE_ROWS],
        )
        cursor.execute(
            "INSERT INTO notifications_notification (user_id, rule, notification_type, channel,"
            " private, trigger_event_id, trigger_occurred_at, status, reason, due_at, attempts,"
            " last_error, subject, body, created_at, updated_at, rules_version)"
            " SELECT 1, 'seed', 'seed', 'email', false, id, occurred_at,"
            " CASE WHEN id %% 10 = 0 THEN 'scheduled' ELSE 'sent' END, '',"
            " CASE WHEN id %% 10 = 0 THEN occurred_at END, 0, '', '', '', occurred_at,"
            " occurred_at, 1"
            " FROM events_event ORDER BY id LIMIT %s",
            [TABLE_ROWS],
        )
        cursor.execute(
            "INSERT INTO notifications_decision (notification_id, user_id, status, reason,"
            " created_at, rules_version) SELECT id, user_id, status, '', created_at, 1"
            " FROM notifications_notification"
        )
        cursor.execute(
            "INSERT INTO outbox_outboxmessage (consumer, topic, subject_id, created_at, attempts,"
            " last_error, dead_lettered_at) SELECT %s, 'event_stored', id, now(), 0, '',"
            " CASE WHEN id %% 100 = 0 THEN now() END FROM events_event ORDER BY id LIMIT %s",
            [CONSUMER_METRICS, TABLE_ROWS],
        )
        cursor.execute(
            "INSERT INTO events_metricbucket (tenant_id, bucket_size, bucket_start, source,"
            " event_type, count, amount_sum) SELECT 'default', 'minute',"
            " %s::timestamptz + n * interval '1 minute', 'web', 'click', 1, 0"
            " FROM generate_series(1, %s) AS n",
            [SEEDED_FROM, TABLE_ROWS],
        )
    middle = OutboxMessage.objects.filter(subject_id__gte=TABLE_ROWS // 2).order_by("id").first()
    OutboxCursor.objects.create(consumer=CONSUMER_METRICS, xid=middle.xid, id=middle.id)
    assert api_client.post("/api/v1/events", _product_items(), format="json").status_code == 202


def _post_event_again(client):
    for _ in range(2):
        assert client.post("/event", _transaction(NOW_T), format="json").status_code == 200


def _audit(client):
    user_audit(user="u_1", tenants=None, limit=10)


def _events_of_tenant(client):
    events_page(filters=EventFilters(tenant_ids=frozenset({"default"})), **_PAGE)


def _events_of_tenant_source_and_type(client):
    filters = EventFilters(tenant_ids=frozenset({"default"}), source="web", event_type="click")
    events_page(filters=filters, **_PAGE)


_PAGE = dict(page=None, page_size=10, cursor=None)


def _history_window(client):
    anchor = Event.objects.get(tenant_id="default", event_id=f"seed-{HISTORY - 1}")
    store = UserEventHistory(user_id=1, anchor=anchor, user_traits={})
    store.exists(
        events=EventFilter(event_types=frozenset({"signup_completed"})),
        start=anchor.occurred_at - timedelta(days=1),
        end=anchor.occurred_at,
    )


def _notifications_evaluated(client):
    product = Event.objects.filter(source="product").exclude(event_id__startswith="seed-")
    with transaction.atomic():
        notification_events_evaluate(event_ids=list(product.values_list("pk", flat=True)))


def _notifications_due_claimed(client):
    _due_claim(limit=10)


def _decisions_of_one_notification(client):
    """What the admin's page of a notification lists below it (DecisionInline)."""
    notification = Notification.objects.order_by("id").first()
    list(notification.decisions.order_by("created_at", "id"))


def _metrics_page(client):
    metrics_list(tenant_id="default", bucket_size="minute", page_size=10)


def _event_log_claimed(client):
    batch_take(EVENT_LOG.stream(CONSUMER_METRICS), size=100)


def _product_event_log_claimed(client):
    batch_take(PRODUCT_EVENT_LOG.stream(CONSUMER_NOTIFICATIONS), size=100)


def _outbox_processed_until(client):
    outbox_processed_until(consumer=CONSUMER_METRICS)


def _people_search_by_email(client):
    """The console's people search for an address: users by email or by `email` trait."""
    users_find(query="Someone@Example.com")


def _console_overview(client):
    """The console's overview of the last hour: alerts per code, notifications per rule."""
    until = timezone.now()
    overview_alerts(tenant="default", since=until - timedelta(hours=1), until=until)
    overview_notifications(tenant="default", since=until - timedelta(hours=1), until=until)


# Each index of the hot tables that is not a primary key nor only a unique constraint, with a
# named query that uses it: the code a request or a worker runs.
INDEX_QUERIES: dict[str, Callable] = {
    "event_unique_event_id": _post_event_again,
    "event_user_time": _audit,
    "user_unique_external_id": _audit,
    "user_email_trait_ci": _people_search_by_email,
    "alert_created_at": _console_overview,
    "notification_decided_at": _console_overview,
    "event_user_type_time": _history_window,
    "event_stream_type_time": _post_event_again,
    "event_tenant_time": _events_of_tenant,
    "event_tenant_source_type_time": _events_of_tenant_source_and_type,
    "alert_unique_event_code": _post_event_again,
    "outbox_message_order": _outbox_processed_until,
    "outbox_message_dead": _metrics_page,
    "notifications_notification_trigger_event_id_a0de224b": _notifications_evaluated,
    "notification_user_type_time": _notifications_evaluated,
    "notification_due": _notifications_due_claimed,
    "notification_user_history": _audit,
    "notifications_decision_notification_id_dcbf9458": _decisions_of_one_notification,
    "decision_user_created_id": _audit,
    "metric_bucket_unique": _metrics_page,
    "event_log_order": _event_log_claimed,
    "event_product_log_order": _product_event_log_claimed,
}
# Unique constraints no query reads through: each is there for what it refuses.
ENFORCING_ONLY = {"notification_unique_rule_event", "user_unique_email_ci"}


def test_each_index_is_a_primary_key_enforces_or_has_a_named_query(db):
    listed = set().union(*HOT_TABLE_INDEXES.values())
    accounted = {index for index in listed if index.endswith("_pkey")}
    assert listed - accounted == set(INDEX_QUERIES) | ENFORCING_ONLY


def test_each_named_query_uses_its_index(every_hot_table, api_client):
    """An index its query no longer uses fails here: drop it, or name the query that does.

    Dropped, an index a query needs fails the bounded plans above instead."""
    unused = {
        index: query.__name__
        for index, query in INDEX_QUERIES.items()
        if index not in _planned_indexes(lambda: query(api_client))
    }
    assert unused == {}
