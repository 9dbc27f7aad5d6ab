"""A relay in a process of its own, for the crash test (test_relay_crash.py).

    python -m outbox.tests.relay_child die-after-insert   # insert, say INSERTED, wait to be killed
    python -m outbox.tests.relay_child recover            # count, relay, count again

DATABASE_URL and CLICKHOUSE_URL come from the environment, as in production.
"""

import os
import signal
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")
django.setup()

from outbox import relay  # noqa: E402 - needs django.setup()
from outbox.clickhouse.client import clickhouse_rows  # noqa: E402
from outbox.clickhouse.migrate import clickhouse_migrate  # noqa: E402


def die_after_insert() -> None:
    """Run the relay, but stop between the ClickHouse insert and the commit that marks it."""
    insert = relay.event_log_insert

    def insert_then_hang(*args, **kwargs) -> None:
        insert(*args, **kwargs)
        print("INSERTED", flush=True)
        signal.pause()  # the test kills this process here, with SIGKILL

    relay.event_log_insert = insert_then_hang
    relay.outbox_relay()


def recover() -> None:
    print("BEFORE", _count(), flush=True)
    report = relay.outbox_relay()
    print("SHIPPED", report.messages, "AFTER", _count(), flush=True)


def _count() -> int:
    return clickhouse_rows("SELECT count() FROM event_log")[1][0][0]


if __name__ == "__main__":
    clickhouse_migrate()
    {"die-after-insert": die_after_insert, "recover": recover}[sys.argv[1]]()
