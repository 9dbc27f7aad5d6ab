"""The JSON the console's pages poll: compact, and errors in the API's one shape."""

from typing import Any

from django.http import JsonResponse

from midnite_test.exception_handler import error_body

_COMPACT = {"separators": (",", ":"), "ensure_ascii": False}


def json_answer(body: dict[str, Any], *, status: int = 200) -> JsonResponse:
    """Return `body` as JSON that no cache keeps: a page polls it for what is new."""
    response = JsonResponse(body, status=status, json_dumps_params=_COMPACT)
    response["Cache-Control"] = "no-store"
    return response


def json_error(
    *, code: str, message: str, status: int, details: dict[str, Any] | None = None
) -> JsonResponse:
    """Return the API's error body with `status`."""
    return json_answer(error_body(code=code, message=message, details=details), status=status)
