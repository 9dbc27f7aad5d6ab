#!/usr/bin/env python
"""Benchmark notifications: product events decided and sent per second by one worker process.

Runs on a fresh PostgreSQL database, in this one process, with the project's settings and its
default notification rules (config/notification_rules.yml):

- setup, untimed: `--users` users, each with `--history` product events of the rules' types over
  the previous 30 days (signups, bank links, failed payments), already decided, so the
  proximity questions and the limit counts run against real history;
- per round, untimed: `--events` new product events spread over those users (signups, bank
  links, failed payments with and without insufficient funds, some on the same day), stored
  in the event table, the log both consumers read (no outbox row);
- timed: the worker's whole job for those events: the notifications consumer
  (`outbox_process`) deciding every rule for every event, then `notifications_send_due`
  rendering and delivering what is due (email to Django's locmem backend, SMS with no webhook
  URL to the log);
- the baseline, timed in the same round: the metrics consumer draining the same events
  (one upsert per bucket), the cheapest consumer of the same log.

Deciding's CPU is reported too, per 1,000 events: this process's and its PostgreSQL backend's,
read from /proc (bench/process_cpu.py), steadier than its seconds on a shared machine.

Rounds interleave; the figures are events/s and the ratio notifications / metrics.

    .venv/bin/python bench/notify_throughput.py
    .venv/bin/python bench/notify_throughput.py --users 2000 --history 50 --events 20000 --rounds 3
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from process_cpu import cpu_seconds
from servers import POSTGRES_URL, database_recreate, database_drop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    args = _arguments()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="midnite_test.settings",
        DATABASE_URL=f"{POSTGRES_URL}/{args.database}",
        CELERY_BROKER_URL=args.broker,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        NOTIFICATION_CONSOLE_DELIVERY="true",  # SMS to the log, as before
        LOG_LEVEL="WARNING",
    )
    database_recreate(args.database)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v", "0"],
            cwd=ROOT,
            env=os.environ,
            check=True,
        )
        return _bench(args)
    finally:
        _close()
        subprocess.run(["redis-cli", "-u", args.broker, "FLUSHDB"], capture_output=True)
        if not args.keep_database:
            database_drop(args.database)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--history", type=int, default=30, help="past events per user")
    parser.add_argument("--events", type=int, default=10_000, help="new events per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="midnite_bench_notify")
    parser.add_argument(
        "--broker", default="redis://127.0.0.1:6379/11", help="Celery broker; flushed at the end"
    )
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args()


def _close() -> None:
    registry = sys.modules.get("django.apps")
    if registry is not None and registry.apps.ready:
        from django.db import connections

        connections.close_all()


# What the generated events are: (event_type, properties), weighted.
_KINDS = (
    ("signup_completed", {}),
    ("link_bank_success", {}),
    ("payment_failed", {"failure_reason": "INSUFFICIENT_FUNDS", "amount": "42.00"}),
    ("payment_failed", {"failure_reason": "CARD_DECLINED", "attempt_number": 3}),
    ("payment_failed", {"failure_reason": "CARD_DECLINED", "attempt_number": 1}),
    ("page_viewed", {"page": "home"}),
)
_WEIGHTS = (1, 2, 3, 2, 2, 4)


def _bench(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.db import transaction

    from notifications.evaluation import notification_events_evaluate
    from notifications.sending import notifications_send_due
    from users.models import User

    rng = random.Random(args.seed)
    start = datetime.now(timezone.utc) - timedelta(days=30)
    User.objects.bulk_create(
        User(
            external_id=f"u_{n}",
            email=f"u{n}@example.com",
            traits={"marketing_opt_in": n % 2 == 0, "phone": "+447700900000"},
        )
        for n in range(args.users)
    )
    user_ids = list(User.objects.values_list("id", flat=True))
    history = _events_store(rng, user_ids, args.users * args.history, start, days=29, publish=False)
    with transaction.atomic():
        notification_events_evaluate(event_ids=history)
    notifications_send_due()
    print(f"setup: {args.users:,} users, {len(history):,} past events decided", flush=True)

    notify_rates, metrics_rates = [], []
    for round_number in range(1, args.rounds + 1):
        day = start + timedelta(days=29 + round_number)
        _events_store(rng, user_ids, args.events, day, days=1, publish=True)
        decide_seconds, decide_cpu, send_seconds, decisions, sent = _notifications_run()
        notify_seconds = decide_seconds + send_seconds
        metrics_seconds = _metrics_run()
        notify_rates.append(args.events / notify_seconds)
        metrics_rates.append(args.events / metrics_seconds)
        print(
            f"round {round_number}: notifications {notify_rates[-1]:,.0f} events/s "
            f"({decisions:,} decisions in {decide_seconds:.2f} s, CPU "
            f"{decide_cpu[0] * 1e6 / args.events:.0f} + {decide_cpu[1] * 1e6 / args.events:.0f}"
            f" ms per 1,000 events (worker + PostgreSQL), {sent:,} sends in "
            f"{send_seconds:.2f} s); "
            f"metrics baseline {metrics_rates[-1]:,.0f} events/s; "
            f"ratio {notify_rates[-1] / metrics_rates[-1]:.2f}",
            flush=True,
        )
    notify, metrics = statistics.median(notify_rates), statistics.median(metrics_rates)
    print(
        f"RESULT notifications_events_per_s={notify:.0f} metrics_events_per_s={metrics:.0f} "
        f"ratio={notify / metrics:.2f} (median of {args.rounds} rounds)"
    )
    return 0


def _events_store(rng, user_ids, count, start, *, days, publish) -> list[int]:
    """Store `count` product events over `days` from `start`; unless `publish`, the consumers'
    cursors move past them, as past the events stored before the event table was the log."""
    from django.db import transaction

    from events.models import Event
    from outbox.logs import STREAMS
    from outbox.models import OutboxCursor

    span = days * 86400
    rows = []
    for _ in range(count):
        event_type, properties = rng.choices(_KINDS, _WEIGHTS)[0]
        rows.append(
            Event(
                event_id=f"bench-{rng.getrandbits(64):x}",
                user_id=rng.choice(user_ids),
                event_type=event_type,
                source="product",
                occurred_at=start + timedelta(seconds=rng.randrange(span)),
                properties=properties,
            )
        )
    with transaction.atomic():
        ids = [event.pk for event in Event.objects.bulk_create(rows, batch_size=2_000)]
    if not publish:
        last = Event.objects.order_by("-xid", "-id").values_list("xid", "id").first()
        for stream in STREAMS:
            OutboxCursor.objects.update_or_create(
                consumer=stream, defaults={"xid": last[0], "id": last[1]}
            )
    return ids


def _notifications_run() -> tuple[float, tuple[float, float], float, int, int]:
    """Return deciding's seconds and CPU seconds (this process, its PostgreSQL backend),
    sending's seconds, the decisions and the sends."""
    from django.core import mail
    from django.db import connection

    from notifications.models import Notification
    from notifications.sending import notifications_send_due
    from outbox.contracts import CONSUMER_NOTIFICATIONS
    from outbox.services import outbox_process

    before = Notification.objects.count()
    mail.outbox = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    cpu_before = (time.process_time(), cpu_seconds([backend]).get(backend, 0.0))
    started = time.perf_counter()
    outbox_process(consumer=CONSUMER_NOTIFICATIONS)
    decided = time.perf_counter()
    cpu = (time.process_time() - cpu_before[0], cpu_seconds([backend])[backend] - cpu_before[1])
    sent = notifications_send_due()
    finished = time.perf_counter()
    decisions = Notification.objects.count() - before
    return decided - started, cpu, finished - decided, decisions, sent


def _metrics_run() -> float:
    from outbox.contracts import CONSUMER_METRICS
    from outbox.services import outbox_process

    started = time.perf_counter()
    outbox_process(consumer=CONSUMER_METRICS)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
