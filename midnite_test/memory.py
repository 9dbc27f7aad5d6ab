"""Memory management for requests that build many objects at once."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector for the duration (performance only).

    A large request (a 5,000-event bulk body) builds tens of thousands of containers that stay
    alive together, so each collection of the older generations would walk them all again;
    none of them forms a cycle, and reference counting frees them when the request is done.
    Leaves the collector as the block found it: a nested or concurrent pause only re-enables
    a collector that was enabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
