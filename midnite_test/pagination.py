"""The `next` link of a keyset-paged listing, shared by the API's list endpoints."""

from rest_framework.request import Request


def next_page_url(request: Request, cursor: str | None) -> str | None:
    """The URL of the page after `cursor`: this request's, with the cursor changed."""
    if cursor is None:
        return None
    params = request.query_params.copy()
    params["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
