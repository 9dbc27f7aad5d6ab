"""The README's notification walkthrough gives the answers and the audit trail it documents."""

import json
import re
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from notifications.sending import notifications_send_due
from outbox.contracts import CONSUMER_NOTIFICATIONS
from outbox.services import outbox_process

README = Path(__file__).resolve().parents[2] / "README.md"
POST = re.compile(r"^curl -s -H 'Content-Type: application/json' \S+/api/v1/events -d '(.*)'$")


def _walkthrough() -> tuple[list[tuple[str, dict]], list[str]]:
    """Return the walkthrough's (request body, answer) pairs and its audit trail lines."""
    text = README.read_text().split("### Walkthrough", 1)[1].split("\n## ", 1)[0]
    lines = text.splitlines()
    posts = [
        (match[1], json.loads(answer))
        for line, answer in zip(lines, lines[1:])
        if (match := POST.match(line))
    ]
    trail = text.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    return posts, trail


def _worker_runs() -> None:
    """What `make run`'s worker does within a second of a commit."""
    outbox_process(consumer=CONSUMER_NOTIFICATIONS)
    notifications_send_due()


@pytest.mark.django_db(transaction=True)
def test_the_walkthrough_gives_the_documented_audit_trail(settings):
    settings.ALLOW_ANONYMOUS = True
    settings.NOTIFICATION_CONSOLE_DELIVERY = True  # as `make run` sets it
    settings.SMS_WEBHOOK_URL = ""
    settings.INTERNAL_WEBHOOK_URL = ""
    settings.INTERNAL_ALERT_EMAIL = []
    posts, trail = _walkthrough()
    assert len(posts) == 6
    client = APIClient()
    for body, answer in posts:
        response = client.post("/api/v1/events", body, content_type="application/json")
        assert (response.status_code, response.json()) == (202, answer)
        _worker_runs()

    audit = client.get("/audit/u_ada", HTTP_ACCEPT="application/json").json()
    lines = [
        "\t".join((d["status"], d["notification_type"], d["reason"])) for d in audit["decisions"]
    ]
    assert lines == trail

    bob = client.get("/audit/u_bob", HTTP_ACCEPT="application/json").json()
    [nudge] = bob["decisions"]
    assert (nudge["status"], nudge["reason"]) == (
        "not_matched",
        "no signup_completed in the 1d before this event",
    )
