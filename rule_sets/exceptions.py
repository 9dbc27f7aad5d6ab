"""Errors of the rule sets, in the API's one error shape."""

from midnite_test.errors import DomainError


class InvalidRules(DomainError):
    """YAML text that is not a valid rule set of its kind; `details` locates the fault."""

    code = "invalid_rules"
    http_status = 400


class RuleSetVersionNotFound(DomainError):
    code = "rule_set_version_not_found"
    http_status = 404


class RuleSetKindNotFound(DomainError):
    """No app registered a rule set kind of this name (the kinds: alerts, notifications)."""

    code = "unknown_rule_set_kind"
    http_status = 404


class RuleSetBacktestNotFound(DomainError):
    code = "backtest_not_found"
    http_status = 404


class InvalidBacktestWindow(DomainError):
    """A backtest's window that is empty, reversed or longer than BACKTEST_MAX_DAYS."""

    code = "invalid_backtest_window"
    http_status = 400
