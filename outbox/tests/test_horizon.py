"""The commit horizon counts only the transactions that can write this database's messages.

A transaction open in another database of the server never holds a claim back; one open in
this database always does, whichever role runs it and whatever the claimer may see of it.
"""

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient
from structlog.testing import capture_logs

from outbox.batches import batch_claim, batch_messages, batch_take
from outbox.checks import horizon_visibility_check
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.horizon import HorizonHolder
from outbox.services import outbox_publish
from outbox.tests.conftest import record
from outbox.selectors import outbox_horizon_holder
from outbox.tests.sessions import (
    acting_as,
    connect,
    message_insert,
    other_database_churn,
    other_database_transaction,
    role_without_stats,
)

pytestmark = pytest.mark.django_db(transaction=True)


def claimed(*, size: int = 100) -> int:
    batch = batch_claim("analytics", size=size)
    return 0 if batch is None else batch_messages(batch).count()


def claimed_after_own_write() -> int:
    """Publish one message and claim in the same transaction, as tests do; return the batch's
    size (0: the claim found nothing)."""
    with transaction.atomic():
        outbox_publish(messages=[record().as_message(topic="test")], consumers=[CONSUMER_ANALYTICS])
        batch = batch_take(CONSUMER_ANALYTICS, size=100)
    return 0 if batch is None else batch.size


def test_a_transaction_open_in_another_database_holds_no_claim_back(publish):
    with other_database_transaction():
        publish(3)

        assert claimed() == 3


def test_short_transactions_ending_in_another_database_never_hold_a_claim_back():
    """Each claim here races another client's commits, as a claim right after a write does.

    A claim in the transaction that wrote its messages (as tests do) is held back by any older
    transaction; before, one of another database that ended between the claim's snapshot and
    its look at the server's sessions held it back too, and claims found nothing at random.
    """
    with other_database_churn():
        found = [claimed_after_own_write() for _ in range(300)]

    assert found == [1] * 300


def test_a_released_savepoint_of_another_database_never_holds_a_claim_back():
    """Each claim here follows a savepoint another database's open transaction just released.

    A released savepoint's id stays in progress until its transaction ends, but no session
    shows it (pg_stat_activity shows the transaction's own id) and no lock names it (its lock
    goes at RELEASE): it was taken for one of this database's, and a claim right after it,
    before any later transaction ended, found nothing. As the test suites of other databases
    do all day, their savepoints released inside a test's transaction.
    """
    found = []
    with other_database_transaction() as other:
        for _ in range(50):
            other.execute("SAVEPOINT s")
            other.execute("INSERT INTO held VALUES (2)")  # the savepoint's own id
            other.execute("RELEASE SAVEPOINT s")
            found.append(claimed_after_own_write())

    assert found == [1] * 50


def test_an_unprivileged_claimer_passes_another_databases_transaction_too(publish):
    """The sessions' databases and transaction ids are shown to every role (PostgreSQL 15)."""
    with role_without_stats() as claimer, other_database_transaction():
        publish(3)

        with acting_as(claimer):
            assert claimed() == 3


def test_an_uncommitted_message_of_another_role_is_never_passed(publish):
    """A claimer that cannot see the writer's session's state still never passes its message."""
    with role_without_stats() as writer, role_without_stats() as claimer:
        publish(1)  # below the writer's transaction: claimable
        session = connect(user=writer)
        try:
            message_insert(session)
            publish(2)  # committed, but above the writer's transaction

            with acting_as(claimer):
                while_open = claimed()
            session.commit()
            with acting_as(claimer):
                after = claimed()
        finally:
            session.close()

    assert while_open == 1, "nothing ships past a transaction still open in this database"
    assert after == 3


def test_the_held_back_warning_names_the_holder_in_this_database_only(publish, monkeypatch):
    monkeypatch.setattr("outbox.horizon.HELD_BACK_WARNING_SECONDS", 0.0)
    with other_database_transaction():  # older, so the oldest on the server
        session = connect()
        try:
            message_insert(session)
            publish(1)

            with capture_logs() as logs:
                assert claimed() == 0
            holder = session.info.backend_pid
        finally:
            session.close()

    [held] = [entry for entry in logs if entry["event"] == "outbox.claim_held_back"]
    assert held["pid"] == holder
    assert held["state"] == "idle in transaction"


def test_the_status_names_the_session_of_this_database_that_holds_the_outbox_back(settings):
    settings.ALLOW_ANONYMOUS = True

    def holder() -> dict | None:
        return APIClient().get("/healthz/status").json()["outbox_horizon_holder"]

    with other_database_transaction():
        while_other = holder()
        session = connect()
        try:
            message_insert(session)
            while_open = holder()
            pid = session.info.backend_pid
        finally:
            session.close()

    assert while_other is None, "a transaction of another database holds nothing back"
    assert while_open["pid"] == pid and while_open["state"] == "idle in transaction"
    assert while_open["transaction_age_seconds"] >= 0


def test_a_role_without_pg_read_all_stats_sees_the_holder_of_another_role_by_pid_only():
    with role_without_stats() as writer, role_without_stats() as reader:
        session = connect(user=writer)
        try:
            message_insert(session)
            with acting_as(reader):
                holder = outbox_horizon_holder()
            pid = session.info.backend_pid
        finally:
            session.close()

    assert holder == HorizonHolder(pid=pid, transaction_age_seconds=None, state=None)


def test_the_start_up_check_warns_when_the_role_cannot_see_other_roles_sessions():
    with role_without_stats() as role:
        with acting_as(role):
            without = horizon_visibility_check(None, databases=["default"])
        with connection.cursor() as db:
            db.execute(f'GRANT pg_read_all_stats TO "{role}"')
        with acting_as(role):
            granted = horizon_visibility_check(None, databases=["default"])

    assert [warning.id for warning in without] == ["outbox.W001"]
    assert role in without[0].msg and "pg_read_all_stats" in without[0].hint
    assert granted == []
    assert horizon_visibility_check(None, databases=["default"]) == []  # the tests' superuser
