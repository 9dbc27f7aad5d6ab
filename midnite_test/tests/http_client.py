"""Requests to a server a test started in another process (granian, `make run`'s service)."""

import json
import urllib.request


def post_json(port: int, path: str, body: dict | list) -> dict:
    """POST `body` as JSON to the server on 127.0.0.1:`port`; return its JSON answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def serving(port: int) -> bool:
    """Whether a server on 127.0.0.1:`port` answers its liveness probe (/healthz/live)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/live", timeout=2):
            return True
    except OSError:
        return False
