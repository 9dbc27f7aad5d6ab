#!/usr/bin/env python
"""Compare POST /event across commits: each served side by side, loaded in interleaved rounds.

Each commit is exported with `git archive` into a temporary directory and served from there
(granian, as bench/event_throughput.py serves it, each on its own port), all against one
database that bench/event_throughput.py has seeded. Every round loads each commit in turn for
the same users, so a slow spell of a shared machine hits them alike; it prints each run and
the medians: req/s, p50, p99 and the CPU per request of the commit's server processes and of
PostgreSQL's backends.

    python bench/event_ab.py --database midnite_bench main my-branch
    python bench/event_ab.py --users 10,100000 --rounds 3 main HEAD~2 HEAD
"""

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from event_throughput import HISTORY_LONG, HISTORY_SHORT, Run, _measure, service_env
from servers import POSTGRES_URL, PRODUCTION_WORKERS, ROOT, wsgi_server_start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commits", nargs="+", help="commits (or branches) to compare")
    parser.add_argument("--database", default="midnite_bench")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=PRODUCTION_WORKERS)
    parser.add_argument("--port", type=int, default=8850, help="the first commit's; then +1...")
    parser.add_argument(
        "--users", default=f"{HISTORY_SHORT},{HISTORY_LONG}", help="whose history length"
    )
    args = parser.parse_args()
    database_url = f"{POSTGRES_URL}/{args.database}"
    env = service_env(database_url)
    first_user = {str(HISTORY_SHORT): 1, str(HISTORY_LONG): 1001}
    with tempfile.TemporaryDirectory(prefix="event-ab-") as scratch:
        servers = {}
        try:
            for index, commit in enumerate(args.commits):
                tree = Path(scratch) / str(index)
                tree.mkdir()
                (tree / "var").mkdir()
                archive = subprocess.run(
                    ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
                ).stdout
                subprocess.run(["tar", "xf", "-", "-C", str(tree)], input=archive, check=True)
                port = args.port + index
                server = wsgi_server_start(
                    env,
                    server="granian",
                    app="midnite_test.wsgi",
                    port=port,
                    workers=args.workers,
                    cwd=tree,
                )
                servers[commit] = (port, server)
            runs = [
                (commit, users, Run(f"{commit} {users}", port, "/event", first_user[users]))
                for users in args.users.split(",")
                for commit, (port, _) in servers.items()
            ]
            for commit, _, run in runs:
                _measure(args, run, [servers[commit][1]], database_url, duration=3)
            results: dict[tuple[str, str], list[dict]] = {}
            for round_ in range(1, args.rounds + 1):
                for commit, users, run in runs:
                    result = _measure(
                        args, run, [servers[commit][1]], database_url, duration=args.duration
                    )
                    results.setdefault((commit, users), []).append(result)
                    print(f"round {round_}  {_line(commit, users, [result])}", flush=True)
        finally:
            for _, server in servers.values():
                server.send_signal(signal.SIGTERM)
            for _, server in servers.values():
                server.wait(timeout=30)
    print("\nmedian of the rounds:")
    for (commit, users), measured in results.items():
        print(f"  {_line(commit, users, measured)}")
    return 0


def _line(commit: str, users: str, measured: list[dict]) -> str:
    def median(key: str) -> float:
        return statistics.median(result[key] for result in measured)

    return (
        f"{commit:>12} {users:>6}-event users {median('rps'):6.0f} req/s"
        f"  p50 {median('p50_us') / 1000:6.2f} ms  p99 {median('p99_us') / 1000:7.2f} ms"
        f"  worker CPU {median('worker_cpu_ms'):.2f} ms  PostgreSQL CPU"
        f" {median('postgres_cpu_ms'):.2f} ms  non-2xx {median('non_2xx'):.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
