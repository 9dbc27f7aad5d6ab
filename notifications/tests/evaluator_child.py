"""A notifications worker in a process of its own, kept running across an activation
(test_activation_second_process.py).

    python -m notifications.tests.evaluator_child  # per line read: evaluate, print DONE

DATABASE_URL comes from the environment, as in production.
"""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")
django.setup()

from outbox.contracts import CONSUMER_NOTIFICATIONS  # noqa: E402 - needs django.setup()
from outbox.services import outbox_process  # noqa: E402

if __name__ == "__main__":
    for _ in sys.stdin:
        outbox_process(consumer=CONSUMER_NOTIFICATIONS)
        print("DONE", flush=True)
