"""The service's WSGI app with part of the outbox switched off, to measure what that part costs.

For `bench/outbox_cost.py` and `bench/event_throughput.py --without ...` only; never served
otherwise. `BENCH_WITHOUT=outbox`: nothing is published to the outbox (no rows, no wake-up;
an event, which writes no outbox row, wakes nobody).
`BENCH_WITHOUT=wakeup`: the outbox rows are written, the Celery wake-up after commit is not sent.
"""

import os
import sys

from midnite_test.wsgi import application  # noqa: F401 - first: sets Django up

import outbox.services

_WITHOUT = os.environ["BENCH_WITHOUT"]
_OFF = {
    "outbox": {
        name: (lambda **kwargs: 0)
        for name in ("outbox_publish", "outbox_publish_subjects")
        if hasattr(outbox.services, name)
    },
    "wakeup": {"outbox_wake": lambda **kwargs: None},
}
if _WITHOUT not in _OFF:
    raise SystemExit(f"BENCH_WITHOUT must be one of {sorted(_OFF)}, not {_WITHOUT!r}")
# Replace each function wherever it was imported by name, as well as where it is defined.
for name, replacement in _OFF[_WITHOUT].items():
    original = getattr(outbox.services, name)
    for module in list(sys.modules.values()):
        if getattr(module, name, None) is original:
            setattr(module, name, replacement)
