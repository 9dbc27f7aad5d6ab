"""Turn exceptions into the API's one error shape: {"error", "message", "details"}.

Known exceptions (DomainError, DRF's APIException, Django's ValidationError and Http404) become
4xx answers; anything else returns None, so a bug still shows as a 500.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from midnite_test.errors import DomainError
from midnite_test.parsers import PayloadTooLarge

INVALID_PAYLOAD = "invalid_payload"


def error_body(*, code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    """Return the API's error body."""
    return {"error": code, "message": message, "details": details or {}}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render `exc` as an error body, or return None to let it become a 500."""
    if isinstance(exc, DomainError):
        body = error_body(code=exc.code, message=exc.message, details=exc.details)
        return Response(body, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = _api_exception_body(exc)
    return response


def _api_exception_body(exc: exceptions.APIException) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_body(
            code=INVALID_PAYLOAD,
            message="The request body is invalid; see details for each field.",
            details=details,
        )
    if isinstance(exc, exceptions.ParseError):
        return error_body(code=INVALID_PAYLOAD, message=str(exc.detail))
    return error_body(code=exc.default_code, message=str(exc.detail))
