"""Send API requests from many threads at once, against the database's real locks."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections
from rest_framework.test import APIClient


def client_with_key(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


def post_all_at_once(path: str, bodies: list, *, api_key: str) -> list:
    """Post every body to `path` from its own thread, all released together.

    Returns the responses in the order of `bodies`. Each thread closes its own database
    connection, as a request-serving process would.
    """
    barrier = threading.Barrier(len(bodies))

    def post(body):
        client = client_with_key(api_key)
        barrier.wait()
        try:
            return client.post(path, body, format="json")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))
