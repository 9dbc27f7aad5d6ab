#!/usr/bin/env python
"""Soak `make run`'s service (granian + the embedded worker) with a steady, bounded mixed load.

Sends about `--rate` requests/s for `--minutes` from at most 4 threads, only to 127.0.0.1:
product-event batches of 1-20 items over a few hundred external user ids (signups among them,
which send welcome emails) to POST /api/v1/events, valid deposits and withdraws of users 1-4 to
POST /event and batches of 100 events to POST /events/bulk. Every 10 s it prints the requests
by endpoint, the status counts, 5xx and connection errors, p50/p99 latency, GET /healthz/ready's
status and the outbox backlog of GET /healthz/status. With `--start` it sets up a fresh service
in a temporary VAR_DIR (as `make run` and midnite_test/tests/test_embedded_mode.py do), can
SIGKILL its worker at `--kill-worker-at` offsets (timing the new worker and readiness), and
stops it with SIGINT to its process group at the end, as Ctrl-C does. It then waits up to 60 s
for the backlog to drain and exits 1 on any 5xx or connection error, a backlog left, a dead
letter or an unclean stop.

    .venv/bin/python bench/embedded_soak.py --start --minutes 2 --kill-worker-at 40
    .venv/bin/python bench/embedded_soak.py --url http://127.0.0.1:8000 --minutes 30 --rate 20
"""

import argparse
import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = {"product": "/api/v1/events", "event": "/event", "bulk": "/events/bulk"}
WEIGHTS = {"product": 9, "event": 9, "bulk": 2}
PRODUCT_TYPES = ["signup_completed", "app_opened", "payment_failed", "link_bank_success"]
UNCLEAN = ("refused to gracefully stop", "cold shutdown", "Killing", "killing it")
STOP = threading.Event()  # the service died, or a load thread: the load threads stop
ERRORS: list[str] = []  # every 5xx and connection error, /healthz/ready's once the service is up


class Load:
    """Sends valid bodies (ids unique to this run, a strictly increasing `t` per demo user) and
    counts the answers, under one lock."""

    def __init__(self, base: str, users: int) -> None:
        self.base, self.run = base, uuid.uuid4().hex[:8]
        self.users = [f"soak_{self.run}_{n}" for n in range(users)]
        self.serial = iter(range(10**9))
        self.user_locks = {u: threading.Lock() for u in range(1, 5)}
        self.latest_t = {u: self._latest_t(u) for u in range(1, 5)}
        self.lock = threading.Lock()
        self.statuses: collections.Counter = collections.Counter()  # (endpoint, status)
        self.latencies: list[tuple[str, float]] = []
        self.shown = 0  # latencies up to here are in a progress line already
        self.rejected = 0  # items a 2xx answer rejected: this script's mistake

    def sent(self, endpoint: str | None = None) -> int:
        return sum(n for (e, _), n in self.statuses.items() if endpoint in (None, e))

    def _latest_t(self, user: int) -> int:
        """The user's latest transaction `t` in the service, so a rerun's `t`s still increase."""
        query = urllib.parse.urlencode({"tenant_id": "default", "user_id": user, "page_size": 100})
        status, body = request(f"{self.base}/events?{query}")
        assert status == 200, f"GET /events: {status} {body[:200]!r}"
        ids = [e["event_id"] for e in json.loads(body)["results"]]
        return max([int(i.rsplit(":", 1)[1]) for i in ids if i.startswith("txn:")], default=0)

    def send(self, endpoint: str, rng: random.Random) -> None:
        now = datetime.now(UTC).isoformat()
        if endpoint == "event":
            user = rng.randint(1, 4)
            with self.user_locks[user]:  # held while sending, so the `t`s arrive in order
                t = self.latest_t[user] = max(self.latest_t[user] + 1, int(time.time()))
                kind, amount = rng.choice(["deposit", "withdraw"]), rng.randint(1, 20000) / 100
                body = {"type": kind, "amount": f"{amount:.2f}", "user_id": user, "t": t}
                return self._post(endpoint, body)
        if endpoint == "product":
            body = [self._product_event(rng, now) for _ in range(rng.randint(1, 20))]
        else:
            body = {"events": [self._bulk_event(rng, now) for _ in range(100)]}
        self._post(endpoint, body)

    def _product_event(self, rng: random.Random, now: str) -> dict:
        user, kind = rng.choice(self.users), rng.choice(PRODUCT_TYPES)
        item = {"user_id": user, "event_type": kind, "event_timestamp": now}
        item["event_id"] = f"soak-{self.run}-{next(self.serial)}"
        # An address and a phone number, so notifications are sent (to the worker's log) rather
        # than failed; the phone number is made up from the id.
        phone = f"+1555{user.rsplit('_', 1)[1]:0>7}"
        item["user_traits"] = {"email": f"{user}@example.com", "phone": phone}
        item["user_traits"]["marketing_opt_in"] = True
        if kind == "payment_failed":
            item["properties"] = {"failure_reason": "INSUFFICIENT_FUNDS", "attempt_number": 1}
        return item

    def _bulk_event(self, rng: random.Random, now: str) -> dict:
        kind = rng.choice(["click", "view", "purchase"])
        event = {"event_id": f"soak-{self.run}-{next(self.serial)}", "tenant_id": "soak"}
        event |= {"source": "soak", "event_type": kind, "timestamp": now, "payload": {"n": 1}}
        if kind == "purchase":
            event["amount"] = f"{rng.randint(100, 99999) / 100:.2f}"
        return event

    def _post(self, endpoint: str, body) -> None:
        started = time.monotonic()
        status, answer = request(self.base + ENDPOINTS[endpoint], body)
        if status == "conn" or status >= 500:
            ERRORS.append(f"{time.strftime('%T')} {endpoint} {status} {answer[:300]!r}")
        with self.lock:
            self.statuses[(endpoint, status)] += 1
            self.latencies.append((endpoint, time.monotonic() - started))
            if isinstance(status, int) and status < 300 and endpoint != "event":
                self.rejected += len(json.loads(answer).get("rejected", []))


def request(url: str, body=None, timeout: float = 10) -> tuple[int | str, bytes]:
    """GET, or POST `body` as JSON: (status, body), or ("conn", what failed)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError) as error:  # refused, reset, timed out, a broken answer
        return "conn", repr(error).encode()


def readiness(base: str) -> tuple[int | str, dict[str, tuple[int, int]]]:
    """GET /healthz/ready's status, and the outbox's (unshipped, dead-lettered) per consumer
    from GET /healthz/status."""
    status, body = request(f"{base}/healthz/ready", timeout=5)
    if status == "conn":
        ERRORS.append(f"{time.strftime('%T')} /healthz/ready {body.decode()}")
        return status, {}
    answer, body = request(f"{base}/healthz/status", timeout=5)
    try:
        outbox = json.loads(body).get("outbox", []) if answer == 200 else []
    except ValueError:  # not the status JSON: no backlog to tell
        outbox = []
    return status, {b["consumer"]: (b["unshipped"], b["dead_lettered"]) for b in outbox}


def start_service(var_dir: Path) -> tuple[subprocess.Popen, int]:
    """Set up and start `make run`'s service in `var_dir` on a free port, as the test does."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The embedded defaults, and nothing sent anywhere: emails and SMS go to the worker's log.
    servers = ("DATABASE_URL", "CLICKHOUSE_URL", "CELERY_BROKER_URL", "CACHE_URL", "SENTRY_DSN")
    outbound = ("EMAIL_HOST", "SMS_WEBHOOK_URL", "INTERNAL_ALERT_EMAIL", "INTERNAL_WEBHOOK_URL")
    env = {k: v for k, v in os.environ.items() if k not in servers + outbound}
    env |= {"VAR_DIR": str(var_dir), "ALLOW_ANONYMOUS": "true", "LOG_FORMAT": "console"}
    env |= {"NOTIFICATION_CONSOLE_DELIVERY": "true"}  # as `make run` sets it
    env |= {"PORT": str(port), "WEB_CONCURRENCY": "2", "BIN": str(Path(sys.executable).parent)}
    for command in ("migrate", "create_test_users", "clickhouse_migrate"):
        manage = [sys.executable, "manage.py", command]
        done = subprocess.run(manage, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"manage.py {command} failed:\n{done.stderr[-3000:]}")
    with open(var_dir / "service.out", "wb") as out, open(var_dir / "service.err", "wb") as err:
        command = [sys.executable, "bin/run-embedded"]
        # The leader of a process group of its own, as a terminal's job.
        group = dict(stdout=out, stderr=err, start_new_session=True)
        return subprocess.Popen(command, cwd=ROOT, env=env, **group), port


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (Linux)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(child) for child in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
        for child in children:
            found |= {child} | descendants(child)
    return found


def alive(pid: int, group: int | None = None) -> bool:
    """`pid` runs (not a zombie), in process group `group` when one is given."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat[0] != "Z" and group in (None, int(stat[2]))


def worker_pid(service: subprocess.Popen) -> int | None:
    for pid in descendants(service.pid):
        try:
            if b"run_embedded_worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except FileNotFoundError:
            continue
    return None


def kill_worker(service: subprocess.Popen, base: str, log: Path, kills: list[str]) -> None:
    """SIGKILL the worker; time a new worker process, its `worker.ready` log line and then
    /healthz/ready's 200 (60 s at most)."""
    killed, after, seen, not_ready = worker_pid(service), {}, b"", 0
    if killed is None:
        return kills.append("FAILED: no worker process found to kill")
    with open(log, "rb") as stream:
        stream.seek(0, os.SEEK_END)
        os.kill(killed, signal.SIGKILL)
        sent = time.monotonic()
        while "ready" not in after and time.monotonic() < sent + 60:
            elapsed = round(time.monotonic() - sent, 1)
            if "new" not in after and worker_pid(service) not in (None, killed):
                after["new"] = elapsed
            seen = seen[-100:] + stream.read()
            if "up" not in after and b"worker.ready" in seen:
                after["up"] = elapsed
            status = readiness(base)[0]
            not_ready += status != 200
            if "up" in after and status == 200:
                after["ready"] = elapsed
            time.sleep(0.1)
    kills.append(
        ("" if "ready" in after else "FAILED: ")
        + f"worker {killed} SIGKILLed; seconds until a new worker process, its worker.ready "
        + f"and then /healthz/ready 200: {after} ({not_ready} probes not 200 meanwhile)"
    )


def stop_service(service: subprocess.Popen) -> list[str]:
    """SIGINT the service's process group, as Ctrl-C does: what was unclean about its stop."""
    processes = descendants(service.pid)
    sent = time.monotonic()
    os.killpg(service.pid, signal.SIGINT)
    try:
        service.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(service.pid, signal.SIGKILL)
        service.wait()
    took, problems = time.monotonic() - sent, []
    print(f"stopped with SIGINT in {took:.1f} s, status {service.returncode}")
    if service.returncode != 0 or took >= 10:
        problems.append(f"unclean stop: status {service.returncode} after {took:.1f} s")
    left = [pid for pid in processes if alive(pid)]
    left += [int(p.name) for p in Path("/proc").glob("[0-9]*") if alive(int(p.name), service.pid)]
    if left:
        problems.append(f"processes left: {sorted(set(left))}")
    return problems


def load_thread(load: Load, slots, rate: float, start: float, end: float) -> None:
    """Send one request per slot of a schedule shared by every thread, until the end."""
    rng = random.Random()
    try:
        for slot in slots:  # bounded: an iterator over the run's slots, shared
            due = start + slot / rate
            if due >= end or time.monotonic() >= end or STOP.is_set():
                return
            time.sleep(max(due - time.monotonic(), 0))
            load.send(rng.choices(list(WEIGHTS), list(WEIGHTS.values()))[0], rng)
    except Exception as error:  # this script's bug: stop the run, fail it
        ERRORS.append(f"a load thread crashed: {error!r}")
        STOP.set()


def soak(args, load: Load, service, var_dir, kill_at: list[float], kills: list[str]) -> list[str]:
    """Load the service, kill its worker on schedule, print progress; then wait for the drain."""
    start, failures, helpers = time.monotonic(), [], []
    end, scheduled = start + args.minutes * 60, int(args.minutes * 60 * args.rate)
    slots = iter(range(scheduled))
    schedule = (load, slots, args.rate, start, end)
    threads = [threading.Thread(target=load_thread, args=schedule) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    next_line = start + 10
    while any(thread.is_alive() for thread in threads) and time.monotonic() < end + 60:
        now = time.monotonic()
        if kill_at and now - start >= kill_at[0]:
            kill_at.pop(0)
            kill = (service, load.base, var_dir / "service.err", kills)
            helpers.append(threading.Thread(target=kill_worker, args=kill))
            helpers[-1].start()
        if now >= next_line:
            next_line += 10
            print(progress(now - start, load), flush=True)
        if service is not None and service.poll() is not None:
            failures.append(f"the service exited by itself (status {service.returncode})")
            STOP.set()
            break
        time.sleep(0.1)
    for thread in threads + helpers:
        thread.join(timeout=70)
    print(progress(time.monotonic() - start, load))
    print(f"sent {load.sent()} of the {scheduled} requests scheduled", flush=True)
    deadline, drained = time.monotonic() + 60, False
    while time.monotonic() < deadline and not drained:
        outbox = readiness(load.base)[1]
        drained = bool(outbox) and not sum(unshipped for unshipped, _ in outbox.values())
        time.sleep(0 if drained else 1)
    print(f"outbox {'drained' if drained else 'NOT drained in 60 s'}: {outbox} (unshipped, dead)")
    failures += [] if drained else ["the outbox backlog did not drain within 60 s"]
    return failures + [f"dead letters: {outbox}" for _, dead in outbox.values() if dead][:1]


def percentiles(latencies: list[tuple[str, float]], endpoint: str | None = None) -> str:
    values = sorted(s for e, s in latencies if endpoint in (None, e)) or [0.0]
    return " ".join(f"p{q} {values[(len(values) - 1) * q // 100] * 1000:.0f} ms" for q in (50, 99))


def progress(elapsed: float, load: Load) -> str:
    status, outbox = readiness(load.base)
    with load.lock:
        window, load.shown = load.latencies[load.shown :], len(load.latencies)
        codes = collections.Counter()
        for (_, code), n in load.statuses.items():
            codes[code] += n
    sent = " ".join(f"{e} {load.sent(e)}" for e in ENDPOINTS)
    shown = " ".join(f"{c}:{n}" for c, n in sorted(codes.items(), key=str))
    left = " ".join(f"{c}={u}" for c, (u, _) in outbox.items()) or "?"
    return (
        f"[{elapsed:4.0f} s] {sent} | {shown} | 5xx/conn {len(ERRORS)} | {percentiles(window)} | "
        f"ready {status}, unshipped {left}"
    )


def summary(load: Load | None, kills: list[str], var_dir: Path | None, failures: list[str]) -> None:
    print("--- summary")
    for endpoint in ENDPOINTS if load else ():
        codes = {c: n for (e, c), n in load.statuses.items() if e == endpoint}
        path, latency = ENDPOINTS[endpoint], percentiles(load.latencies, endpoint)
        print(f"{endpoint} ({path}): {load.sent(endpoint)} requests {codes}, {latency}")
    print(f"items rejected in 2xx answers: {load and load.rejected}")
    print(f"5xx and connection errors (/healthz/ready's included): {len(ERRORS)}")
    for error in ERRORS[:20]:
        print(f"  {error}")
    failures += [f"{len(ERRORS)} 5xx or connection errors"] if ERRORS else []
    print("\n".join(kills) or "worker kills: none")
    failures += [kill for kill in kills if kill.startswith("FAILED")]
    if var_dir is not None:
        log = (var_dir / "service.err").read_text(errors="replace")
        lines = [line for line in log.splitlines() if "run-embedded:" in line]
        print(f"web or worker exits ({var_dir}/service.err): {lines or 'none'}")
        failures += [f"unclean stop: {u!r} in the log" for u in UNCLEAN if u in log]
    print("FAILED: " + "; ".join(failures) if failures else "PASSED")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="a running service")
    parser.add_argument("--start", action="store_true", help="set up and start a fresh one")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="requests/s in total")
    parser.add_argument("--threads", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--users", type=int, default=300, help="external ids of product events")
    parser.add_argument("--kill-worker-at", action="append", default=[], help="s; a,b or again")
    args = parser.parse_args()
    kill_at = sorted(float(s) for arg in args.kill_worker_at for s in arg.split(",") if s)
    if kill_at and not args.start:
        parser.error("--kill-worker-at needs --start")
    if kill_at and kill_at[-1] >= args.minutes * 60:
        parser.error("--kill-worker-at: an offset after the load ends")
    if urllib.parse.urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
        parser.error("--url must be on 127.0.0.1")
    service, var_dir, base = None, None, args.url.rstrip("/")
    if args.start:
        var_dir = Path(tempfile.mkdtemp(prefix="embedded-soak-"))
        service, port = start_service(var_dir)
        base = f"http://127.0.0.1:{port}"
        print(f"service {service.pid} on {base}, VAR_DIR {var_dir}", flush=True)
    load, kills, failures = None, [], []
    try:
        deadline = time.monotonic() + 90
        while readiness(base)[0] != 200 and not failures:
            if time.monotonic() > deadline or (service and service.poll() is not None):
                failures.append("the service never became ready")
            time.sleep(0.5)
        ERRORS.clear()  # refused while it started
        if not failures:
            load = Load(base, args.users)
            failures = soak(args, load, service, var_dir, kill_at, kills)
    finally:
        if service is not None and service.poll() is None:
            failures += stop_service(service)
    summary(load, kills, var_dir, failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
