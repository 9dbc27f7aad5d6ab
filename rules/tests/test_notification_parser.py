"""Parsing notification rule files: the rule's fields, and errors that name the rule and field."""

from datetime import time

import pytest

from rules.conditions import AllOf, WindowAggregate
from rules.exceptions import RuleParseError
from rules.notification_parser import notification_rules_parse
from rules.schema import Debounce, QuietHours

RULE = """
rules:
  - notification_type: INSUFFICIENT_FUNDS_EMAIL
    event_type: payment_failed
    delay_seconds: 300
    recheck: true
    debounce_period_seconds: 86400
    debounce_limit: 1
    debounce_calendar_day: true
    event_conditions:
      - property_match:
          property_xpath: properties.failure_reason
          value: INSUFFICIENT_FUNDS
          operator: EQ
        event_proximity: null
        event_logic: null
"""


def test_a_rule_has_its_fields_and_is_named_after_its_notification_type():
    (rule,) = notification_rules_parse(RULE)

    assert rule.name == "INSUFFICIENT_FUNDS_EMAIL"
    assert rule.notification_type == "INSUFFICIENT_FUNDS_EMAIL"
    assert rule.event_type == "payment_failed"
    assert rule.delay_seconds == 300
    assert rule.recheck is True
    assert rule.debounce == Debounce(limit=1, period_seconds=86400, calendar_day=True)
    assert rule.quiet_hours is None


@pytest.mark.parametrize("value", ["0", "null"])
def test_zero_or_null_limit_is_no_limit_and_zero_or_null_period_is_ever(value):
    (rule,) = notification_rules_parse(
        RULE.replace("debounce_limit: 1", f"debounce_limit: {value}")
        .replace("debounce_period_seconds: 86400", f"debounce_period_seconds: {value}")
        .replace("debounce_calendar_day: true", "debounce_calendar_day: null")
    )

    assert rule.debounce == Debounce(limit=None, period_seconds=None, calendar_day=False)


def test_optional_keys_default_when_absent_or_null():
    (rule,) = notification_rules_parse(
        "rules: [{notification_type: N, event_type: e, delay_seconds: null, recheck: null}]"
    )

    assert (rule.delay_seconds, rule.recheck, rule.debounce) == (0, False, Debounce())
    assert rule.condition == AllOf(conditions=())


def test_two_rules_may_send_one_type_when_one_is_named():
    rules = notification_rules_parse(
        RULE
        + RULE[len("\nrules:\n") :].replace(
            "  - notification_type:", "  - name: SECOND_FUNDS_EMAIL\n    notification_type:"
        )
    )

    assert [rule.name for rule in rules] == ["INSUFFICIENT_FUNDS_EMAIL", "SECOND_FUNDS_EMAIL"]
    assert {rule.notification_type for rule in rules} == {"INSUFFICIENT_FUNDS_EMAIL"}


def test_a_maximum_event_age_is_read_in_seconds_and_absent_or_null_is_none():
    (rule,) = notification_rules_parse(RULE + "    max_event_age_seconds: 604800\n")
    (unset,) = notification_rules_parse(RULE + "    max_event_age_seconds: null\n")

    assert rule.max_event_age_seconds == 604800
    assert unset.max_event_age_seconds is None
    assert notification_rules_parse(RULE)[0].max_event_age_seconds is None


def test_quiet_hours_are_read_as_wall_clock_times_and_may_wrap_midnight():
    (rule,) = notification_rules_parse(RULE + '    quiet_hours: {start: "22:00", end: "07:30"}\n')

    assert rule.quiet_hours == QuietHours(start=time(22), end=time(7, 30))
    assert rule.quiet_hours.contains(time(23, 59)) and rule.quiet_hours.contains(time(0))
    assert rule.quiet_hours.contains(time(22)) and not rule.quiet_hours.contains(time(7, 30))
    assert not rule.quiet_hours.contains(time(12))


def test_a_rule_language_condition_is_parsed_as_such():
    (rule,) = notification_rules_parse("""
rules:
  - notification_type: N
    event_type: deposit
    condition:
      {type: window_aggregate, function: count, window: {before_seconds: 60}, op: gte, value: 3}
""")

    assert isinstance(rule.condition, WindowAggregate)


def test_an_empty_rules_list_is_valid():
    assert notification_rules_parse("rules: []") == ()


def with_condition(item: str) -> str:
    return f"""
rules:
  - notification_type: OTHER
    event_type: e
  - notification_type: INSUFFICIENT_FUNDS_EMAIL
    event_type: payment_failed
    event_conditions:
      - property_match: {{property_xpath: properties.a, operator: EQ, value: "1"}}
        event_proximity: null
        event_logic: null
      - {item}
"""


FIRST = "rules[1] (INSUFFICIENT_FUNDS_EMAIL)"
ITEM = f"{FIRST}.event_conditions[1]"


@pytest.mark.parametrize(
    "text, message",
    [
        (
            RULE.replace("operator: EQ", "operator: LIKE"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).event_conditions[0].property_match.operator: "
            "must be one of: EQ, GT, GTE, LT, LTE, IN, NIN; got 'LIKE'",
        ),
        (
            RULE.replace("    recheck: true", "    recheck: true\n    retries: 3"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).retries: unknown key",
        ),
        (
            RULE.replace("debounce_period_seconds: 86400", "debounce_period_seconds: 3600"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).debounce_calendar_day: "
            "needs debounce_period_seconds: 86400 (one day), not 3600",
        ),
        (
            RULE.replace("debounce_period_seconds: 86400", "debounce_period_seconds: 0"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).debounce_calendar_day: needs",
        ),
        (
            RULE.replace("debounce_limit: 1", "debounce_limit: -1"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).debounce_limit: must be an integer >= 0",
        ),
        (
            RULE.replace("delay_seconds: 300", "delay_seconds: 2147483648"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).delay_seconds: must be at most 2147483647, "
            "not 2147483648",
        ),
        (
            RULE.replace("delay_seconds: 300", "delay_seconds: 5m"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).delay_seconds: must be an integer >= 0",
        ),
        (
            RULE.replace("recheck: true", "recheck: sometimes"),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).recheck: must be true or false",
        ),
        (
            RULE.replace("    event_type: payment_failed\n", ""),
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).event_type: is required",
        ),
        ("rules:\n  - event_type: e\n", "rules[0].notification_type: is required"),
        (
            RULE + RULE[len("\nrules:\n") :],
            "rules[1] (INSUFFICIENT_FUNDS_EMAIL).notification_type: "
            "duplicate rule name 'INSUFFICIENT_FUNDS_EMAIL'; rules[0] has it",
        ),
        (
            RULE + '    quiet_hours: {start: 22:00, end: "07:00"}\n',
            'rules[0] (INSUFFICIENT_FUNDS_EMAIL).quiet_hours.start: must be a quoted "HH:MM" time',
        ),
        (
            RULE + '    quiet_hours: {start: "25:00", end: "07:00"}\n',
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).quiet_hours.start",
        ),
        (
            RULE + '    quiet_hours: {start: "07:00", end: "07:00"}\n',
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).quiet_hours.end: must differ from start",
        ),
        (
            RULE + "    max_event_age_seconds: 7d\n",
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).max_event_age_seconds: must be an integer >= 1, "
            "not str '7d'",
        ),
        (
            RULE + "    max_event_age_seconds: 0\n",
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).max_event_age_seconds: must be an integer >= 1",
        ),
        (
            RULE + "    max_event_age_seconds: 300\n",
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).max_event_age_seconds: must be more than "
            "delay_seconds (300), or no event would ever be sent; got 300",
        ),
        (
            RULE + "    condition: {type: property_match, path: amount, op: gt, value: 1}\n",
            "rules[0] (INSUFFICIENT_FUNDS_EMAIL).condition: cannot be combined",
        ),
        (
            "rules: [{notification_type: N, event_type: e, condition: {type: nope}}]",
            "rules[0] (N).condition.type: must be one of",
        ),
        (with_condition("property_match: null"), f"{ITEM}: needs one of property_match, event_"),
        (with_condition("bogus: 1"), f"{ITEM}.bogus: unknown key"),
        (
            with_condition("property_match: {property_xpath: amt, operator: EQ, value: 1}"),
            f"{ITEM}.property_match.property_xpath: must be event_type, amount",
        ),
        (
            with_condition("property_match: {property_xpath: amount, operator: GT, value: x}"),
            f"{ITEM}.property_match.value: must be a number or a numeric string, not str 'x'",
        ),
        (
            with_condition("property_match: {property_xpath: amount, operator: IN, value: x}"),
            f"{ITEM}.property_match.value: must be a non-empty list",
        ),
        (
            with_condition("property_match: {property_xpath: amount, operator: IN, value: [[]]}"),
            f"{ITEM}.property_match.value[0]: must be a string, number or boolean",
        ),
        (
            with_condition("property_match: {property_xpath: amount, operator: EQ, value: null}"),
            f"{ITEM}.property_match.value: must be a string, number or boolean, not null",
        ),
        (
            with_condition("property_match: {property_xpath: amount, operator: EQ}"),
            f"{ITEM}.property_match.value: is required",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: 1w}"),
            f"{ITEM}.event_proximity.time_proximity: must be seconds (an integer >= 0) or a "
            "duration like 1d, 24h, 30m, 1h30m, 90s; not str '1w'",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: 99999999999999d}"),
            f"{ITEM}.event_proximity.time_proximity: must be at most 2147483647 seconds "
            "(about 68 years), not 8639999999999913600",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: 2147483648}"),
            f"{ITEM}.event_proximity.time_proximity: must be at most 2147483647 seconds",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: -5}"),
            f"{ITEM}.event_proximity.time_proximity: must be seconds",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: 1.5h}"),
            f"{ITEM}.event_proximity.time_proximity: must be seconds",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: 30m1h}"),
            f"{ITEM}.event_proximity.time_proximity: must be seconds",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: ''}"),
            f"{ITEM}.event_proximity.time_proximity: must be seconds",
        ),
        (
            with_condition("event_proximity: {event_type: s, time_proximity: true}"),
            f"{ITEM}.event_proximity.time_proximity: must be seconds",
        ),
        (
            with_condition("event_proximity: {event_type: s}"),
            f"{ITEM}.event_proximity.time_proximity: is required",
        ),
        (
            with_condition("event_proximity: {time_proximity: 1d}"),
            f"{ITEM}.event_proximity.event_type: is required",
        ),
        (
            with_condition(
                "event_proximity: {event_type: s, time_proximity: 1d, event_conditions: "
                "[{event_logic: {logic: OR, event_conditions: []}}]}"
            ),
            f"{ITEM}.event_proximity.event_conditions[0].event_logic: is not supported inside "
            "event_proximity; use property_match",
        ),
        (
            with_condition(
                "event_proximity: {event_type: s, time_proximity: 1d, event_conditions: "
                "[{property_match: {property_xpath: properties.a, operator: ABOUT, value: 1}}]}"
            ),
            f"{ITEM}.event_proximity.event_conditions[0].property_match.operator",
        ),
        (
            with_condition("event_logic: {logic: XOR, event_conditions: []}"),
            f"{ITEM}.event_logic.logic: must be one of: AND, OR, NOT; got 'XOR'",
        ),
        (
            with_condition("event_logic: {logic: OR, event_conditions: []}"),
            f"{ITEM}.event_logic.event_conditions: must be a non-empty list",
        ),
        (
            with_condition(
                "event_logic: {logic: OR, event_conditions: [{property_match: "
                "{property_xpath: properties.a, operator: EQ, value: 1, extra: 2}}]}"
            ),
            f"{ITEM}.event_logic.event_conditions[0].property_match.extra: unknown key",
        ),
        ("rules: {}", "rules: must be a list, not a mapping"),
        ("rulez: []", "rulez: unknown key"),
        ("rules: [", "<document>: invalid YAML"),
    ],
)
def test_a_bad_file_is_rejected_naming_the_rule_and_the_field(text, message):
    with pytest.raises(RuleParseError) as error:
        notification_rules_parse(text)

    assert str(error.value).startswith(message), str(error.value)


def test_the_named_rule_is_named_by_its_name_in_errors():
    text = RULE.replace("  - notification_type:", "  - name: FUNDS\n    notification_type:")

    with pytest.raises(RuleParseError, match=r"^rules\[0\] \(FUNDS\)\.event_conditions\[0\]"):
        notification_rules_parse(text.replace("operator: EQ", "operator: EQUALS"))


@pytest.mark.parametrize(
    ("key", "replace"),
    [
        ("name", ("  - notification_type:", f"  - name: {'X' * 129}\n    notification_type:")),
        ("notification_type", ("INSUFFICIENT_FUNDS_EMAIL", "E" * 129)),
    ],
)
def test_a_name_longer_than_the_decisions_column_is_refused(key, replace):
    """A decision stores the rule's name and type in 128 characters: on PostgreSQL a longer one
    failed every event the rule matched, until each was dead-lettered."""
    with pytest.raises(RuleParseError) as error:
        notification_rules_parse(RULE.replace(*replace))

    assert error.value.path.endswith(f").{key}")
    assert error.value.message == "must be at most 128 characters, not 129"


def test_a_name_of_128_characters_parses():
    text = RULE.replace("  - notification_type:", f"  - name: {'X' * 128}\n    notification_type:")
    assert notification_rules_parse(text)[0].name == "X" * 128
