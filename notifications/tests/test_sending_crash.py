"""What a sender already sent is never sent again: not after it is killed mid-claim, nor when a
slow provider makes its claim outlive its lease. Senders run in processes of their own."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone as django_timezone

from notifications.models import Notification
from notifications.sending import notifications_send_due
from notifications.tests.conftest import evaluate, product_event
from users.models import User

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
SIGNUP = datetime(2025, 10, 30, 12, 0, tzinfo=timezone.utc)
S = Notification.Status
# Long enough for a loaded machine to answer within, short enough for sizing to matter.
# A delivery may take 2 x (2.5 + 0.25) = 5.5 s, so a claim takes 2 (11 // 5.5). The webhook's
# timeout is 6 times the slow provider's 0.4 s: at 1.5 s, a loaded box once made an answer late,
# and the retry after that timeout (same idempotency key) read as a second send.
TIMING = {
    "NOTIFICATION_SEND_LEASE_SECONDS": 11,
    "NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS": 2.5,
    "EMAIL_TIMEOUT": 0.25,
}


def _nudges(count: int) -> list[str]:
    """Schedule a bank-link SMS for `count` users; return their idempotency keys in send order."""
    events = []
    for n in range(count):
        user = User.objects.create(external_id=f"u_{n}", traits={"phone": f"+4477009{n:05}"})
        events.append(product_event(user, "signup_completed", SIGNUP))
        events.append(product_event(user, "link_bank_success", SIGNUP + timedelta(hours=1)))
    evaluate(*events)
    nudges = Notification.objects.filter(rule="BANK_LINK_NUDGE_SMS").order_by("due_at", "id")
    assert [n.status for n in nudges] == [S.SCHEDULED] * count
    return [f"notification-{pk}" for pk in nudges.values_list("pk", flat=True)]


def _sender(webhook, **settings) -> subprocess.Popen:
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SMS_WEBHOOK_URL": webhook.url,
        **{name: str(value) for name, value in settings.items()},
    }
    command = [sys.executable, "-m", "notifications.tests.sender_child"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _leases_run_out() -> None:
    """What the passing of NOTIFICATION_SEND_LEASE_SECONDS does to the killed sender's claim."""
    Notification.objects.filter(status=S.SCHEDULED).update(
        due_at=django_timezone.now() - timedelta(seconds=1)
    )


def test_a_sender_killed_mid_claim_sends_again_only_the_notification_it_was_sending(
    settings, webhook
):
    settings.SMS_WEBHOOK_URL = webhook.url
    first, second, in_flight = _nudges(3)
    webhook.answers = [(200, "ok"), (200, "ok"), (None, "")]  # the third is held
    doomed = _sender(webhook)
    try:
        assert webhook.holding.wait(timeout=60), "the sender never reached the third send"
    finally:
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(timeout=30)
    webhook.answers = [(200, "ok")]
    webhook.release.set()
    _leases_run_out()

    notifications_send_due()

    # The one in flight when the sender died is sent again: at least once, and its
    # idempotency key lets the receiver drop the repeat.
    assert Counter(webhook.keys()) == {first: 1, second: 1, in_flight: 2}
    nudges = Notification.objects.filter(rule="BANK_LINK_NUDGE_SMS")
    assert set(nudges.values_list("status", flat=True)) == {S.SENT}


def test_a_slow_provider_never_makes_a_claim_outlive_its_lease(settings, webhook):
    """Each answer takes 0.4 s: 30 of them outlast an 11 s lease, one claim of 2 does not."""
    for name, value in TIMING.items():
        setattr(settings, name, value)
    settings.SMS_WEBHOOK_URL = webhook.url
    keys = _nudges(30)
    webhook.delay_seconds = 0.4
    slow = _sender(webhook, **TIMING)
    try:
        deadline = time.monotonic() + 60
        while not webhook.arrived.wait(timeout=0.05):
            assert slow.poll() is None, "the sender exited before sending anything"
            assert time.monotonic() < deadline, "the sender never sent anything"
        # A second sender sweeps alongside, as the periodic task does, until all is sent.
        deadline = time.monotonic() + 120
        while slow.poll() is None or Notification.objects.filter(status=S.SCHEDULED).exists():
            assert time.monotonic() < deadline, "the senders never finished"
            notifications_send_due()
            time.sleep(0.05)
    finally:
        slow.kill()
        slow.wait(timeout=30)

    assert Counter(webhook.keys()) == Counter(keys)
    nudges = Notification.objects.filter(rule="BANK_LINK_NUDGE_SMS")
    assert set(nudges.values_list("status", flat=True)) == {S.SENT}
