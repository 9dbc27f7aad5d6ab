"""A body sent without a Content-Length (chunked) is 411, not read as empty.

Django reads a request body by its Content-Length, and a WSGI server passes a chunked body
(`Transfer-Encoding: chunked`, as streaming clients send) without one: the body read as empty,
a valid event was answered "This field is required" for each of its fields. POST /event's fast
path never takes such a request (it needs a Content-Length), so this middleware answers it there
too.
"""

from midnite_test.exception_handler import error_body
from midnite_test.http_errors import error_response


class LengthRequiredMiddleware:
    """Answer 411 `length_required` to a request that has a Transfer-Encoding and no length."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if "HTTP_TRANSFER_ENCODING" in meta and not meta.get("CONTENT_LENGTH"):
            body = error_body(
                code="length_required",
                message="Send the request body with a Content-Length header: a chunked body "
                "(Transfer-Encoding) is not read.",
            )
            return error_response(body, status=411)
        return self.get_response(request)
