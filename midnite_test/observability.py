"""Error and performance reporting: Sentry, switched on by SENTRY_DSN."""

# What a request's report may keep: no body, query string or cookies, which carry customers'
# emails, phone numbers and amounts.
_REQUEST_KEPT = frozenset({"method", "url", "headers", "env"})
# Where a PostgreSQL error's message goes on to quote values (psycopg's str of the error).
_POSTGRESQL_DETAIL = "\nDETAIL:"


def sentry_configure(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Start sentry-sdk with the Django and Celery integrations when `dsn` is set.

    Without a DSN nothing is started, and the relay's transactions and spans cost nothing.
    Nothing a customer sent leaves for Sentry: no personal data (user, cookies, IP address:
    sentry-sdk's default), no request body, no local variables of the failing frames (they hold
    the parsed body), and `sentry_event_scrub` removes what an integration adds anyway
    (midnite_test/tests/test_sentry_privacy.py reads what is sent).
    """
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        max_request_body_size="never",
        include_local_variables=False,
        before_send=sentry_event_scrub,
        before_send_transaction=sentry_event_scrub,
    )


def sentry_event_scrub(event: dict, hint: dict) -> dict:
    """Keep of an event's request only its method, URL and (filtered) headers.

    Also drops a Celery task's arguments, which may carry what a request sent, and the DETAIL
    of a PostgreSQL error, which quotes the row it failed on (`Key (lower(email))=(...)`).
    """
    for exception in event.get("exception", {}).get("values", []):
        if isinstance(exception.get("value"), str):
            exception["value"] = exception["value"].split(_POSTGRESQL_DETAIL)[0]
    request = event.get("request")
    if request:
        event["request"] = {name: value for name, value in request.items() if name in _REQUEST_KEPT}
    job = event.get("extra", {}).get("celery-job")
    if job:
        job.pop("args", None)
        job.pop("kwargs", None)
    return event
