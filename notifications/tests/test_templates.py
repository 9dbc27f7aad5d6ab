"""Templates: the file format, and `{{ name }}` rendering that can read nothing else."""

from decimal import Decimal

import pytest

from notifications.templates import (
    NotificationTemplate,
    notification_templates_parse,
    template_render,
    template_variables,
)
from rules.exceptions import RuleParseError

TEMPLATES = """
notifications:
  - type: INSUFFICIENT_FUNDS_EMAIL
    private: false
    channel: email
    subject: "Payment of {{amount}} failed"
    text: |
      We tried to process your payment of {{amount}} {{currency}}.
  - type: BANK_LINK_NUDGE_SMS
    private: false
    channel: sms
    text: "Linked!"
  - type: HIGH_RISK_ALERT
    private: true
    channel: email
    text: "User {{ user_id }}"
"""


def test_templates_are_read_by_type_with_their_fields():
    templates = notification_templates_parse(TEMPLATES)

    assert list(templates) == ["INSUFFICIENT_FUNDS_EMAIL", "BANK_LINK_NUDGE_SMS", "HIGH_RISK_ALERT"]
    assert templates["INSUFFICIENT_FUNDS_EMAIL"] == NotificationTemplate(
        type="INSUFFICIENT_FUNDS_EMAIL",
        channel="email",
        private=False,
        subject="Payment of {{amount}} failed",
        text="We tried to process your payment of {{amount}} {{currency}}.\n",
    )
    assert templates["BANK_LINK_NUDGE_SMS"].subject == ""
    assert templates["HIGH_RISK_ALERT"].private is True


def test_private_defaults_to_false():
    templates = notification_templates_parse(
        "notifications: [{type: T, channel: sms, text: hi, private: null}]"
    )

    assert templates["T"].private is False


@pytest.mark.parametrize(
    "text, message",
    [
        (
            TEMPLATES.replace("channel: sms", "channel: pidgeon"),
            "notifications[1] (BANK_LINK_NUDGE_SMS).channel: must be one of: email, sms; "
            "got 'pidgeon'",
        ),
        (
            TEMPLATES.replace("    channel: sms\n", ""),
            "notifications[1] (BANK_LINK_NUDGE_SMS).channel: is required",
        ),
        (
            TEMPLATES.replace('    text: "Linked!"', '    text: "Linked!"\n    colour: red'),
            "notifications[1] (BANK_LINK_NUDGE_SMS).colour: unknown key; expected one of: type, "
            "channel, private, subject, text",
        ),
        (
            TEMPLATES.replace('    text: "Linked!"', '    text: "Linked!"\n    subject: Hi'),
            "notifications[1] (BANK_LINK_NUDGE_SMS).subject: is only for email",
        ),
        (
            TEMPLATES.replace("{{ user_id }}", "{{ user.email }}"),
            "notifications[2] (HIGH_RISK_ALERT).text: '{{ user.email }}' is not a variable",
        ),
        (
            TEMPLATES.replace("{{amount}} failed", "{{ amount|upper }} failed"),
            "notifications[0] (INSUFFICIENT_FUNDS_EMAIL).subject: '{{ amount|upper }}' is not",
        ),
        (
            TEMPLATES.replace("private: true", "private: maybe"),
            "notifications[2] (HIGH_RISK_ALERT).private: must be true or false",
        ),
        (
            TEMPLATES.replace('text: "Linked!"', "text: null"),
            "notifications[1] (BANK_LINK_NUDGE_SMS).text: must be a non-empty string, not null",
        ),
        (
            TEMPLATES.replace("type: HIGH_RISK_ALERT", "type: BANK_LINK_NUDGE_SMS"),
            "notifications[2] (BANK_LINK_NUDGE_SMS).type: duplicate; notifications[1] has it",
        ),
        ("notifications: {}", "notifications: must be a list, not a mapping"),
        ("templates: []", "templates: unknown key"),
    ],
)
def test_a_bad_templates_file_names_the_template_and_the_field(text, message):
    with pytest.raises(RuleParseError) as error:
        notification_templates_parse(text)

    assert str(error.value).startswith(message), str(error.value)


def test_variables_are_substituted_and_missing_ones_render_empty():
    text, missing = template_render(
        "Pay {{amount}} {{ currency }} to {{payee}}, {{ amount }} again; {{nothing}}.",
        {"amount": Decimal("12.50"), "payee": "Ann", "nothing": None},
    )

    assert text == "Pay 12.50  to Ann, 12.50 again; ."
    assert missing == ("currency", "nothing")


@pytest.mark.parametrize(
    "value, shown",
    [
        ("text", "text"),
        ("", ""),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+2"), "100"),
        (3, "3"),
        (2.5, "2.5"),
        (True, "true"),
        (False, "false"),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
        ([1, 2], "[1,2]"),
        ({"amount": Decimal("1.10")}, '{"amount":"1.10"}'),
    ],
)
def test_values_are_written_plainly(value, shown):
    assert template_render("{{v}}", {"v": value}) == (shown, ())


@pytest.mark.parametrize(
    "text",
    [
        "{{ user.__class__ }}",
        "{{ amount|safe }}",
        "{% for x in y %}",
        "{{ __import__('os') }}",
        "{{ 1 + 1 }}",
    ],
)
def test_anything_but_a_plain_name_is_left_as_written(text):
    variables = {"user": "u_1", "amount": 1, "x": 1, "y": [1]}

    assert template_render(text, variables) == (text, ())


def test_template_variables_are_flat_and_event_fields_win_over_traits_over_properties():
    variables = template_variables(
        user_id="u_1",
        event_type="payment_failed",
        event_timestamp="2025-10-31T19:30:00Z",
        properties={"amount": 12.5, "country": "FR", "user_id": "spoofed"},
        user_traits={"country": "GB", "email": "ann@example.com"},
    )

    assert variables == {
        "amount": 12.5,
        "country": "GB",
        "email": "ann@example.com",
        "user_id": "u_1",
        "event_type": "payment_failed",
        "event_timestamp": "2025-10-31T19:30:00Z",
    }
