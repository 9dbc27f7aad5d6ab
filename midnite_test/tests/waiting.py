"""Waiting in tests: for a condition, until a deadline, never for a fixed time.

What a test waits on here lives in another process, thread or connection (a server coming up,
a worker's commit, a row another connection writes), so nothing notifies the test: it asks
again every `POLL_SECONDS` until the condition holds or the deadline passes.
"""

import time
from collections.abc import Callable

POLL_SECONDS = 0.05


def wait_until(condition: Callable[[], object], *, seconds: float) -> bool:
    """Return True as soon as `condition()` is truthy, False once `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
