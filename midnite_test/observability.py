"""Error and performance reporting: Sentry, switched on by SENTRY_DSN."""


def sentry_configure(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Start sentry-sdk with the Django and Celery integrations when `dsn` is set.

    Without a DSN nothing is started, and the relay's transactions and spans cost nothing.
    Personal data (user details, request bodies) is not sent: sentry-sdk's default.
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
    )
