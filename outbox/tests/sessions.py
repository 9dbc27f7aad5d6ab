"""Other PostgreSQL sessions for the commit horizon tests: other databases, other roles.

Each opens its own psycopg connection to the test run's server, as another client would.
"""

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connection

from outbox.tests.conftest import record


def connect(*, dbname: str | None = None, user: str | None = None, **options) -> psycopg.Connection:
    """A new connection to the test run's server, to its test database unless told otherwise."""
    settings_dict = connection.settings_dict
    return psycopg.connect(
        dbname=dbname or settings_dict["NAME"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        user=user or settings_dict["USER"],
        **options,
    )


@contextmanager
def other_database_transaction() -> Iterator[psycopg.Connection]:
    """A write transaction held open in a database of its own on the same server.

    What another service's migration or a forgotten psql session does: the transaction has an
    id, so it is in every snapshot of the server until it ends.
    """
    with other_database() as name, connect(dbname=name) as other:
        other.execute("CREATE TABLE held (n int)")
        other.execute("INSERT INTO held VALUES (1)")
        yield other


@contextmanager
def other_database_churn() -> Iterator[None]:
    """Short write transactions committed one after another in a database of their own.

    What another busy client of the server does: at any moment one of them is running, and
    many end between a claim's snapshot and its next look at the server's sessions.
    """
    stop = threading.Event()

    def churn(name: str) -> None:
        with connect(dbname=name, autocommit=True) as other:
            other.execute("CREATE TABLE churn (n int)")
            while not stop.is_set():
                with other.transaction():
                    other.execute("INSERT INTO churn VALUES (1)")

    with other_database() as name:
        worker = threading.Thread(target=churn, args=(name,))
        worker.start()
        try:
            yield
        finally:
            stop.set()
            worker.join(timeout=10)


@contextmanager
def other_database() -> Iterator[str]:
    """A database of its own on the test run's server, dropped afterwards; yields its name."""
    name = f"midnite_other_{secrets.token_hex(4)}"
    with connect(dbname="postgres", autocommit=True) as admin:
        # template0: nobody connects to it, so another suite's session cannot make this fail.
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        yield name
    finally:
        with connect(dbname="postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def role_without_stats() -> Iterator[str]:
    """A login role of its own that may use the outbox's tables, and nothing more.

    Not a member of pg_read_all_stats or pg_monitor: it sees other roles' sessions in
    pg_stat_activity without their state or transaction start. Needs a committing test
    (transaction=True): other connections log in as it.
    """
    name = f"midnite_role_{secrets.token_hex(4)}"
    with connection.cursor() as db:
        db.execute(f'CREATE ROLE "{name}" LOGIN')
        db.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{name}"'
        )
        db.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{name}"')
    try:
        yield name
    finally:
        with connection.cursor() as db:
            db.execute("RESET ROLE")
            db.execute(f'DROP OWNED BY "{name}"')
            db.execute(f'DROP ROLE "{name}"')


@contextmanager
def acting_as(role: str) -> Iterator[None]:
    """Run Django's queries under `role` (SET ROLE) until the block ends."""
    with connection.cursor() as db:
        db.execute(f'SET ROLE "{role}"')
    try:
        yield
    finally:
        with connection.cursor() as db:
            db.execute("RESET ROLE")


def message_insert(session: psycopg.Connection) -> None:
    """Write one analytics message in `session`'s transaction, leaving it open."""
    message = record().as_message(topic="test")
    session.execute(
        "INSERT INTO outbox_outboxmessage (consumer, topic, payload, created_at, attempts,"
        " last_error) VALUES ('analytics', 'test', %s, now(), 0, '')",
        [psycopg.types.json.Jsonb(message.payload)],
    )
