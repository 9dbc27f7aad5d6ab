"""POST /event under the active version of the alert rules: an activation is seen at the next
event, with no restart; each Alert records its version; a rollback brings the old answers back.

Run on PostgreSQL (the pipelined transaction, which reads the active version in its first round
trip) and on SQLite (the plain path, which reads it per request).
"""

from django.conf import settings

from alerts.models import Alert
from rule_sets.models import KIND_ALERTS
from rule_sets.services import rule_set_version_activate

DEFAULT_RULES = settings.ALERT_RULES_PATH.read_text()
LOWER_THRESHOLD = DEFAULT_RULES.replace("value: 100\n", "value: 50\n")
# A rule whose history question no version-1 plan asks: a withdraw in the 10 s before a deposit.
DEPOSIT_AFTER_WITHDRAW = """
rules:
  - code: 77
    name: deposit_soon_after_a_withdraw
    event_type: deposit
    condition:
      type: proximity
      event_types: [withdraw]
      window: {before_seconds: 10}
"""


def _versions_of(event_t: int) -> list[tuple[int, int]]:
    return list(
        Alert.objects.filter(event__event_id=f"txn:1:{event_t}").values_list(
            "code", "rules_version"
        )
    )


def test_alerts_record_the_version_that_raised_them_and_an_activation_is_seen_at_once(
    post_event, active_rules
):
    assert post_event("withdraw", "150", 1).json()["alert_codes"] == [1100]
    assert post_event("deposit", "60", 2).json()["alert_codes"] == []
    lowered = active_rules(KIND_ALERTS, LOWER_THRESHOLD)

    assert post_event("withdraw", "60", 3).json()["alert_codes"] == [1100]

    assert _versions_of(1) == [(1100, 1)]
    assert _versions_of(3) == [(1100, lowered)]


def test_a_version_whose_plan_asks_other_questions_is_exact_on_its_first_event(
    post_event, active_rules
):
    # The process plans its next deposit with version 1's questions (sequence, sum of deposits).
    assert post_event("deposit", "5", 100).json()["alert_codes"] == []
    assert post_event("withdraw", "5", 105).json()["alert_codes"] == []
    version = active_rules(KIND_ALERTS, DEPOSIT_AFTER_WITHDRAW)

    assert post_event("deposit", "5", 110).json()["alert_codes"] == [77]
    assert post_event("deposit", "5", 130).json()["alert_codes"] == []
    assert _versions_of(110) == [(77, version)]


def test_activating_the_retired_version_brings_the_old_answers_back(post_event, active_rules):
    active_rules(KIND_ALERTS, LOWER_THRESHOLD)
    assert post_event("withdraw", "60", 1).json()["alert_codes"] == [1100]

    rule_set_version_activate(kind=KIND_ALERTS, version=1, activated_by="tests")

    assert post_event("deposit", "1", 2).json()["alert_codes"] == []
    assert post_event("withdraw", "60", 3).json()["alert_codes"] == []
    assert post_event("withdraw", "150", 4).json()["alert_codes"] == [1100]
    assert _versions_of(4) == [(1100, 1)]


def test_a_replay_keeps_the_answer_of_the_version_that_judged_it(post_event, active_rules):
    active_rules(KIND_ALERTS, LOWER_THRESHOLD)
    assert post_event("withdraw", "60", 1).json()["alert_codes"] == [1100]
    rule_set_version_activate(kind=KIND_ALERTS, version=1, activated_by="tests")

    replayed = post_event("withdraw", "60", 1)

    assert (replayed.status_code, replayed.json()["alert_codes"]) == (200, [1100])
    assert _versions_of(1) == [(1100, 2)]
