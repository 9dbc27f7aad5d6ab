"""The notification rules and the templates they send: compiled, checked against each other.

The rules in force are the active version of the `notifications` rule set (rule_sets.active),
compiled by `notification_rule_set_compile` against the templates file. The default files,
`settings.NOTIFICATION_RULES_PATH` (imported as version 1 where no version is stored) and
`settings.NOTIFICATION_TEMPLATES_PATH`, are loaded by `notification_config_default()`: a bad
file raises `NotificationConfigError` naming the file, the rule (or template) and the field;
the system check reports it at start-up.
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from django.conf import settings

from events.history import UnsupportedFilter, check_answerable
from notifications.templates import NotificationTemplate, notification_templates_parse
from rules.conditions import AllOf, AnyOf, Not
from rules.exceptions import RuleParseError
from rules.legacy import LegacyPropertyMatch, LegacyProximity
from rules.notification_parser import notification_rules_parse
from rules.schema import NotificationRule

Parsed = TypeVar("Parsed")


class NotificationConfigError(Exception):
    """A rules or templates file that cannot be used; the message starts with the file's path."""


@dataclass(frozen=True, kw_only=True)
class NotificationConfig:
    """Notification rules in file order and the templates they send, by type."""

    rules: tuple[NotificationRule, ...]
    templates: Mapping[str, NotificationTemplate]
    _by_event_type: Mapping[str, tuple[NotificationRule, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        by_event_type: dict[str, list[NotificationRule]] = {}
        for rule in self.rules:
            by_event_type.setdefault(rule.event_type, []).append(rule)
        index = {event_type: tuple(rules) for event_type, rules in by_event_type.items()}
        object.__setattr__(self, "_by_event_type", index)

    @property
    def event_types(self) -> frozenset[str]:
        """Return the event types that trigger at least one rule."""
        return frozenset(self._by_event_type)

    def rules_for(self, event_type: str) -> tuple[NotificationRule, ...]:
        """Return the rules an event of `event_type` triggers, in file order."""
        return self._by_event_type.get(event_type, ())


def notification_config_load(*, rules_path: Path, templates_path: Path) -> NotificationConfig:
    """Load, validate and cross-check the rules file and the templates file.

    Raise NotificationConfigError, its message starting with the path of the file at fault,
    when a file cannot be read or parsed, when a rule sends a notification type with no
    template, and when a rule asks the event store a question it cannot answer.
    """
    templates = _parsed(templates_path, notification_templates_parse)
    return _parsed(
        rules_path,
        lambda text: notification_rules_compile(
            text, templates=templates, templates_name=str(templates_path)
        ),
    )


def notification_rules_compile(
    source: str, *, templates: Mapping[str, NotificationTemplate], templates_name: str
) -> NotificationConfig:
    """Return the rules of the YAML text `source` with the `templates` they send.

    Raise RuleParseError naming the rule and the field when a rule is invalid, sends a type
    `templates` (read from `templates_name`) lacks, or asks a question the store cannot answer.
    """
    rules = notification_rules_parse(source)
    for index, rule in enumerate(rules):
        where = f"rules[{index}] ({rule.name})"
        if rule.notification_type not in templates:
            raise RuleParseError(
                f"{where}.notification_type",
                f"no template of type {rule.notification_type!r} in {templates_name}",
            )
        try:
            check_answerable(rule.condition)
        except UnsupportedFilter as exc:
            raise RuleParseError(f"{where}.{_key_of(rule.condition)}", str(exc)) from exc
    return NotificationConfig(rules=rules, templates=templates)


def _key_of(condition: object) -> str:
    """Return the rule key a condition came from: `event_conditions` or `condition`."""
    if isinstance(condition, (LegacyPropertyMatch, LegacyProximity)):
        return "event_conditions"
    if isinstance(condition, (AllOf, AnyOf)):
        legacy = not condition.conditions or any(
            _key_of(item) == "event_conditions" for item in condition.conditions
        )
        return "event_conditions" if legacy else "condition"
    if isinstance(condition, Not):
        return _key_of(condition.condition)
    return "condition"


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise NotificationConfigError(f"{path}: cannot read the file: {exc.strerror}") from exc


def _parsed(path: Path, parse: Callable[[str], Parsed]) -> Parsed:
    """Return `parse` of the file at `path`, its errors prefixed with the path."""
    try:
        return parse(_read(path))
    except RuleParseError as exc:
        raise NotificationConfigError(f"{path}: {exc}") from exc


@functools.lru_cache(maxsize=4)
def _notification_config_for(rules_path: str, templates_path: str) -> NotificationConfig:
    return notification_config_load(
        rules_path=Path(rules_path), templates_path=Path(templates_path)
    )


def notification_rule_set_compile(source: str) -> NotificationConfig:
    """Compile a notification rule set version against the templates file in settings.

    Raises RuleParseError naming the rule and the field (rule_sets.kinds).
    """
    path = settings.NOTIFICATION_TEMPLATES_PATH
    return notification_rules_compile(
        source, templates=_templates_at(str(path)), templates_name=path.name
    )


@functools.lru_cache(maxsize=4)
def _templates_at(path: str) -> Mapping[str, NotificationTemplate]:
    try:
        return _parsed(Path(path), notification_templates_parse)
    except NotificationConfigError as exc:
        raise RuleParseError(path, str(exc)) from exc


def notification_config_default() -> NotificationConfig:
    """Return the configuration of the default files in settings, loaded once per pair of paths."""
    return _notification_config_for(
        str(settings.NOTIFICATION_RULES_PATH), str(settings.NOTIFICATION_TEMPLATES_PATH)
    )
