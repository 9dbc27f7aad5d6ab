"""Errors become HTTP in one place, in one shape; unknown errors stay 500s."""

import json

from django.core.exceptions import ValidationError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions

from midnite_test.errors import DomainError
from midnite_test.exception_handler import api_exception_handler
from midnite_test.http_errors import server_error


class AccountFrozen(DomainError):
    code = "account_frozen"
    http_status = 423


def test_domain_error_renders_its_code_status_and_details():
    response = api_exception_handler(AccountFrozen("Frozen.", details={"id": 3}), {})

    assert response.status_code == 423
    assert response.data == {"error": "account_frozen", "message": "Frozen.", "details": {"id": 3}}


def test_django_validation_error_is_invalid_payload_with_field_details():
    error = ValidationError({"amount": ["Too small."]})

    response = api_exception_handler(error, {})

    assert response.status_code == 400
    assert response.data["error"] == "invalid_payload"
    assert response.data["details"] == {"amount": ["Too small."]}


def test_validation_error_without_fields_lands_in_non_field_errors():
    response = api_exception_handler(exceptions.ValidationError(["Bad."]), {})

    assert response.data["details"] == {"non_field_errors": ["Bad."]}


def test_http404_is_not_found():
    response = api_exception_handler(Http404(), {})

    assert response.status_code == 404
    assert response.data["error"] == "not_found"


def test_drf_exceptions_keep_their_status_and_code():
    response = api_exception_handler(exceptions.MethodNotAllowed("PUT"), {})

    assert response.status_code == 405
    assert response.data == {
        "error": "method_not_allowed",
        "message": 'Method "PUT" not allowed.',
        "details": {},
    }


def test_unknown_exception_is_left_to_become_a_500():
    assert api_exception_handler(KeyError("bug"), {}) is None


def test_server_error_page_is_json_in_the_error_shape():
    response = server_error(RequestFactory().get("/event"))

    assert response.status_code == 500
    assert json.loads(response.content)["error"] == "internal_error"


def test_a_host_the_service_does_not_answer_to_is_400_naming_the_header(client, settings):
    """ "Bad request." alone did not say that the Host header was what was wrong."""
    settings.ALLOWED_HOSTS = ["api.example.com"]

    response = client.get("/healthz/live", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response.json() == {
        "error": "bad_request",
        "message": "The Host header 'evil.example' is not one this service answers to "
        "(ALLOWED_HOSTS).",
        "details": {"host": "evil.example"},
    }
