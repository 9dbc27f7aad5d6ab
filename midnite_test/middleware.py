"""A request id on every request: taken from X-Request-ID or made, logged and returned."""

import re
import uuid

import structlog
from django.core.signals import request_finished

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Bind the request id to every log line of the request and echo it in the response.

    A client's id is kept when it is short and plain, so ids can be followed across
    services; anything else is replaced, so a header cannot inject text into the logs.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_bind(offered=request.headers.get(REQUEST_ID_HEADER, ""))
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def request_id_bind(*, offered: str) -> str:
    """Bind the request's id (the client's `offered` one if acceptable) to its log lines."""
    request_id = offered if _ACCEPTABLE.fullmatch(offered) else uuid.uuid4().hex
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return request_id


def _request_id_unbind(**kwargs) -> None:
    structlog.contextvars.unbind_contextvars("request_id")


# Unbound when the response is done rather than when the middleware returns: Django logs
# 4xx and 5xx responses ("Service Unavailable: /healthz/ready") after the middleware chain.
request_finished.connect(_request_id_unbind, dispatch_uid="request_id_unbind")
