#!/usr/bin/env python
"""Benchmark the notifications backtest: product events replayed per second by one process.

Runs on a fresh PostgreSQL database, in this one process, with the project's settings:

- setup, untimed: `--users` users and `--events` product events of the default rules' types
  (and page views no rule looks at) over the 7 days before now, stored as the notification
  benchmark stores them (bench/notify_throughput.py);
- timed: `notification_replay` of those 7 days under the default rules
  (config/notification_rules.yml) as the active version and a candidate with the daily limit
  raised to 2 and the high-risk alert from the second attempt;
- the baseline, timed in the same round: reading the same rows in the same order with a
  server-side cursor (the query the replay reads them with), and nothing else.

Rounds interleave; the figures are events/s and the ratio replay / cursor.

    .venv/bin/python bench/notify_backtest_throughput.py
    .venv/bin/python bench/notify_backtest_throughput.py --users 10000 --events 100000 --rounds 2
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

from notify_throughput import _events_store
from servers import POSTGRES_URL, database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    args = _arguments()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="midnite_test.settings",
        DATABASE_URL=f"{POSTGRES_URL}/{args.database}",
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
        if not args.keep_database:
            database_drop(args.database)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", default="midnite_bench_notify_backtest")
    parser.add_argument("--keep-database", action="store_true")
    return parser.parse_args()


def _close() -> None:
    registry = sys.modules.get("django.apps")
    if registry is not None and registry.apps.ready:
        from django.db import connections

        connections.close_all()


def _bench(args: argparse.Namespace) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from notifications.config import notification_rule_set_compile
    from users.models import User

    User.objects.bulk_create(
        User(
            external_id=f"u_{n}",
            email=f"u{n}@example.com",
            traits={"marketing_opt_in": n % 2 == 0, "phone": "+447700900000"},
        )
        for n in range(args.users)
    )
    user_ids = list(User.objects.values_list("id", flat=True))
    end = datetime.now(timezone.utc)
    start = end - timedelta(days=7)
    rng = random.Random(args.seed)
    _events_store(rng, user_ids, args.events, start, days=7, publish=False)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    default = settings.NOTIFICATION_RULES_PATH.read_text()
    active = notification_rule_set_compile(default)
    candidate = notification_rule_set_compile(
        default.replace(
            "debounce_limit: 1\n    debounce_calendar_day: true",
            "debounce_limit: 2\n    debounce_calendar_day: true",
        ).replace("value: 3\n          operator: GTE", "value: 2\n          operator: GTE")
    )
    print(f"setup: {args.users:,} users, {args.events:,} events", flush=True)
    replay_rates, cursor_rates = [], []
    for round_number in range(1, args.rounds + 1):
        cursor_rates.append(_cursor_run(active, candidate, start, end))
        events, rate = _replay_run(active, candidate, start, end)
        replay_rates.append(rate)
        print(
            f"round {round_number}: replay {replay_rates[-1]:,.0f} events/s ({events:,} events); "
            f"server-side cursor {cursor_rates[-1]:,.0f} rows/s; "
            f"ratio {replay_rates[-1] / cursor_rates[-1]:.3f}",
            flush=True,
        )
    replay, cursor = statistics.median(replay_rates), statistics.median(cursor_rates)
    print(
        f"RESULT replay_events_per_s={replay:.0f} cursor_rows_per_s={cursor:.0f} "
        f"ratio={replay / cursor:.3f} (median of {args.rounds} rounds)"
    )
    return 0


def _replay_run(active, candidate, start, end) -> tuple[int, float]:
    from notifications.backtest import notification_replay
    from rule_sets.replay import ReplayTally

    tally = ReplayTally()
    started = time.perf_counter()
    notification_replay(
        active=active,
        candidate=candidate,
        start=start,
        end=end,
        tally=tally,
        progress=lambda done, total: None,
    )
    return tally.events, tally.events / (time.perf_counter() - started)


def _cursor_run(active, candidate, start, end) -> float:
    """Return the rate of reading the window's events as the replay does, and only that."""
    from events.models import Event
    from notifications.backtest import CHUNK_SIZE

    events = Event.objects.filter(
        user__isnull=False,
        event_type__in=sorted(active.event_types | candidate.event_types),
        occurred_at__gte=start,
        occurred_at__lt=end,
    ).order_by("user_id", "occurred_at", "id")
    started = time.perf_counter()
    rows = sum(1 for _ in events.iterator(CHUNK_SIZE))
    return rows / (time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
