"""On-call engineers read notifications and their decisions in the admin, and change nothing."""

import re
from datetime import datetime, timezone

from notifications.models import Notification
from notifications.tests.conftest import evaluate, product_event


def test_a_notification_page_lists_its_decisions_read_only(admin_client, app_user):
    failed = product_event(
        app_user,
        "payment_failed",
        datetime(2025, 10, 31, 8, tzinfo=timezone.utc),
        {"failure_reason": "CARD_DECLINED", "attempt_number": 1},
    )
    evaluate(failed)
    alert = Notification.objects.get(trigger_event=failed, rule="HIGH_RISK_ALERT")

    listing = admin_client.get("/admin/notifications/notification/?status=not_matched")
    assert listing.status_code == 200
    assert "properties.attempt_number is 1, not GTE 3" in listing.text

    page = admin_client.get(f"/admin/notifications/notification/{alert.pk}/change/")
    assert page.status_code == 200
    assert "not_matched" in page.text or "Not Matched" in page.text
    assert 'name="_save"' not in page.text
    assert admin_client.get("/admin/notifications/notification/add/").status_code == 403


def test_the_notification_list_and_its_decisions_show_the_rules_version(admin_client, app_user):
    signup = product_event(
        app_user, "signup_completed", datetime(2025, 10, 31, tzinfo=timezone.utc)
    )
    evaluate(signup)
    welcome = Notification.objects.get(trigger_event=signup, rule="WELCOME_EMAIL")

    listing = admin_client.get("/admin/notifications/notification/?rules_version=1")
    page = admin_client.get(f"/admin/notifications/notification/{welcome.pk}/change/")

    assert re.findall(r'<td class="field-rules_version">([^<]*)</td>', listing.text) == ["1"]
    inline = re.findall(r'<td class="field-rules_version">\s*<p>([^<]*)</p>', page.text)
    assert inline == ["1"]
