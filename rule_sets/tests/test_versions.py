import pytest
from django.conf import settings

from rule_sets.active import rule_set_active, rule_set_version
from rule_sets.exceptions import InvalidRules
from rule_sets.models import KIND_ALERTS, KIND_NOTIFICATIONS, RuleSetActivation, RuleSetVersion
from rule_sets.services import (
    IMPORTED_BY,
    rule_set_version_activate,
    rule_set_version_get_or_create,
)

pytestmark = pytest.mark.django_db

LOWER_THRESHOLD = settings.ALERT_RULES_PATH.read_text().replace("value: 100\n", "value: 50\n")


def test_migrate_imports_each_default_file_as_active_version_1():
    for kind, path in [
        (KIND_ALERTS, settings.ALERT_RULES_PATH),
        (KIND_NOTIFICATIONS, settings.NOTIFICATION_RULES_PATH),
    ]:
        version = RuleSetVersion.objects.get(kind=kind)
        assert (version.version, version.status) == (1, "active")
        assert version.source == path.read_text()
        assert version.created_by == IMPORTED_BY
        assert rule_set_active(kind).version == 1


def test_a_candidate_is_a_draft_until_activated_and_the_replaced_version_retires():
    candidate, _ = rule_set_version_get_or_create(
        kind=KIND_ALERTS, source=LOWER_THRESHOLD, note="50", created_by="risk"
    )
    assert (candidate.version, candidate.status) == (2, "draft")
    assert rule_set_active(KIND_ALERTS).version == 1

    rule_set_version_activate(kind=KIND_ALERTS, version=2, activated_by="risk-lead")

    active = rule_set_active(KIND_ALERTS)
    assert active.version == 2
    assert active.rules.rules[0].condition.value == 50
    statuses = dict(
        RuleSetVersion.objects.filter(kind=KIND_ALERTS).values_list("version", "status")
    )
    assert statuses == {1: "retired", 2: "active"}
    log = RuleSetActivation.objects.filter(kind=KIND_ALERTS).first()
    assert (log.version.version, log.replaced.version, log.activated_by) == (2, 1, "risk-lead")


def test_activating_a_retired_version_is_the_rollback():
    rule_set_version_get_or_create(kind=KIND_ALERTS, source=LOWER_THRESHOLD, created_by="risk")
    rule_set_version_activate(kind=KIND_ALERTS, version=2, activated_by="risk")
    rule_set_version_activate(kind=KIND_ALERTS, version=1, activated_by="on-call")

    assert rule_set_active(KIND_ALERTS).version == 1
    assert rule_set_version(KIND_ALERTS, 2).rules.rules[0].condition.value == 50


def test_invalid_rules_are_refused_naming_the_rule_and_the_field():
    source = LOWER_THRESHOLD.replace("count: 3\n", "count: three\n", 1)

    with pytest.raises(InvalidRules) as raised:
        rule_set_version_get_or_create(kind=KIND_ALERTS, source=source, created_by="risk")

    assert raised.value.details["rule"] == "rules[1] (code 30)"
    assert raised.value.details["field"] == "condition.count"
    assert not RuleSetVersion.objects.filter(kind=KIND_ALERTS, version=2).exists()


def test_a_yaml_syntax_error_names_its_line():
    with pytest.raises(InvalidRules) as raised:
        rule_set_version_get_or_create(
            kind=KIND_ALERTS, source="rules:\n  - code: [1\n", created_by="x"
        )

    assert raised.value.details["line"] == 3
    assert raised.value.details["rule"] is None


def test_a_notification_rule_sending_an_unknown_template_is_refused_at_its_field():
    source = settings.NOTIFICATION_RULES_PATH.read_text().replace(
        "notification_type: WELCOME_EMAIL", "notification_type: NO_SUCH_TEMPLATE", 1
    )

    with pytest.raises(InvalidRules) as raised:
        rule_set_version_get_or_create(kind=KIND_NOTIFICATIONS, source=source, created_by="growth")

    assert raised.value.details["field"] == "notification_type"
    assert raised.value.details["rule"].startswith("rules[0]")
