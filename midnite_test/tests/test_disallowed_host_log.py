"""A request for a host the service does not serve is one warning line, not an error's traceback.

Before: Django logged each at ERROR with the exception's traceback, though the client got its
400 and nothing failed.
"""

import logging

from rest_framework.test import APIClient

DISALLOWED_HOST = "django.security.DisallowedHost"


def test_a_disallowed_host_is_a_400_and_one_warning_without_a_traceback(db, settings, caplog):
    settings.ALLOWED_HOSTS = ["api.example.com"]

    with caplog.at_level(logging.INFO):
        response = APIClient().get("/healthz/live", HTTP_HOST="scanner.example")

    assert response.status_code == 400
    [record] = [record for record in caplog.records if record.name == DISALLOWED_HOST]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "scanner.example" in record.getMessage()
