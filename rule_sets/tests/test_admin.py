"""The admin shows versions with their source, the change log with its diffs and backtests,
read-only; staff with the change permission activate a version there, others are not offered
it."""

import pytest

from midnite_test.tests.admin_staff import offered_actions, staff_client
from rule_sets.active import rule_set_active
from rule_sets.models import KIND_ALERTS, RuleSetActivation, RuleSetVersion
from rule_sets.services import rule_set_version_activate, rule_set_version_get_or_create
from rule_sets.tests.conftest import LOWER_THRESHOLD

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/rule_sets/rulesetversion/"


@pytest.fixture
def candidate():
    version, _ = rule_set_version_get_or_create(
        kind=KIND_ALERTS, source=LOWER_THRESHOLD, created_by="risk"
    )
    return version


def test_the_version_list_shows_kind_version_status_author_and_times(admin_client, candidate):
    response = admin_client.get(VERSIONS)

    headers = [header["text"] for header in response.context["result_headers"]]
    assert headers[1:] == [
        "kind", "version", "status", "note", "created by", "created at", "activated at"
    ]  # fmt: skip
    assert "risk" in response.text


def test_a_version_shows_its_source_read_only(admin_client, candidate):
    response = admin_client.get(f"{VERSIONS}{candidate.pk}/change/")

    assert response.status_code == 200
    assert "value: 50" in response.text
    assert 'name="source"' not in response.text


def test_the_change_log_shows_the_diff_from_the_replaced_version(admin_client, candidate):
    rule_set_version_activate(kind=KIND_ALERTS, version=2, activated_by="risk-lead")
    logged = RuleSetActivation.objects.filter(kind=KIND_ALERTS).first()

    listed = admin_client.get("/admin/rule_sets/rulesetactivation/")
    detail = admin_client.get(f"/admin/rule_sets/rulesetactivation/{logged.pk}/change/")

    assert "risk-lead" in listed.text
    assert "-      value: 100\n+      value: 50" in detail.text


def test_staff_with_the_change_permission_activate_the_selected_version(
    client, django_user_model, candidate
):
    staff = staff_client(
        client, django_user_model, "rule_sets", "view_rulesetversion", "change_rulesetversion"
    )

    response = staff.post(
        VERSIONS,
        {"action": "activate", "index": 0, "_selected_action": [candidate.pk]},
        follow=True,
    )

    [message] = [str(message) for message in response.context["messages"]]
    assert message.startswith("alerts version 2 is active")
    assert rule_set_active(KIND_ALERTS).version == 2
    assert RuleSetActivation.objects.filter(kind=KIND_ALERTS).first().activated_by == "staff"


def test_staff_who_may_only_view_are_not_offered_activation(client, django_user_model, candidate):
    staff = staff_client(client, django_user_model, "rule_sets", "view_rulesetversion")

    assert "activate" not in offered_actions(staff.get(VERSIONS))
    staff.post(VERSIONS, {"action": "activate", "index": 0, "_selected_action": [candidate.pk]})
    assert rule_set_active(KIND_ALERTS).version == 1


def test_activating_several_versions_at_once_is_refused(admin_client, candidate):
    first = RuleSetVersion.objects.get(kind=KIND_ALERTS, version=1)

    response = admin_client.post(
        VERSIONS,
        {"action": "activate", "index": 0, "_selected_action": [first.pk, candidate.pk]},
        follow=True,
    )

    assert "Select exactly one version" in response.text
    assert rule_set_active(KIND_ALERTS).version == 1


def test_the_backtests_are_listed_read_only(admin_client, candidate, fake_replay):
    from rule_sets.backtests import rule_set_backtest_create, rule_set_backtest_run

    backtest = rule_set_backtest_create(kind=KIND_ALERTS, version=2, created_by="risk")
    rule_set_backtest_run(backtest.pk)

    listed = admin_client.get("/admin/rule_sets/rulesetbacktest/")
    detail = admin_client.get(f"/admin/rule_sets/rulesetbacktest/{backtest.pk}/change/")

    assert str(backtest.pk) in listed.text
    assert "&quot;added&quot;: 1" in detail.text
