"""Parse rule YAML into frozen rule objects, rejecting anything unexpected by its YAML path.

Paths look like `rules[2] (code 123).condition.window.before_seconds`: a list index in brackets,
the rule's code (or name) once it is known, then the keys leading to the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from rules.conditions import (
    COMBINATORS,
    CONDITION_TYPES,
    Condition,
    PropertyMatch,
    as_decimal,
    path_is_valid,
)
from rules.exceptions import RuleParseError
from rules.history import EventFilter
from rules.schema import AlertRule, Window

DOCUMENT_PATH = "<document>"
# Values (mappings, lists, keys and scalars) a rule document may hold with its aliases
# expanded: about four times as many as 200,000 characters (a version's most) of rules hold
# without aliases, written as config/alert_rules.yml is (a value per 15 characters).
MAX_DOCUMENT_VALUES = 50_000
# How deep mappings and lists may nest: conditions nested 30 deep fit. Deeper, composing the
# document would recurse towards Python's limit (about 450 levels: a RecursionError).
MAX_DOCUMENT_DEPTH = 64
# The most digits an integer in a rule document may have, as in an event's payload.
MAX_INTEGER_DIGITS = 40
# The largest integer a rule may hold: Alert.code's column is 32 bits, and as seconds (a window,
# a delay) it is 68 years.
RULE_INTEGER_MAX = 2**31 - 1
_PATH_HELP = (
    "must be event_type, amount, properties.<key>[.<key>...] or user_traits.<key>[.<key>...]"
)


class Node:
    """A YAML mapping being parsed, whose readers raise errors that name the key at fault."""

    def __init__(self, mapping: Mapping[str, Any], *, path: str) -> None:
        """Wrap `mapping`, found at `path` ("" for the document itself)."""
        self.mapping = mapping
        self.path = path

    @classmethod
    def of(cls, value: Any, *, path: str) -> Node:
        """Return `value` as a Node; raise RuleParseError unless it is a string-keyed mapping."""
        if not isinstance(value, dict):
            raise RuleParseError(path or DOCUMENT_PATH, f"must be a mapping, not {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise RuleParseError(path or DOCUMENT_PATH, f"key {key!r} is not a string")
        return cls(value, path=path)

    def at(self, key: str) -> str:
        """Return the path of `key` inside this mapping."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str) -> RuleParseError:
        """Return a RuleParseError about `key`, or about the whole mapping when key is None."""
        if key is None:
            return RuleParseError(self.path or DOCUMENT_PATH, message)
        return RuleParseError(self.at(key), message)

    def has(self, key: str) -> bool:
        """Return whether the mapping has `key`."""
        return key in self.mapping

    def keys_allow(self, *keys: str) -> None:
        """Raise RuleParseError for the first key of the mapping that is not in `keys`."""
        for key in self.mapping:
            if key not in keys:
                raise self.error(key, f"unknown key; expected one of: {', '.join(keys)}")

    def required(self, key: str) -> Any:
        """Return the value of `key`; raise RuleParseError when it is absent."""
        if key not in self.mapping:
            raise self.error(key, "is required")
        return self.mapping[key]

    def child(self, key: str) -> Node:
        """Return the mapping under `key` as a Node."""
        return Node.of(self.required(key), path=self.at(key))

    def text(self, key: str, *, default: str | None = None, max_length: int | None = None) -> str:
        """Return the non-empty string under `key`, of at most `max_length` characters when
        given, or `default` when absent and not None."""
        if default is not None and key not in self.mapping:
            return default
        value = self.required(key)
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string, not {_kind(value)}")
        if max_length is not None and len(value) > max_length:
            raise self.error(key, f"must be at most {max_length} characters, not {len(value)}")
        return value

    def event_path(self, key: str) -> str:
        """Return the event path under `key` (`amount`, `properties.a.b`, ...)."""
        value = self.text(key)
        if not path_is_valid(value):
            raise self.error(key, f"{_PATH_HELP}, not {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        """Return the value under `key` lower-cased, which must be one of `choices`."""
        value = self.required(key)
        if not isinstance(value, str) or value.lower() not in choices:
            raise self.error(key, f"must be one of: {', '.join(choices)}; got {value!r}")
        return value.lower()

    def integer(self, key: str, *, minimum: int, default: int | None = None) -> int:
        """Return the integer under `key` (never a bool), at least `minimum`."""
        if default is not None and key not in self.mapping:
            return default
        value = self.required(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(key, f"must be an integer >= {minimum}, not {_kind(value)}")
        if value > RULE_INTEGER_MAX:
            raise self.error(key, f"must be at most {RULE_INTEGER_MAX}, not {value}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        """Return the boolean under `key`, or `default` when absent."""
        value = self.mapping.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {_kind(value)}")
        return value

    def number(self, key: str) -> Decimal:
        """Return the number under `key` as a Decimal (a YAML float goes through `str`)."""
        value = self.required(key)
        number = as_decimal(value)
        if number is None:
            raise self.error(key, f"must be a number, not {_kind(value)}")
        return number

    def scalar(self, key: str) -> str | bool | Decimal:
        """Return the string, boolean or number (as a Decimal) under `key`."""
        return _scalar(self.required(key), path=self.at(key))

    def scalars(self, key: str) -> tuple[str | bool | Decimal, ...]:
        """Return the non-empty list of scalars under `key` as a tuple."""
        items = self.non_empty_list(key)
        return tuple(_scalar(item, path=f"{self.at(key)}[{i}]") for i, item in enumerate(items))

    def condition(self, key: str) -> Condition:
        """Return the condition under `key`."""
        return condition_parse(self.required(key), path=self.at(key))

    def conditions(self, key: str) -> tuple[Condition, ...]:
        """Return the non-empty list of conditions under `key` as a tuple."""
        items = self.non_empty_list(key)
        path = self.at(key)
        return tuple(condition_parse(item, path=f"{path}[{i}]") for i, item in enumerate(items))

    def events(self, *, required: bool) -> EventFilter:
        """Return the event filter of `event_type` or `event_types`, and `where`."""
        if self.has("event_type") and self.has("event_types"):
            raise self.error("event_types", "cannot be combined with event_type")
        event_types: frozenset[str] | None = None
        if self.has("event_type"):
            event_types = frozenset({self.text("event_type")})
        elif self.has("event_types"):
            event_types = frozenset(self._texts("event_types"))
        elif required:
            raise self.error("event_type", "is required (or event_types)")
        return EventFilter(event_types=event_types, where=self._where())

    def window(self, key: str) -> Window:
        """Return the window under `key` (`before_seconds`, `after_seconds`, default 0)."""
        node = self.child(key)
        node.keys_allow("before_seconds", "after_seconds")
        return Window(
            before_seconds=node.integer("before_seconds", minimum=0, default=0),
            after_seconds=node.integer("after_seconds", minimum=0, default=0),
        )

    def non_empty_list(self, key: str) -> list[Any]:
        """Return the non-empty list under `key`."""
        items = self.required(key)
        if not isinstance(items, list) or not items:
            raise self.error(key, f"must be a non-empty list, not {_kind(items)}")
        return items

    def _texts(self, key: str) -> tuple[str, ...]:
        """Return the non-empty list of non-empty strings under `key`."""
        items = self.non_empty_list(key)
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                raise RuleParseError(f"{self.at(key)}[{index}]", "must be a non-empty string")
        return tuple(items)

    def _where(self) -> tuple[PropertyMatch, ...]:
        """Return the property matches under `where`, or () when absent."""
        if not self.has("where"):
            return ()
        matches: list[PropertyMatch] = []
        for index, match in enumerate(self.conditions("where")):
            if not isinstance(match, PropertyMatch):
                raise RuleParseError(
                    f"{self.at('where')}[{index}]", "only property_match is allowed in where"
                )
            matches.append(match)
        return tuple(matches)


def _kind(value: Any) -> str:
    """Return how an error message names the YAML value `value`."""
    if value is None:
        return "null"
    if value == []:
        return "an empty list"
    if isinstance(value, (bool, int, float, str)):
        return f"{type(value).__name__} {value!r}"
    names: dict[type, str] = {dict: "a mapping", list: "a list"}
    return names.get(type(value), type(value).__name__)


def _scalar(value: Any, *, path: str) -> str | bool | Decimal:
    """Return a YAML string or boolean as is and a number as a Decimal."""
    if isinstance(value, (str, bool)):
        return value
    number = as_decimal(value)
    if number is None:
        raise RuleParseError(path, f"must be a string, number or boolean, not {_kind(value)}")
    return number


def condition_parse(node: Any, *, path: str) -> Condition:
    """Return the condition that the YAML value `node`, found at `path`, describes.

    A mapping with `type` is a leaf kind of `CONDITION_TYPES`; a single-key mapping `all`,
    `any` or `not` is a combinator. Raise RuleParseError for anything else.
    """
    mapping = Node.of(node, path=path)
    if mapping.has("type"):
        kind = mapping.required("type")
        if not isinstance(kind, str) or kind not in CONDITION_TYPES:
            expected = ", ".join(CONDITION_TYPES)
            raise mapping.error("type", f"must be one of: {expected}; got {kind!r}")
        return CONDITION_TYPES[kind].from_node(mapping)
    keys = list(mapping.mapping)
    if len(keys) == 1 and keys[0] in COMBINATORS:
        return COMBINATORS[keys[0]].from_node(mapping)
    raise mapping.error(None, "must have a `type` key or be a single-key mapping all, any or not")


def alert_rules_parse(text: str) -> tuple[AlertRule, ...]:
    """Return the alert rules of the YAML document `text`, in file order.

    The document is a mapping with an optional `version: 1` and a non-empty `rules` list.
    Raise RuleParseError for invalid YAML, unknown keys, wrong types and duplicate codes or
    names.
    """
    document = Node.of(_yaml_load(text), path="")
    document.keys_allow("version", "rules")
    version = document.mapping.get("version", 1)
    if type(version) is not int or version != 1:
        raise document.error("version", f"must be 1, not {_kind(version)}")
    items = document.non_empty_list("rules")
    rules: list[AlertRule] = []
    for index, item in enumerate(items):
        rule = _alert_rule_parse(item, index=index)
        path = _rule_path(index, item)
        for other_index, other in enumerate(rules):
            if other.code == rule.code:
                raise RuleParseError(f"{path}.code", f"duplicate; rules[{other_index}] has it")
            if other.name == rule.name:
                raise RuleParseError(f"{path}.name", f"duplicate; rules[{other_index}] has it")
        rules.append(rule)
    return tuple(rules)


def _yaml_load(text: str) -> Any:
    """Return the YAML document `text` loaded safely; raise RuleParseError when it is invalid
    or holds more than MAX_DOCUMENT_VALUES values once its aliases are expanded."""
    try:
        loader = _RuleLoader(text)  # reads the text first: a control character raises
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _expanded_size_check(root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise RuleParseError(
            DOCUMENT_PATH, f"invalid YAML: {problem}{where}", line=mark.line + 1 if mark else None
        ) from error


class _RuleLoader(yaml.SafeLoader):
    """A safe loader that refuses, at its line, a value nested deeper than MAX_DOCUMENT_DEPTH
    and an integer of more than MAX_INTEGER_DIGITS digits."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DOCUMENT_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise RuleParseError(
                    DOCUMENT_PATH,
                    f"nests more than {MAX_DOCUMENT_DEPTH} levels deep at line {line}",
                    line=line,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node):
        # Python converts at most 4,300 decimal digits (a ValueError past them), any number of
        # hex ones: both would be numbers no rule needs, written into every reason that names them.
        digits = node.value.replace("_", "").lstrip("+-")
        if digits[:2].lower() in ("0x", "0o", "0b"):
            digits = digits[2:]
        if sum(character.isalnum() for character in digits) > MAX_INTEGER_DIGITS:
            line = node.start_mark.line + 1
            raise RuleParseError(
                DOCUMENT_PATH,
                f"the number at line {line} has more than {MAX_INTEGER_DIGITS} digits",
                line=line,
            )
        return super().construct_yaml_int(node)


_RuleLoader.add_constructor("tag:yaml.org,2002:int", _RuleLoader.construct_yaml_int)


def _expanded_size_check(root: yaml.Node) -> None:
    """Refuse a document that its aliases expand past MAX_DOCUMENT_VALUES values, or that an
    alias makes hold itself.

    An alias stands for its anchor's whole node, so a few hundred characters of nested aliases
    spell out millions of conditions, which each parse, backtest and evaluation would walk.
    The expanded size is counted on the composed graph, each node's once (an alias is the same
    node object as its anchor), so the count itself is linear in the text.
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    # Depth first, children before parents: a node's size is 1 plus its children's.
    pending: list[yaml.Node] = [root]
    while pending:
        node = pending[-1]
        if id(node) in sizes:
            pending.pop()
            continue
        children = _children(node)
        if id(node) not in entered:
            entered.add(id(node))
            for child in children:
                if id(child) in entered and id(child) not in sizes:
                    line = child.start_mark.line + 1
                    raise RuleParseError(
                        DOCUMENT_PATH,
                        f"the value anchored at line {line} holds an alias of itself",
                        line=line,
                    )
                pending.append(child)
            continue
        pending.pop()
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
        if sizes[id(node)] > MAX_DOCUMENT_VALUES:
            raise RuleParseError(
                DOCUMENT_PATH,
                f"holds more than {MAX_DOCUMENT_VALUES:,} values once its aliases are "
                "expanded; write the rules with fewer aliases",
            )


def repeated_keys_check(text: str) -> None:
    """Raise RuleParseError at the line of a key that its mapping already has.

    YAML keeps the last of the two silently (`value: 100`, then `value: 50` a few lines down,
    is 50). A key `<<` merges in may be written again: that is how a merge is overridden.
    Checked when a version is stored, not when one is compiled: versions stored before the
    check still compile, so activating one (a rollback) is never refused for it. `text` is a
    document alert_rules_parse or notification_rules_parse accepted.
    """
    loader = _RuleLoader(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    seen: set[int] = set()
    pending = [root] if root is not None else []
    while pending:
        node = pending.pop()
        if id(node) in seen:  # an alias: its anchor's node again
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            _mapping_keys_check(node)
        pending.extend(_children(node))


def _mapping_keys_check(node: yaml.MappingNode) -> None:
    first_lines: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE_TAG:
            continue
        line = key.start_mark.line + 1
        written = (key.tag, key.value)
        if written in first_lines:
            raise RuleParseError(
                DOCUMENT_PATH,
                f"the key {key.value!r} at line {line} repeats the one at line "
                f"{first_lines[written]}",
                line=line,
            )
        first_lines[written] = line


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _rule_path(index: int, item: Any) -> str:
    """Return the path naming rule `index`: with its code, else its name, when they are valid."""
    if not isinstance(item, dict):
        return f"rules[{index}]"
    code, name = item.get("code"), item.get("name")
    if isinstance(code, int) and not isinstance(code, bool) and code > 0:
        return f"rules[{index}] (code {code})"
    if isinstance(name, str) and name.strip():
        return f"rules[{index}] (name {name})"
    return f"rules[{index}]"


def _alert_rule_parse(item: Any, *, index: int) -> AlertRule:
    """Return the alert rule `item`, the `index`th of the file."""
    node = Node.of(item, path=_rule_path(index, item))
    node.keys_allow("code", "name", "description", "event_type", "condition")
    return AlertRule(
        code=node.integer("code", minimum=1),
        name=node.text("name"),
        event_type=node.text("event_type"),
        condition=node.condition("condition"),
        description=node.text("description", default=""),
    )
