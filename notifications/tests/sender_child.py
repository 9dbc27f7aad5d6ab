"""A sender in a process of its own, for the crash tests (test_sending_crash.py).

    python -m notifications.tests.sender_child   # send what is due, then print SENT and a count

DATABASE_URL, SMS_WEBHOOK_URL, the lease and the timeouts come from the environment, as in
production.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")
django.setup()

from notifications.sending import notifications_send_due  # noqa: E402 - needs django.setup()

if __name__ == "__main__":
    print("SENT", notifications_send_due(), flush=True)
