"""Errors of the rule sets, in the API's one error shape."""

from midnite_test.errors import DomainError


class InvalidRules(DomainError):
    """YAML text that is not a valid rule set of its kind; `details` locates the fault."""

    code = "invalid_rules"
    http_status = 400


class RuleSetVersionNotFound(DomainError):
    code = "rule_set_version_not_found"
    http_status = 404
