import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from alerts.fast_path import transaction_fast_path
from alerts.tests.wsgi_client import wsgi_call


@pytest.fixture
def served():
    """Send one request to the WSGI application as a server runs it (the fast path in front of
    Django's handler); return the status, the headers and the body (`wsgi_call`).

    It answers inside the test's transaction: closing "old" connections, as a request's end
    does, would end it. Django's test client does the same around each of its requests, and
    connects them again after it, so this does it around each request too.
    """

    def send(method: str, path: str, content: bytes, **options):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            return wsgi_call(transaction_fast_path(WSGIHandler()), method, path, content, **options)
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return send
