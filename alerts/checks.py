"""System checks: the alert rules file must load, at start-up and in `manage.py check`."""

from django.core.checks import Error

from alerts.engine import alert_rule_engine
from rules.exceptions import RuleParseError


def alert_rules_check(app_configs, **kwargs) -> list[Error]:
    """Report a bad alert rules file as an error naming the rule and the field."""
    try:
        alert_rule_engine()
    except RuleParseError as exc:
        return [Error(f"Invalid alert rules: {exc}", id="events.E001")]
    return []
