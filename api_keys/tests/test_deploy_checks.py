"""`manage.py check --deploy` fails a production SECRET_KEY that is missing or published."""

import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

# The settings' default, and env.example's and docker-compose.yml's.
PUBLISHED_KEYS = ["dev-only-insecure-key-change-me-in-production", "change-me"]


@pytest.mark.parametrize(
    "key",
    [*PUBLISHED_KEYS, "", "django-insecure-" + secrets.token_urlsafe(50)],
    ids=["settings-default", "env-example", "empty", "django-generated"],
)
def test_a_published_or_missing_secret_key_fails_the_deploy_check(settings, key):
    settings.DEBUG = False
    settings.SECRET_KEY = key

    with pytest.raises(SystemCheckError, match=r"api_keys\.E003"):
        call_command("check", deploy=True, tags=["security"])


def test_a_random_secret_key_passes_the_deploy_check(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = secrets.token_urlsafe(50)

    call_command("check", deploy=True, tags=["security"])


def test_with_debug_on_the_default_secret_key_is_fine(settings):
    settings.DEBUG = True
    settings.SECRET_KEY = "dev-only-insecure-key-change-me-in-production"

    call_command("check", deploy=True, tags=["security"])


def test_the_plain_check_run_at_start_up_leaves_the_secret_key_alone(settings):
    """`make run` serves with DEBUG off and the default key; only `--deploy` refuses it."""
    settings.DEBUG = False
    settings.SECRET_KEY = "dev-only-insecure-key-change-me-in-production"

    call_command("check", tags=["security"])
