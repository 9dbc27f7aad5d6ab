#!/usr/bin/env python
"""POST /event called in-process through a WSGI app, no server: the CPU a request costs.

Calls the service (`midnite_test.wsgi`, with `bench/settings.py`, as `make bench` serves it)
or the floor (`bench/wsgi_floor.py`) directly, one request after another, for users 1-16 of
a database `bench/event_throughput.py` seeded (DATABASE_URL), in `bench/transactions.lua`'s
mix. After a warm-up it freezes the objects alive (as midnite_test.wsgi does) and prints this
process's CPU and its PostgreSQL backend's per request. Under `valgrind --tool=callgrind`, run
it for two request counts: the difference of the instructions over the difference of the
counts is the instructions a request costs, immune to the machine's load.

    DATABASE_URL=... ALLOW_ANONYMOUS=true API_THROTTLE_RATE= \\
        python bench/event_in_process.py service --requests 2000
"""

import argparse
import gc
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import psycopg  # noqa: E402
from process_cpu import cpu_seconds, postgres_backends  # noqa: E402

from alerts.tests.wsgi_client import wsgi_post  # noqa: E402 - the tests' WSGI call

USERS = 16
WARM_UP = 50


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", choices=("service", "floor"))
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if args.app == "floor":
        from wsgi_floor import application
    else:
        from midnite_test.wsgi import application
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as monitor:
        latest = monitor.execute("SELECT extract(epoch FROM max(occurred_at)) FROM events_event")
        first_t = int(latest.fetchone()[0]) + 1
        for n in range(WARM_UP):
            _post(application, n, first_t)
        gc.collect()
        gc.freeze()
        backends = postgres_backends(monitor)
        postgres_before, started = cpu_seconds(backends), time.process_time()
        for n in range(WARM_UP, WARM_UP + args.requests):
            _post(application, n, first_t)
        spent = time.process_time() - started
        postgres = cpu_seconds(backends)
    postgres_spent = sum(
        seconds - postgres_before.get(pid, 0.0) for pid, seconds in postgres.items()
    )
    print(
        f"{args.app}: {1000 * spent / args.requests:.3f} ms CPU a request, "
        f"PostgreSQL {1000 * postgres_spent / args.requests:.3f} ms"
    )
    return 0


def _post(application, n: int, first_t: int) -> None:
    """Send the `n`th request: user n % 16 + 1, its (n // 16 + 1)th transaction."""
    user, k = n % USERS + 1, n // USERS + 1
    kind = "withdraw" if k % 4 in (0, 1) else "deposit"
    body = (
        f'{{"type":"{kind}","amount":"{(k % 7) * 25 + 10}.00","user_id":{user},'
        f'"t":{first_t + k}}}'
    ).encode()
    status, _, content = wsgi_post(application, body)
    if status != 200:
        raise SystemExit(f"request {n} answered {status}: {content!r}")


if __name__ == "__main__":
    sys.exit(main())
