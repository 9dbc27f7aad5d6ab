"""Django settings, read from the environment (12-factor, python-decouple).

Every value has an embedded default that runs the service on one machine with SQLite and no
other service. See env.example for the full list.
"""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from decouple import Csv, config
from django.core.exceptions import ImproperlyConfigured

from midnite_test.structured_logging import logging_configure
from midnite_test.observability import sentry_configure

BASE_DIR = Path(__file__).resolve().parent.parent
# Where the embedded defaults keep their state: SQLite, chDB, the worker's socket.
VAR_DIR = Path(config("VAR_DIR", default=str(BASE_DIR / "var")))

# SECRET_KEYs published with the service (this default, env.example's, docker-compose.yml's):
# anyone can sign an admin session with them (api_keys.checks refuses them in `check --deploy`).
PUBLISHED_SECRET_KEYS = frozenset({"dev-only-insecure-key-change-me-in-production", "change-me"})
SECRET_KEY = config("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production")
DEBUG = config("DEBUG", default=False, cast=bool)

# HTTPS only, by default, once deployed: DEBUG off and a SECRET_KEY of its own. `make run`,
# docker-compose and the tests keep a published key (or DEBUG) and serve plain HTTP.
HTTPS_ONLY_BY_DEFAULT = not DEBUG and SECRET_KEY not in PUBLISHED_SECRET_KEYS


def _proxy_ssl_header(value: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from "HTTP_X_FORWARDED_PROTO,https": the header (as Django names
    it in request.META) and its value that a TLS proxy in front sets on HTTPS requests."""
    if not value:
        return None
    parts = tuple(part.strip() for part in value.split(","))
    if len(parts) != 2 or not all(parts):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER must be a header and a value, e.g. "
            f"HTTP_X_FORWARDED_PROTO,https; not {value!r}."
        )
    return parts


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header(config("SECURE_PROXY_SSL_HEADER", default=""))
# granian serves plain HTTP: the service tells an HTTPS request only by its TLS proxy's header.
# Without that header every request looks like plain HTTP and a redirect would loop, so the
# redirect is on by default only once the header is set.
SECURE_SSL_REDIRECT = config(
    "SECURE_SSL_REDIRECT",
    default=HTTPS_ONLY_BY_DEFAULT and SECURE_PROXY_SSL_HEADER is not None,
    cast=bool,
)
# The probes and the scrape come from inside the network, over plain HTTP (paths without "/").
SECURE_REDIRECT_EXEMPT = [r"^healthz/", r"^health$", r"^ready$", r"^prometheus/metrics$"]
SECURE_HSTS_SECONDS = config(
    "SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS_ONLY_BY_DEFAULT else 0, cast=int
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = config(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS_ONLY_BY_DEFAULT, cast=bool
)
SECURE_HSTS_PRELOAD = config("SECURE_HSTS_PRELOAD", default=HTTPS_ONLY_BY_DEFAULT, cast=bool)
SESSION_COOKIE_SECURE = config("SESSION_COOKIE_SECURE", default=HTTPS_ONLY_BY_DEFAULT, cast=bool)
CSRF_COOKIE_SECURE = config("CSRF_COOKIE_SECURE", default=HTTPS_ONLY_BY_DEFAULT, cast=bool)
# A refused POST to a console JSON endpoint answers in the API's error shape (console.access).
CSRF_FAILURE_VIEW = "console.access.csrf_failure"

ALLOWED_HOSTS = config("ALLOWED_HOSTS", default="localhost,127.0.0.1,[::1],testserver", cast=Csv())

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api_keys",
    "outbox",
    "users",
    "events",
    "rule_sets",
    "alerts",
    "metrics",
    "notifications",
    "console",
]

MIDDLEWARE = [
    # First, so a request's time is the whole chain's (midnite_test/prometheus.py).
    "midnite_test.prometheus.PrometheusMiddleware",
    "midnite_test.middleware.RequestIdMiddleware",
    "midnite_test.length_required.LengthRequiredMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "midnite_test.urls"
WSGI_APPLICATION = "midnite_test.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database(url: str) -> dict:
    """Return a DATABASES entry for `url`, tuned per engine.

    PostgreSQL keeps connections open between requests, binds parameters on the server and
    prepares a statement once it has run DATABASE_PREPARE_THRESHOLD times on a connection
    (README, "Prepared statements and PgBouncer"). SQLite takes its write lock when a
    transaction begins (IMMEDIATE), so concurrent writers queue instead of failing with
    "database is locked" half-way through, and runs in WAL mode so readers do not block.
    """
    database = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    if database["ENGINE"] == "django.db.backends.postgresql":
        # Server-side binding alone prepares nothing: psycopg prepares a statement only when
        # `prepare_threshold` is set, and Django passes None (never) unless OPTIONS sets it.
        database["OPTIONS"] = {
            "server_side_binding": True,
            "prepare_threshold": _prepare_threshold(config("DATABASE_PREPARE_THRESHOLD", "5")),
        }
    elif database["ENGINE"] == "django.db.backends.sqlite3":
        database["CONN_MAX_AGE"] = 0
        # Tests use a file too, not shared-cache memory, so threads lock as processes do.
        database["TEST"] = {"NAME": f"{database['NAME']}.test"}
        database["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return database


def _prepare_threshold(value: str) -> int | None:
    """Return psycopg's prepare_threshold: empty means never prepare (PgBouncer < 1.21)."""
    return int(value) if value.strip() else None


DATABASES = {
    "default": _database(config("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'midnite.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The admin's and the docs' static files are served by WhiteNoise straight from the apps.
WHITENOISE_USE_FINDERS = True
# What the console's pages and the audit page share (a table that scrolls sideways under a
# caption): in the project's kernel, which no app's layer sits above.
STATICFILES_DIRS = [BASE_DIR / "midnite_test" / "static"]

# A request body larger than this is answered with 413 (see midnite_test.exception_handler).
# The largest body any endpoint accepts (POST /events/bulk). Each view has its own, smaller
# limit (`max_body_bytes`, 64 KiB by default), enforced by midnite_test.parsers.
DATA_UPLOAD_MAX_MEMORY_SIZE = 32 * 1024 * 1024

REST_FRAMEWORK = {
    # Every API view needs an API key (or ALLOW_ANONYMOUS) unless it says otherwise, as the
    # health probes and the docs do; every one is throttled per key, or per IP without one.
    "DEFAULT_AUTHENTICATION_CLASSES": ["api_keys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api_keys.permissions.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["api_keys.throttles.ApiKeyRateThrottle"],
    # Proxies in front of the service: their X-Forwarded-For names the client IP that requests
    # without a key are throttled by. 0 trusts no such header.
    "NUM_PROXIES": config("NUM_PROXIES", default=0, cast=int),
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_PARSER_CLASSES": ["midnite_test.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["midnite_test.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "midnite_test.negotiation.FormatQueryNegotiation",
    "EXCEPTION_HANDLER": "midnite_test.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# API keys (README, "API keys and tenants"). With ALLOW_ANONYMOUS a request without a key is
# served and acts on every tenant (`make run` sets it); a key that is sent must be valid.
ALLOW_ANONYMOUS = config("ALLOW_ANONYMOUS", default=False, cast=bool)
# Each process keeps a key lookup this long, so a revoked key stops working within it: at
# most 2 s (api_keys.checks). One query per key per process per period, with or without Redis.
API_KEY_CACHE_SECONDS = config("API_KEY_CACHE_SECONDS", default=1.0, cast=float)
# Requests per key (per client IP without a key), e.g. 6000/min; empty switches throttling off.
API_THROTTLE_RATE = config("API_THROTTLE_RATE", default="6000/min")
# POST /event's plain case answered in front of Django's request cycle (alerts.fast_path).
EVENT_FAST_PATH = config("EVENT_FAST_PATH", default=True, cast=bool)
# GET /prometheus/metrics asks for `Authorization: Bearer <this>`; empty: open, for a scrape
# endpoint served on a private network (README, "Prometheus").
PROMETHEUS_SCRAPE_TOKEN = config("PROMETHEUS_SCRAPE_TOKEN", default="")


def _cache(url: str) -> dict:
    """Return the default cache: Redis at `url` (shared by every process), else local memory.

    It holds the throttle's counters. Redis that does not answer within a second lets
    requests through (api_keys.throttles) rather than holding them up.
    """
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


CACHES = {"default": _cache(config("CACHE_URL", default=""))}

SPECTACULAR_SETTINGS = {
    "TITLE": "Event monitoring API",
    "DESCRIPTION": (
        "Transaction alerts, idempotent event ingestion, event queries and time-bucketed "
        "metrics for a fintech app. Errors share one shape: "
        '`{"error": "<code>", "message": "...", "details": {...}}`. See README.md and docs/.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["midnite_test.openapi.exclude_alias_paths"],
    "ENUM_NAME_OVERRIDES": {
        "RuleSetVersionStatusEnum": "rule_sets.models.RuleSetVersion.Status",
        "BacktestStatusEnum": "rule_sets.models.RuleSetBacktest.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "midnite_test.openapi.add_api_key_errors",
        "midnite_test.openapi.add_body_errors",
    ],
}

ALERT_RULES_PATH = Path(
    config("ALERT_RULES_PATH", default=str(BASE_DIR / "config" / "alert_rules.yml"))
)

# Notification rules and templates (docs/rules.md, "Notification rules").
NOTIFICATION_RULES_PATH = Path(
    config("NOTIFICATION_RULES_PATH", default=str(BASE_DIR / "config" / "notification_rules.yml"))
)
NOTIFICATION_TEMPLATES_PATH = Path(
    config("NOTIFICATION_TEMPLATES_PATH", default=str(BASE_DIR / "config" / "notifications.yaml"))
)

ENVIRONMENT = config("ENVIRONMENT", default="development")

# Analytics: embedded ClickHouse (chDB, one process per path: the worker) or a server.
CLICKHOUSE_URL = config("CLICKHOUSE_URL", default=f"chdb://{VAR_DIR / 'clickhouse'}")
# /healthz/status names the worker failed once its heartbeat is this old (embedded ClickHouse too).
CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS = config("CLICKHOUSE_HEARTBEAT_MAX_AGE_SECONDS", 30, cast=int)

# The outbox relay (docs/architecture.md, "Workers and the outbox").
OUTBOX_BATCH_SIZE = config("OUTBOX_BATCH_SIZE", default=10_000, cast=int)
# A batch of a consumer that reacts inside the database (metrics, notifications) is sized to
# take about this long: its transaction holds back the commit horizon every claim waits for.
OUTBOX_HANDLER_BATCH_SECONDS = config("OUTBOX_HANDLER_BATCH_SECONDS", default=1.0, cast=float)
# The tick: each worker runs each consumer this often (the worker schedule, celery.py), and it
# takes everything committed meanwhile.
# The table logs (the events and their alerts) send no wake-up: this bounds their latency.
OUTBOX_RELAY_INTERVAL_SECONDS = config("OUTBOX_RELAY_INTERVAL_SECONDS", default=0.5, cast=float)
# One relay task ships batches for at most this long, then leaves the worker to other tasks.
OUTBOX_RELAY_MAX_SECONDS = config("OUTBOX_RELAY_MAX_SECONDS", default=2.0, cast=float)
OUTBOX_WAKEUP_INTERVAL = config("OUTBOX_WAKEUP_INTERVAL", default=0.05, cast=float)
OUTBOX_RETRY_BASE_SECONDS = config("OUTBOX_RETRY_BASE_SECONDS", default=1.0, cast=float)
OUTBOX_RETRY_MAX_SECONDS = config("OUTBOX_RETRY_MAX_SECONDS", default=60.0, cast=float)
OUTBOX_MAX_ATTEMPTS = config("OUTBOX_MAX_ATTEMPTS", default=3, cast=int)
OUTBOX_RETENTION_SECONDS = config("OUTBOX_RETENTION", default=7 * 24 * 3600, cast=int)

# Sending due notifications (notifications/sending.py): a sweep every interval, each send
# leased for this long (longer than any channel's timeout), a task sending for at most max.
NOTIFICATION_SEND_INTERVAL_SECONDS = config("NOTIFICATION_SEND_INTERVAL_SECONDS", 1.0, cast=float)
NOTIFICATION_SEND_LEASE_SECONDS = config("NOTIFICATION_SEND_LEASE_SECONDS", 300, cast=int)
NOTIFICATION_SEND_MAX_SECONDS = config("NOTIFICATION_SEND_MAX_SECONDS", 10.0, cast=float)


# Notification channels (notifications/channels.py; README, "Settings").
# Only where chosen (`make run` chooses it): a channel with no provider writes to the console
# (emails) or the log (SMS, internal alerts) instead of failing; `check --deploy` errs on a
# deployment that neither configures a provider nor chooses this.
NOTIFICATION_CONSOLE_DELIVERY = config("NOTIFICATION_CONSOLE_DELIVERY", default=False, cast=bool)
# Email: SMTP when EMAIL_HOST is set, else the console where chosen; tests use locmem.
# EMAIL_BACKEND may name any other Django email backend.
EMAIL_HOST = config("EMAIL_HOST", default="")
_EMAIL_CONSOLE = NOTIFICATION_CONSOLE_DELIVERY and not EMAIL_HOST
EMAIL_BACKEND = config(
    "EMAIL_BACKEND",
    default=f"django.core.mail.backends.{'console' if _EMAIL_CONSOLE else 'smtp'}.EmailBackend",
)
EMAIL_PORT = config("EMAIL_PORT", default=587, cast=int)
EMAIL_HOST_USER = config("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = config("EMAIL_HOST_PASSWORD", default="")
# STARTTLS (port 587) by default; EMAIL_USE_SSL for implicit TLS (port 465) instead.
EMAIL_USE_SSL = config("EMAIL_USE_SSL", default=False, cast=bool)
EMAIL_USE_TLS = config("EMAIL_USE_TLS", default=not EMAIL_USE_SSL, cast=bool)
# Seconds an SMTP connection or reply may take; a timeout is retried like any SMTP error.
EMAIL_TIMEOUT = config("EMAIL_TIMEOUT", default=10.0, cast=float)
DEFAULT_FROM_EMAIL = config("DEFAULT_FROM_EMAIL", default="notifications@localhost")


def _webhook_url(name: str) -> str:
    """Return the webhook URL in environment variable `name`: empty, or http(s) with a host."""
    url = config(name, default="")
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.hostname):
        raise ImproperlyConfigured(f"{name} must be an http:// or https:// URL, not {url!r}")
    return url


# Unset: SMS and internal alerts fail, or go to the log where NOTIFICATION_CONSOLE_DELIVERY.
SMS_WEBHOOK_URL = _webhook_url("SMS_WEBHOOK_URL")
INTERNAL_ALERT_EMAIL = config("INTERNAL_ALERT_EMAIL", default="", cast=Csv())
INTERNAL_WEBHOOK_URL = _webhook_url("INTERNAL_WEBHOOK_URL")
NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS = config(
    "NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS", default=5.0, cast=float
)
# Retryable failures wait base × 2^(attempt−1), capped, with jitter (notifications/delivery.py).
NOTIFICATION_RETRY_BASE_SECONDS = config(
    "NOTIFICATION_RETRY_BASE_SECONDS", default=30.0, cast=float
)
NOTIFICATION_RETRY_MAX_SECONDS = config(
    "NOTIFICATION_RETRY_MAX_SECONDS", default=3600.0, cast=float
)
NOTIFICATION_MAX_ATTEMPTS = config("NOTIFICATION_MAX_ATTEMPTS", default=5, cast=int)


def _celery_broker(url: str) -> tuple[str, dict, str]:
    """Return the broker URL, its transport options and the result backend for `url`.

    No URL (the embedded default) means no broker: `make run`'s one worker takes requests on
    EMBEDDED_WORKER_SOCKET (outbox/worker_channel.py) and keeps a ClickHouse query's answer in
    files under var/; production sets a redis:// URL.
    """
    if not url:
        # Never connected to; a host keeps kombu from warning that it has none.
        return "memory://localhost/", {}, f"file://{VAR_DIR / 'celery-results'}"
    # A web process publishing a wake-up gives up at once when Redis is down: the workers'
    # tick relays the message instead, and the request is not held up.
    options = {
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.1,
        "interval_max": 0.1,
    }
    return url, options, url


_broker_url_set = bool(config("CELERY_BROKER_URL", default=""))
(
    CELERY_BROKER_URL,
    CELERY_BROKER_TRANSPORT_OPTIONS,
    CELERY_RESULT_BACKEND,
) = _celery_broker(config("CELERY_BROKER_URL", default=""))
# Without a broker, where `manage.py run_embedded_worker` listens (outbox/embedded_worker.py).
EMBEDDED_WORKER_SOCKET = "" if _broker_url_set else str(VAR_DIR / "worker.sock")
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Each worker slot takes its next task only when it is free: a relay runs for seconds, and a
# task held behind it in the worker's own buffer (the ClickHouse heartbeat) would wait for it
# although another slot was free. The default, 4 per slot, suits many short tasks.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

LOG_LEVEL = config("LOG_LEVEL", default="INFO")
# json (production) or console (readable, for development).
LOG_FORMAT = config("LOG_FORMAT", default="json")
LOGGING_CONFIG = None
logging_configure(level=LOG_LEVEL, json=LOG_FORMAT == "json")

SENTRY_DSN = config("SENTRY_DSN", default="")
sentry_configure(
    dsn=SENTRY_DSN,
    environment=ENVIRONMENT,
    traces_sample_rate=config("SENTRY_TRACES_SAMPLE_RATE", default=0.1, cast=float),
)
