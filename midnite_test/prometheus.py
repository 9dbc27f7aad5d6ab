"""Prometheus metrics: what every process counts, and the registry a scrape reads.

Counters and histograms only: each process adds to its own, and a scrape sums them. With
PROMETHEUS_MULTIPROC_DIR set (read from the environment by prometheus-client when it is first
imported), each process writes its values to memory-mapped files there, and the scrape, in
whichever web process answers it, adds up every file: granian's worker processes and the
worker's (Celery's pool or the embedded worker). Whatever starts the processes that share the
directory empties it first (bin/run-embedded; compose's `migrate` service): a process that
exits leaves its counts, which stay in the sums until then. Without the variable each process
counts alone and a scrape sees only the process it reached, which is right for one process.

Recording costs a lock and a write to memory (a few microseconds), never a query. The gauges
of the outbox are not kept here: `prometheus_collectors` reads them from the database when a
scrape asks. Imports no domain app (.importlinter): the apps import this.
"""

import functools
import os
import socket
import time
from collections import Counter as Tally
from collections.abc import Iterable

import prometheus_client
from django.db import transaction
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
    values,
)
from prometheus_client.registry import Collector
from whitenoise.middleware import WhiteNoiseFileResponse

MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
_HOST = socket.gethostname()


def _process_identifier() -> str:
    # Processes of several hosts (compose's containers) may share the directory, and a pid is
    # unique only within its host.
    return f"{_HOST}-{os.getpid()}"


if MULTIPROC_DIR:
    os.makedirs(MULTIPROC_DIR, exist_ok=True)
    values.ValueClass = values.MultiProcessValue(_process_identifier)
else:
    # Set but empty means none: prometheus-client alone would write files to the working
    # directory that no scrape reads.
    values.ValueClass = values.MutexValue

# The route of a request Django resolved no URL for (a 404, or refused before resolving).
UNMATCHED_ROUTE = "<unmatched>"
# The route of a file WhiteNoise served (STATIC_URL), which answers before any URL resolves.
STATIC_ROUTE = "<static>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# POST /event's route, as Django's URL conf names it, for the fast path that answers in front.
EVENT_ROUTE = "event"

HTTP_REQUEST_SECONDS = Histogram(
    "midnite_http_request_duration_seconds",
    "Requests answered, by route pattern, method and status class, and how long they took "
    "(its _count is the number of requests).",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ALERTS_RAISED = Counter(
    "midnite_alerts_raised_total",
    "Alerts raised by POST /event, by code, once committed.",
    ["code"],
)
NOTIFICATION_DECISIONS = Counter(
    "midnite_notification_decisions_total",
    "Decisions recorded on notifications, by rule and outcome (scheduled, sent, suppressed, "
    "not_matched, cancelled, failed), once committed.",
    ["rule", "status"],
)
RELAY_BATCH_MESSAGES = Histogram(
    "midnite_outbox_relay_batch_messages",
    "Entries in each batch the relay shipped to ClickHouse: messages, or a table log's rows.",
    ["consumer"],
    buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000, 25000),
)
RELAY_BATCH_SECONDS = Histogram(
    "midnite_outbox_relay_batch_duration_seconds",
    "How long the relay took to lease, render, insert and mark one batch.",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RELAY_BATCH_LAG_SECONDS = Histogram(
    "midnite_outbox_relay_lag_seconds",
    "Age of each shipped batch's oldest message when the batch was shipped.",
    ["consumer"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)


def http_request_observe(*, route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request under its route pattern, method and status class."""
    method = method if method in _METHODS else "other"
    HTTP_REQUEST_SECONDS.labels(route, method, f"{status // 100}xx").observe(seconds)


def event_fast_path_observe(*, started: float) -> None:
    """Count a `POST /event` the fast path answered (200), `started` by time.perf_counter()."""
    _event_answered().observe(time.perf_counter() - started)


@functools.cache
def _event_answered() -> Histogram:
    # The fast path's one series, looked up once: labels() alone is about half the cost.
    return HTTP_REQUEST_SECONDS.labels(EVENT_ROUTE, "POST", "2xx")


class PrometheusMiddleware:
    """Count every request Django answers, with its latency, under the URL pattern it matched.

    The pattern (`audit/<int:user_id>`), not the path, so the series stay as few as the routes.
    The time is the whole middleware chain's, up to the response (a streamed body's time
    after that is not counted). `POST /event`s the fast path answers are counted there.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        if match is not None:
            route = match.route
        else:
            route = (
                STATIC_ROUTE if isinstance(response, WhiteNoiseFileResponse) else UNMATCHED_ROUTE
            )
        http_request_observe(
            route=route,
            method=request.method,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


def alerts_raised_count(codes: Iterable[int]) -> None:
    """Count the alerts of a committed transaction, one per code."""
    for code in codes:
        _alerts_raised(code).inc()


@functools.cache
def _alerts_raised(code: int) -> Counter:
    # One series per rule code, looked up once per process, as `_event_answered`.
    return ALERTS_RAISED.labels(str(code))


def notification_decisions_count(decisions: Iterable[tuple[str, str]]) -> None:
    """Count decisions, (rule, status) each, when the transaction recording them commits."""
    tally = Tally(decisions)
    if not tally:
        return

    def count() -> None:
        for (rule, status), n in tally.items():
            NOTIFICATION_DECISIONS.labels(rule, status).inc(n)

    transaction.on_commit(count)


def relay_batch_observe(*, consumer: str, size: int, seconds: float, lag_seconds: float) -> None:
    """Record a batch the relay shipped: its size, how long it took, its oldest message's age."""
    RELAY_BATCH_MESSAGES.labels(consumer).observe(size)
    RELAY_BATCH_SECONDS.labels(consumer).observe(seconds)
    RELAY_BATCH_LAG_SECONDS.labels(consumer).observe(lag_seconds)


class _ThisProcess(Collector):
    """The default registry's metrics: this process's own, when there is no directory."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry(*collectors: Collector) -> CollectorRegistry:
    """Return a registry of every process's counts (or this one's) and `collectors`."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROC_DIR:
        multiprocess.MultiProcessCollector(registry, path=MULTIPROC_DIR)
    else:
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    return registry


def scrape_text(registry: CollectorRegistry) -> bytes:
    """Render `registry` in Prometheus's text format."""
    return prometheus_client.generate_latest(registry)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
