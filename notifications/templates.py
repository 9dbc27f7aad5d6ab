"""Notification templates: the file format, and rendering `{{ variable }}` in a sandbox.

Rendering substitutes plain names only (a regular expression, not a template engine): no
attribute access, filters, loops or code, so a template can read nothing but the variables it
is given. A variable with no value renders empty and is reported, never raised.
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rules.parser import Node, _kind, _yaml_load

CHANNELS = ("email", "sms")
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_TEMPLATE_KEYS = ("type", "channel", "private", "subject", "text")


@dataclass(frozen=True, kw_only=True)
class NotificationTemplate:
    """What a notification says and where it goes.

    `private`: an internal alert for the operations recipients, never sent to the user.
    `subject` is "" when the file gives none (SMS has none).
    """

    type: str
    channel: str
    private: bool
    subject: str
    text: str


def notification_templates_parse(text: str) -> dict[str, NotificationTemplate]:
    """Return the templates of the YAML document `text` by type, in file order.

    The document is a mapping with a `notifications` list. Raise RuleParseError, naming the
    template and the field, for unknown keys, a channel other than email or sms, a subject on
    an SMS, a `{{ ... }}` that is not a plain variable name, wrong types and duplicate types.
    """
    document = Node.of(_yaml_load(text), path="")
    document.keys_allow("notifications")
    items = document.required("notifications")
    if not isinstance(items, list):
        raise document.error("notifications", f"must be a list, not {_kind(items)}")
    templates: dict[str, NotificationTemplate] = {}
    for index, item in enumerate(items):
        node = Node.of(item, path=_template_path(index, item))
        template = _template_parse(node)
        if template.type in templates:
            first = list(templates).index(template.type)
            raise node.error("type", f"duplicate; notifications[{first}] has it")
        templates[template.type] = template
    return templates


def _template_path(index: int, item: Any) -> str:
    """Return `notifications[i] (TYPE)` when the item has a valid type."""
    label = item.get("type") if isinstance(item, dict) else None
    if isinstance(label, str) and label.strip():
        return f"notifications[{index}] ({label})"
    return f"notifications[{index}]"


def _template_parse(node: Node) -> NotificationTemplate:
    """Return the template that `node` describes; a key set to null counts as absent."""
    node.keys_allow(*_TEMPLATE_KEYS)
    channel = node.required("channel")
    if channel not in CHANNELS:
        raise node.error("channel", f"must be one of: {', '.join(CHANNELS)}; got {channel!r}")
    subject = node.text("subject") if node.mapping.get("subject") is not None else ""
    if subject and channel == "sms":
        raise node.error("subject", "is only for email; an SMS has no subject")
    private = node.mapping.get("private")
    return NotificationTemplate(
        type=node.text("type"),
        channel=channel,
        private=False if private is None else node.boolean("private", default=False),
        subject=_checked_placeholders(node, "subject", subject),
        text=_checked_placeholders(node, "text", node.text("text")),
    )


def _checked_placeholders(node: Node, key: str, text: str) -> str:
    """Return `text` after checking that every `{{ ... }}` in it is a plain variable name."""
    for placeholder in _PLACEHOLDER.finditer(text):
        if not _VARIABLE.fullmatch(placeholder[0]):
            raise node.error(
                key, f"{placeholder[0]!r} is not a variable; only {{{{ name }}}} is allowed"
            )
    return text


def template_render(text: str, variables: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Return `text` with each `{{ name }}` replaced, and the sorted names that had no value.

    A name that is absent or None renders empty. Values are written plainly: strings as they
    are, numbers and booleans as JSON writes them (`12.50`, `true`), objects and lists as
    compact JSON.
    """
    missing: set[str] = set()

    def value_of(placeholder: re.Match[str]) -> str:
        value = variables.get(placeholder[1])
        if value is None:
            missing.add(placeholder[1])
            return ""
        return _plain(value)

    return _VARIABLE.sub(value_of, text), tuple(sorted(missing))


def _plain(value: Any) -> str:
    """Return `value` as a rendered template shows it."""
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    # A Decimal inside an object or list is written as a string, as Django's JSON encoder does.
    return json.dumps(value, separators=(",", ":"), default=str)


def template_variables(
    *,
    user_id: str,
    event_type: str,
    event_timestamp: str,
    properties: Mapping[str, Any],
    user_traits: Mapping[str, Any],
) -> dict[str, Any]:
    """Return the flat variables a template may use for one event.

    Later sources win on a shared name: the event's properties, then the user's traits, then
    `user_id`, `event_type` and `event_timestamp`, which always mean the event's own.
    """
    return {
        **properties,
        **user_traits,
        "user_id": user_id,
        "event_type": event_type,
        "event_timestamp": event_timestamp,
    }
