"""Parse notification rule files (the existing format) into `NotificationRule`s.

Paths in errors name the rule by its index and name, then the keys down to the problem:
`rules[2] (INSUFFICIENT_FUNDS_EMAIL).event_conditions[0].property_match.operator: ...`.
A key set to null counts as absent, as the format's own comments ask.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from rules.conditions import AllOf, AnyOf, Condition, Not
from rules.legacy import LEGACY_ITEM_KEYS, LegacyPropertyMatch, LegacyProximity
from rules.parser import Node, _kind, _yaml_load, condition_parse
from rules.schema import Debounce, NotificationRule, QuietHours

ONE_DAY_SECONDS = 86_400
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_RULE_KEYS = (
    "name",
    "notification_type",
    "event_type",
    "delay_seconds",
    "recheck",
    "debounce_period_seconds",
    "debounce_limit",
    "debounce_calendar_day",
    "quiet_hours",
    "max_event_age_seconds",
    "event_conditions",
    "condition",
)


# A decision stores its rule's name and notification type in columns of this many characters
# (notifications.models.Notification).
MAX_NAME_LENGTH = 128


def notification_rules_parse(text: str) -> tuple[NotificationRule, ...]:
    """Return the notification rules of the YAML document `text`, in file order.

    The document is a mapping with a `rules` list (which may be empty). Raise RuleParseError,
    naming the rule and the field, for invalid YAML, unknown keys or operators, bad durations,
    wrong types and duplicate rule names.
    """
    document = Node.of(_yaml_load(text), path="")
    document.keys_allow("rules")
    items = document.required("rules")
    if not isinstance(items, list):
        raise document.error("rules", f"must be a list, not {_kind(items)}")
    rules: list[NotificationRule] = []
    for index, item in enumerate(items):
        node = Node.of(item, path=_rule_path(index, item))
        rule = _rule_parse(node)
        for other_index, other in enumerate(rules):
            if other.name == rule.name:
                key = "name" if node.has("name") else "notification_type"
                raise node.error(
                    key, f"duplicate rule name {rule.name!r}; rules[{other_index}] has it"
                )
        rules.append(rule)
    return tuple(rules)


def _rule_path(index: int, item: Any) -> str:
    """Return `rules[i] (NAME)`, naming the rule by `name`, else `notification_type`."""
    if isinstance(item, dict):
        for key in ("name", "notification_type"):
            label = item.get(key)
            if isinstance(label, str) and label.strip():
                return f"rules[{index}] ({label})"
    return f"rules[{index}]"


def _rule_parse(node: Node) -> NotificationRule:
    """Return the rule that `node` describes."""
    node.keys_allow(*_RULE_KEYS)
    notification_type = node.text("notification_type", max_length=MAX_NAME_LENGTH)
    name = (
        node.text("name", max_length=MAX_NAME_LENGTH)
        if _present(node, "name")
        else notification_type
    )
    delay_seconds = _count(node, "delay_seconds")
    return NotificationRule(
        name=name,
        notification_type=notification_type,
        event_type=node.text("event_type"),
        condition=_rule_condition(node),
        delay_seconds=delay_seconds,
        recheck=_flag(node, "recheck"),
        debounce=_debounce(node),
        quiet_hours=_quiet_hours(node),
        max_event_age_seconds=_max_event_age(node, delay_seconds=delay_seconds),
    )


def _present(node: Node, key: str) -> bool:
    """Return whether `key` is in the mapping with a value other than null."""
    return node.mapping.get(key) is not None


def _count(node: Node, key: str) -> int:
    """Return the non-negative integer under `key`; absent or null is 0."""
    if not _present(node, key):
        return 0
    return node.integer(key, minimum=0)


def _flag(node: Node, key: str) -> bool:
    """Return the boolean under `key`; absent or null is false."""
    return _present(node, key) and node.boolean(key, default=False)


def _debounce(node: Node) -> Debounce:
    """Return the rule's debounce policy; 0 or null limit and period mean none and "ever"."""
    limit = _count(node, "debounce_limit") or None
    period = _count(node, "debounce_period_seconds") or None
    calendar_day = _flag(node, "debounce_calendar_day")
    if calendar_day and period != ONE_DAY_SECONDS:
        raise node.error(
            "debounce_calendar_day",
            f"needs debounce_period_seconds: {ONE_DAY_SECONDS} (one day), not {period or 0}",
        )
    return Debounce(limit=limit, period_seconds=period, calendar_day=calendar_day)


def _max_event_age(node: Node, *, delay_seconds: int) -> int | None:
    """Return the rule's maximum event age in seconds; absent or null is none (any age).

    It must exceed `delay_seconds`: an event is at least that old when it is sent.
    """
    if not _present(node, "max_event_age_seconds"):
        return None
    seconds = node.integer("max_event_age_seconds", minimum=1)
    if seconds <= delay_seconds:
        raise node.error(
            "max_event_age_seconds",
            f"must be more than delay_seconds ({delay_seconds}), or no event would ever be sent; "
            f"got {seconds}",
        )
    return seconds


def _quiet_hours(node: Node) -> QuietHours | None:
    """Return the rule's quiet hours (`{start: "22:00", end: "07:00"}`) or None."""
    if not _present(node, "quiet_hours"):
        return None
    hours = node.child("quiet_hours")
    hours.keys_allow("start", "end")
    start, end = _clock(hours, "start"), _clock(hours, "end")
    if start == end:
        raise hours.error("end", "must differ from start")
    return QuietHours(start=start, end=end)


def _clock(node: Node, key: str) -> time:
    """Return the wall-clock time under `key`, a quoted "HH:MM" string."""
    value = node.required(key)
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise node.error(key, f'must be a quoted "HH:MM" time, not {_kind(value)}')
    return time(int(match[1]), int(match[2]))


def _rule_condition(node: Node) -> Condition:
    """Return the rule's `condition` (the rule language) or its `event_conditions`."""
    if _present(node, "condition"):
        if _present(node, "event_conditions"):
            raise node.error("condition", "cannot be combined with event_conditions")
        return condition_parse(node.mapping["condition"], path=node.at("condition"))
    if not _present(node, "event_conditions"):
        return AllOf(conditions=())
    return AllOf(conditions=_items(node, "event_conditions"))


def _items(node: Node, key: str) -> tuple[Condition, ...]:
    """Return the conditions of the `event_conditions` list under `key`."""
    items = node.required(key)
    if not isinstance(items, list):
        raise node.error(key, f"must be a list, not {_kind(items)}")
    path = node.at(key)
    return tuple(_item(Node.of(item, path=f"{path}[{index}]")) for index, item in enumerate(items))


def _item(node: Node) -> Condition:
    """Return one condition item: the conjunction of its non-null keys."""
    node.keys_allow(*LEGACY_ITEM_KEYS)
    used = [key for key in LEGACY_ITEM_KEYS if node.mapping.get(key) is not None]
    if not used:
        raise node.error(None, f"needs one of {', '.join(LEGACY_ITEM_KEYS)} to be non-null")
    parts: list[Condition] = []
    for key in used:
        if key == "property_match":
            parts.append(LegacyPropertyMatch.from_node(node.child(key)))
        elif key == "event_proximity":
            parts.append(LegacyProximity.from_node(node.child(key)))
        else:
            parts.append(_logic(node.child(key)))
    return parts[0] if len(parts) == 1 else AllOf(conditions=tuple(parts))


def _logic(node: Node) -> Condition:
    """Return the `event_logic` that `node` describes: AND, OR or NOT of its conditions.

    NOT of a list is "not all of them".
    """
    node.keys_allow("logic", "event_conditions")
    logic = node.required("logic")
    if not isinstance(logic, str) or logic.upper() not in ("AND", "OR", "NOT"):
        raise node.error("logic", f"must be one of: AND, OR, NOT; got {logic!r}")
    items = _items(node, "event_conditions")
    if not items:
        raise node.error("event_conditions", "must be a non-empty list")
    if logic.upper() == "OR":
        return AnyOf(conditions=items)
    conjunction = AllOf(conditions=items)
    return Not(condition=conjunction) if logic.upper() == "NOT" else conjunction
