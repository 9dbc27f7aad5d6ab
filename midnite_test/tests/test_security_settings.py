"""HTTPS settings: on by default once deployed (DEBUG off, a SECRET_KEY of its own), off for
`make run`, docker-compose and the tests (a published key, plain HTTP); the health probes and
the Prometheus scrape answer over plain HTTP either way."""

import os
import secrets

import pytest
from django.test import override_settings

from midnite_test.tests.manage_process import manage_run

HTTPS_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
)
PRINT_HTTPS_SETTINGS = (
    "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
    "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
)


def _manage(*args: str, **variables: str):
    return manage_run(*args, unset=HTTPS_VARIABLES, **variables)


def _https_settings(**variables: str) -> str:
    result = _manage("shell", "-v", "0", "-c", PRINT_HTTPS_SETTINGS, **variables)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_make_check_deploy_environment_passes_the_deploy_check_without_a_warning():
    # The Makefile's check-deploy target's environment.
    result = _manage(
        "check",
        "--deploy",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="api.example.com",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        CACHE_URL=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15"),
        CLICKHOUSE_URL="http://clickhouse.example.com:8123/default",
        EMAIL_HOST="smtp.example.com",
        SMS_WEBHOOK_URL="https://sms.example.com/send",
        INTERNAL_WEBHOOK_URL="https://alerts.example.com/hook",
    )

    assert result.returncode == 0, result.stderr
    assert "WARNINGS" not in result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_a_deployment_behind_a_tls_proxy_is_https_only_by_default():
    deployed = _https_settings(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )

    assert deployed == "True 31536000 True True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_without_the_proxy_header_a_deployment_does_not_redirect_which_would_loop():
    """granian serves plain HTTP: without the header no request looks like HTTPS."""
    deployed = _https_settings(DEBUG="false", SECRET_KEY=secrets.token_urlsafe(50))

    assert deployed == "False 31536000 True True None"


@pytest.mark.parametrize(
    "variables",
    [{"DEBUG": "false"}, {"DEBUG": "false", "SECRET_KEY": "change-me"}, {"DEBUG": "true"}],
    ids=["make-run", "docker-compose", "debug"],
)
def test_a_published_secret_key_or_debug_serves_plain_http(variables):
    assert _https_settings(**variables) == "False 0 False False None"


def test_each_https_setting_is_overridden_by_its_variable():
    chosen = _https_settings(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="3600",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
    )

    assert chosen == "False 3600 False False ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_proxy_header_setting_that_is_not_a_header_and_a_value_stops_start_up():
    result = _manage("check", SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO")

    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER" in result.stderr


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
@pytest.mark.parametrize(
    "path", ["/healthz/live", "/healthz/ready", "/health", "/ready", "/prometheus/metrics"]
)
def test_with_the_https_redirect_on_the_probes_and_the_scrape_answer_plain_http(client, path):
    assert client.get(path).status_code != 301


@pytest.mark.django_db
@override_settings(SECURE_SSL_REDIRECT=True)
def test_with_the_https_redirect_on_the_rest_is_sent_to_https(client):
    response = client.get("/console/login/")

    assert (response.status_code, response.headers["Location"]) == (
        301,
        "https://testserver/console/login/",
    )
