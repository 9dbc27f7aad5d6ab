"""AlertRuleEngine: rules are data, loaded from a file and validated up front."""

from decimal import Decimal

import pytest
from django.core import checks

from alerts.engine import AlertRuleEngine
from alerts.services import transaction_ingest
from rule_sets.models import KIND_ALERTS
from rules.exceptions import RuleParseError

HALF_THRESHOLD_RULES = """
rules:
  - code: 7
    name: withdraw_over_50
    event_type: withdraw
    condition: {type: property_match, path: amount, op: gt, value: 50}
"""


def test_a_different_active_version_gives_different_codes(active_rules, users):
    active_rules(KIND_ALERTS, HALF_THRESHOLD_RULES)

    outcome = transaction_ingest(user_id=1, event_type="withdraw", amount=Decimal("60"), t=1)

    assert outcome.alert_codes == (7,)


def test_bad_rules_file_is_rejected_naming_the_file_rule_and_field(tmp_path):
    rules_file = tmp_path / "alert_rules.yml"
    rules_file.write_text(HALF_THRESHOLD_RULES.replace("op: gt", "op: bigger"))

    with pytest.raises(RuleParseError) as error:
        AlertRuleEngine.from_file(rules_file)

    assert str(rules_file) in str(error.value)
    assert "rules[0]" in str(error.value)
    assert "op" in str(error.value)


def test_missing_rules_file_is_a_parse_error(tmp_path):
    with pytest.raises(RuleParseError, match="cannot read"):
        AlertRuleEngine.from_file(tmp_path / "absent.yml")


def test_history_filter_the_store_cannot_index_is_rejected_at_load(tmp_path):
    rules_file = tmp_path / "alert_rules.yml"
    rules_file.write_text("""
rules:
  - code: 9
    name: after_big_deposit
    event_type: withdraw
    condition:
      type: proximity
      event_types: [deposit]
      where: [{type: property_match, path: properties.score, op: gt, value: 5}]
      window: {before_seconds: 60}
""")

    with pytest.raises(RuleParseError, match="gt on .properties.score.: only amount compares"):
        AlertRuleEngine.from_file(rules_file)


def test_manage_py_check_reports_a_bad_rules_file(tmp_path, settings):
    rules_file = tmp_path / "alert_rules.yml"
    rules_file.write_text("rules: []")
    settings.ALERT_RULES_PATH = rules_file

    errors = checks.run_checks()

    assert [error.id for error in errors] == ["events.E001"]


def test_default_rules_file_passes_the_checks():
    assert checks.run_checks() == []


def test_sum_over_a_property_is_rejected_at_load(tmp_path):
    rules_file = tmp_path / "alert_rules.yml"
    rules_file.write_text("""
rules:
  - code: 9
    name: many_points
    event_type: deposit
    condition:
      not:
        type: window_aggregate
        function: sum
        path: properties.points
        window: {before_seconds: 60}
        op: gt
        value: 5
""")

    with pytest.raises(RuleParseError, match="only supported over amount"):
        AlertRuleEngine.from_file(rules_file)


@pytest.mark.parametrize("value", ['"abc"', "true"])
def test_amount_filter_against_a_non_number_is_rejected_at_load(tmp_path, value):
    rules_file = tmp_path / "alert_rules.yml"
    rules_file.write_text(f"""
rules:
  - code: 9
    name: after_odd_deposit
    event_type: withdraw
    condition:
      type: proximity
      event_type: deposit
      where: [{{type: property_match, path: amount, op: eq, value: {value}}}]
      window: {{before_seconds: 60}}
""")

    with pytest.raises(RuleParseError, match="amount can only be matched against numbers"):
        AlertRuleEngine.from_file(rules_file)


NESTED_HISTORY_RULES = """
rules:
  - code: 8
    name: two_deposits_each_with_a_withdraw_in_the_5_seconds_before
    event_type: deposit
    condition:
      type: sequence
      count: 2
      event_types: [deposit]
      match:
        type: proximity
        event_types: [withdraw]
        window: {before_seconds: 5}
"""


def test_history_a_plan_cannot_foresee_is_asked_on_demand(active_rules, users):
    """The proximity inside the sequence's `match` is around each deposit, not the new one."""
    active_rules(KIND_ALERTS, NESTED_HISTORY_RULES)
    steps = [("withdraw", 9), ("deposit", 10), ("deposit", 20), ("withdraw", 29), ("deposit", 30)]
    steps += [("withdraw", 38), ("deposit", 40)]

    codes = [
        transaction_ingest(user_id=1, event_type=event_type, amount=Decimal("5"), t=t).alert_codes
        for event_type, t in steps
    ]

    # The deposit at 20 has no withdraw in the 5 seconds before it; those at 30 and 40 have.
    assert codes == [(), (), (), (), (), (), (8,)]
