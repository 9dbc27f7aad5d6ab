"""Django-level error views, so that even URLs outside DRF answer in the API's error shape."""

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, JsonResponse

from midnite_test.exception_handler import error_body

# As DRF's JSONRenderer writes every other answer: compact.
_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


def error_response(body: dict, *, status: int) -> JsonResponse:
    return JsonResponse(body, status=status, json_dumps_params=_COMPACT)


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """Answer an unknown URL with 404."""
    body = error_body(code="not_found", message=f"No endpoint at {request.path}.")
    return error_response(body, status=404)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    """Answer a request Django refused (e.g. a disallowed Host header) with 400."""
    if isinstance(exception, DisallowedHost):
        host = request.META.get("HTTP_HOST", "")[:200]
        message = f"The Host header {host!r} is not one this service answers to (ALLOWED_HOSTS)."
        body = error_body(code="bad_request", message=message, details={"host": host})
        return error_response(body, status=400)
    return error_response(error_body(code="bad_request", message="Bad request."), status=400)


def server_error(request: HttpRequest) -> JsonResponse:
    """Answer an unexpected failure with 500; the traceback goes to the logs."""
    body = error_body(code="internal_error", message="An unexpected error occurred.")
    return error_response(body, status=500)
