"""System checks, at start-up and in `manage.py check`: the default alert rules file (imported as
version 1 where none is stored) must load, and POST /event's fast path must mirror the
middleware it runs in front of."""

from django.conf import settings
from django.core.checks import Error, Warning

from alerts.engine import alert_rule_engine_default
from alerts.fast_path import fast_path_mirrors_middleware
from rules.exceptions import RuleParseError


def alert_rules_check(app_configs, **kwargs) -> list[Error]:
    """Report a bad default alert rules file as an error naming the rule and the field."""
    try:
        alert_rule_engine_default()
    except RuleParseError as exc:
        return [Error(f"Invalid alert rules: {exc}", id="events.E001")]
    return []


def fast_path_middleware_check(app_configs, **kwargs) -> list[Warning]:
    """Warn that the fast path stands aside because MIDDLEWARE is not the list it mirrors."""
    if not settings.EVENT_FAST_PATH or fast_path_mirrors_middleware():
        return []
    return [
        Warning(
            "MIDDLEWARE differs from the list POST /event's fast path mirrors, so it is off: "
            "every POST /event goes through Django's request cycle.",
            hint="Make the fast path reproduce the new middleware and list it in "
            "alerts.fast_path.MIRRORED_MIDDLEWARE, or set EVENT_FAST_PATH=false.",
            id="alerts.W001",
        )
    ]
