"""Send API requests from many threads at once, against the database's real locks."""

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connection, connections
from rest_framework.test import APIClient

from midnite_test.tests.waiting import wait_until


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


def set_once_a_backend_waits_on_a_lock(ready: threading.Event) -> None:
    """Set `ready` once a session of this database waits for a lock, or after 30 s.

    For a thread that holds a transaction open until another one blocks on its rows.
    PostgreSQL only.
    """
    try:
        wait_until(_a_backend_waits_on_a_lock, seconds=30)
    finally:
        ready.set()
        connection.close()


def _a_backend_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return bool(cursor.fetchone()[0])
