"""Tests of parsing rule YAML: what each kind becomes and how bad input is reported."""

import textwrap
from decimal import Decimal
from typing import Any

import pytest
import yaml

from rules.conditions import (
    AllOf,
    AnyOf,
    Not,
    Operator,
    PropertyMatch,
    Proximity,
    Sequence,
    WindowAggregate,
)
from rules.exceptions import RuleParseError
from rules.history import EventFilter
from rules.parser import alert_rules_parse, condition_parse, repeated_keys_check
from rules.schema import AlertRule, Window


def parse_condition(text: str) -> Any:
    """Return the condition of the YAML `text`, parsed at path `c`."""
    return condition_parse(yaml.safe_load(textwrap.dedent(text)), path="c")


def rules_text(condition: str = "{type: property_match, path: amount, op: gt, value: 1}") -> str:
    """Return a one-rule file whose rule has `condition`."""
    return textwrap.dedent(f"""\
        version: 1
        rules:
          - code: 7
            name: seven
            event_type: withdraw
            condition: {condition}
        """)


def test_alert_rules_parse_builds_frozen_rules_in_file_order() -> None:
    text = rules_text() + textwrap.indent(
        textwrap.dedent("""\
        - code: 3
          name: three
          description: Deposits.
          event_type: deposit
          condition: {not: {type: property_match, path: amount, op: exists}}
        """),
        "  ",
    )
    assert alert_rules_parse(text) == (
        AlertRule(
            code=7,
            name="seven",
            event_type="withdraw",
            condition=PropertyMatch(path="amount", op=Operator.GT, value=Decimal(1)),
        ),
        AlertRule(
            code=3,
            name="three",
            event_type="deposit",
            description="Deposits.",
            condition=Not(condition=PropertyMatch(path="amount", op=Operator.EXISTS, value=True)),
        ),
    )


def test_alert_rules_parse_accepts_a_file_without_version() -> None:
    text = rules_text().replace("version: 1\n", "")
    assert [rule.code for rule in alert_rules_parse(text)] == [7]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "{type: property_match, path: amount, op: GT, value: 100}",
            PropertyMatch(path="amount", op=Operator.GT, value=Decimal(100)),
        ),
        (
            "{type: property_match, path: amount, op: lte, value: 100.10}",
            PropertyMatch(path="amount", op=Operator.LTE, value=Decimal("100.1")),
        ),
        (
            "{type: property_match, path: properties.plan, op: eq, value: pro}",
            PropertyMatch(path="properties.plan", op=Operator.EQ, value="pro"),
        ),
        (
            "{type: property_match, path: user_traits.vip, op: neq, value: true}",
            PropertyMatch(path="user_traits.vip", op=Operator.NEQ, value=True),
        ),
        (
            "{type: property_match, path: properties.n, op: In, value: [1, 2.5, x]}",
            PropertyMatch(
                path="properties.n", op=Operator.IN, value=(Decimal(1), Decimal("2.5"), "x")
            ),
        ),
        (
            "{type: property_match, path: properties.n, op: exists, value: false}",
            PropertyMatch(path="properties.n", op=Operator.EXISTS, value=False),
        ),
    ],
)
def test_condition_parse_reads_property_matches_with_decimal_values(
    text: str, expected: PropertyMatch
) -> None:
    assert parse_condition(text) == expected


def test_condition_parse_reads_proximity_with_where() -> None:
    condition = parse_condition("""\
        type: proximity
        event_type: login
        where:
          - {type: property_match, path: properties.country, op: nin, value: [GB]}
        window: {before_seconds: 60, after_seconds: 5}
        """)
    assert condition == Proximity(
        events=EventFilter(
            event_types=frozenset({"login"}),
            where=(PropertyMatch(path="properties.country", op=Operator.NIN, value=("GB",)),),
        ),
        window=Window(before_seconds=60, after_seconds=5),
    )


def test_condition_parse_reads_sequence_with_match_and_increasing() -> None:
    condition = parse_condition("""\
        type: sequence
        count: 2
        match: {type: property_match, path: amount, op: gt, value: 0}
        increasing: amount
        """)
    assert condition == Sequence(
        count=2,
        events=EventFilter(),
        match=PropertyMatch(path="amount", op=Operator.GT, value=Decimal(0)),
        increasing="amount",
    )


@pytest.mark.parametrize(
    ("function_lines", "function", "path"),
    [("function: sum\npath: amount", "sum", "amount"), ("function: COUNT", "count", "")],
)
def test_condition_parse_reads_window_aggregates(
    function_lines: str, function: str, path: str
) -> None:
    text = f"{function_lines}\ntype: window_aggregate\nevent_types: [deposit]\n"
    text += "window: {}\nop: gte\nvalue: 2.5\n"
    assert parse_condition(text) == WindowAggregate(
        function=function,  # type: ignore[arg-type]
        path=path,
        events=EventFilter(event_types=frozenset({"deposit"})),
        window=Window(),
        op=Operator.GTE,
        value=Decimal("2.5"),
    )


def test_condition_parse_reads_nested_combinators() -> None:
    match = "{type: property_match, path: amount, op: exists}"
    condition = parse_condition(f"{{all: [{match}, {{any: [{match}, {{not: {match}}}]}}]}}")
    leaf = PropertyMatch(path="amount", op=Operator.EXISTS, value=True)
    assert condition == AllOf(conditions=(leaf, AnyOf(conditions=(leaf, Not(condition=leaf)))))


MATCH = "{type: property_match, path: amount, op: gt, value: 1}"
WINDOW_SUM = "type: window_aggregate, function: sum, path: amount, op: gt, value: 1"


@pytest.mark.parametrize(
    ("condition", "path", "fragment"),
    [
        ("{path: amount}", "c", "must have a `type` key"),
        ("[1]", "c", "must be a mapping, not a list"),
        ("{type: fuzzy}", "c.type", "must be one of: property_match, proximity"),
        (f"{{all: [], any: [{MATCH}]}}", "c", "single-key mapping"),
        ("{all: []}", "c.all", "must be a non-empty list"),
        ("{all: [{x: 1}]}", "c.all[0]", "must have a `type` key"),
        ("{not: [1]}", "c.not", "must be a mapping"),
        ("{type: property_match, path: amount, op: gt, value: 1, x: 2}", "c.x", "unknown key"),
        ("{type: property_match, op: gt, value: 1}", "c.path", "is required"),
        ("{type: property_match, path: occurred_at, op: eq, value: 1}", "c.path", "must be"),
        ("{type: property_match, path: properties, op: eq, value: 1}", "c.path", "must be"),
        ("{type: property_match, path: properties..a, op: eq, value: 1}", "c.path", "must be"),
        ("{type: property_match, path: amount, op: like, value: 1}", "c.op", "must be one of"),
        ("{type: property_match, path: amount, op: gt, value: '1'}", "c.value", "a number"),
        ("{type: property_match, path: amount, op: gt, value: true}", "c.value", "a number"),
        ("{type: property_match, path: amount, op: gt}", "c.value", "is required"),
        ("{type: property_match, path: amount, op: eq, value: null}", "c.value", "not null"),
        ("{type: property_match, path: amount, op: eq, value: [1]}", "c.value", "not a list"),
        ("{type: property_match, path: amount, op: in, value: 1}", "c.value", "non-empty list"),
        ("{type: property_match, path: amount, op: in, value: []}", "c.value", "non-empty list"),
        ("{type: property_match, path: amount, op: in, value: [[1]]}", "c.value[0]", "string,"),
        ("{type: property_match, path: amount, op: exists, value: 1}", "c.value", "true or"),
        ("{type: proximity, window: {}}", "c.event_type", "is required"),
        ("{type: proximity, event_type: a, event_types: [b], window: {}}", "c.event_types", ""),
        ("{type: proximity, event_types: [], window: {}}", "c.event_types", "non-empty list"),
        ("{type: proximity, event_types: [a, ''], window: {}}", "c.event_types[1]", "string"),
        ("{type: proximity, event_type: a}", "c.window", "is required"),
        ("{type: proximity, event_type: a, window: {before_seconds: -1}}", "", ">= 0"),
        ("{type: proximity, event_type: a, window: {after_seconds: true}}", "", "integer"),
        ("{type: proximity, event_type: a, window: {after_seconds: 1.5}}", "", "integer"),
        ("{type: proximity, event_type: a, window: {seconds: 1}}", "c.window.seconds", "unknown"),
        (f"{{type: proximity, event_type: a, where: [{{not: {MATCH}}}], window: {{}}}}", "", ""),
        (f"{{type: sequence, count: 0, match: {MATCH}}}", "c.count", "integer >= 1"),
        (f"{{type: sequence, count: {2**31}, match: {MATCH}}}", "c.count", "at most 2147483647"),
        (
            f"{{type: proximity, event_type: a, window: {{before_seconds: {10**20}}}}}",
            "c.window.before_seconds",
            "must be at most 2147483647, not 100000000000000000000",
        ),
        (
            f"{{{WINDOW_SUM}, window: {{after_seconds: {10**11}}}}}",
            "c.window.after_seconds",
            "at most 2147483647",
        ),
        (f"{{type: sequence, count: true, match: {MATCH}}}", "c.count", "integer >= 1"),
        ("{type: sequence, count: 2}", "c", "needs `match`, `increasing` or both"),
        ("{type: sequence, count: 2, increasing: size}", "c.increasing", "must be"),
        (f"{{{WINDOW_SUM}}}", "c.window", "is required"),
        (f"{{{WINDOW_SUM}, window: {{}}, function: avg}}", "c.function", "must be one of"),
        (f"{{{WINDOW_SUM}, window: {{}}, op: in}}", "c.op", "must be one of: eq, neq, gt"),
        (f"{{{WINDOW_SUM}, window: {{}}, value: x}}", "c.value", "must be a number"),
        (
            f"{{{WINDOW_SUM}, window: {{}}, function: count}}",
            "c.path",
            "not allowed with function count",
        ),
        (f"{{{WINDOW_SUM}, window: {{}}, path: ''}}", "c.path", "non-empty string"),
    ],
)
def test_condition_parse_rejects_bad_conditions_naming_the_field(
    condition: str, path: str, fragment: str
) -> None:
    with pytest.raises(RuleParseError) as raised:
        parse_condition(condition)
    assert raised.value.path.startswith(path or "c.")
    assert fragment in raised.value.message
    assert str(raised.value) == f"{raised.value.path}: {raised.value.message}"


def test_bad_window_error_names_the_rule_by_code_and_the_field() -> None:
    condition = "{type: proximity, event_type: a, window: {before_seconds: -1}}"
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(rules_text(condition))
    assert raised.value.path == "rules[0] (code 7).condition.window.before_seconds"


def test_where_error_names_the_offending_item() -> None:
    condition = (
        f"{{type: proximity, event_type: a, where: [{MATCH}, {{not: {MATCH}}}], window: {{}}}}"
    )
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(rules_text(condition))
    assert raised.value.path == "rules[0] (code 7).condition.where[1]"
    assert raised.value.message == "only property_match is allowed in where"


def rule_text(**fields: str) -> str:
    """Return a file with one rule whose fields are the defaults updated by `fields`."""
    values = {"code": "7", "name": "seven", "event_type": "withdraw", "condition": MATCH}
    values.update(fields)
    lines = "".join(f"    {key}: {value}\n" for key, value in values.items() if value != "-")
    return f"rules:\n  -\n{lines}"


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ("rules: [", "<document>", "invalid YAML"),
        ("rules: \x8f", "<document>", "invalid YAML: unacceptable character #x008f"),
        ("", "<document>", "must be a mapping, not null"),
        ("- 1", "<document>", "must be a mapping, not a list"),
        ("version: 1", "rules", "is required"),
        ("rules: []", "rules", "must be a non-empty list"),
        ("rules: {}", "rules", "must be a non-empty list"),
        ("version: 2\nrules: [1]", "version", "must be 1"),
        ("version: true\nrules: [1]", "version", "must be 1"),
        ("rule: []", "rule", "unknown key; expected one of: version, rules"),
        ("rules: [1]", "rules[0]", "must be a mapping"),
        (rule_text(code="-"), "rules[0] (name seven).code", "is required"),
        (rule_text(code="0"), "rules[0] (name seven).code", "integer >= 1"),
        (rule_text(code="true"), "rules[0] (name seven).code", "integer >= 1"),
        (rule_text(code="'7'"), "rules[0] (name seven).code", "integer >= 1"),
        # Alert.code is a 32-bit integer column: one more would fail every event the rule raises.
        (rule_text(code="2147483648"), "rules[0] (code 2147483648).code", "at most 2147483647"),
        (rule_text(code="x", name="''"), "rules[0].code", "integer >= 1"),
        (rule_text(name="-"), "rules[0] (code 7).name", "is required"),
        (rule_text(name="[]"), "rules[0] (code 7).name", "non-empty string"),
        (rule_text(event_type="''"), "rules[0] (code 7).event_type", "non-empty string"),
        (rule_text(description="5"), "rules[0] (code 7).description", "non-empty string"),
        (rule_text(condition="-"), "rules[0] (code 7).condition", "is required"),
        (rule_text(when="now"), "rules[0] (code 7).when", "unknown key"),
        (rule_text(condition="{type: x}"), "rules[0] (code 7).condition.type", "must be one of"),
    ],
)
def test_alert_rules_parse_rejects_bad_files_naming_the_rule_and_field(
    text: str, path: str, fragment: str
) -> None:
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(text)
    assert raised.value.path == path
    assert fragment in raised.value.message


@pytest.mark.parametrize(
    ("second", "path"),
    [
        ("{code: 7, name: other, event_type: a, condition: %s}", "rules[1] (code 7).code"),
        ("{code: 8, name: seven, event_type: a, condition: %s}", "rules[1] (code 8).name"),
    ],
)
def test_alert_rules_parse_rejects_duplicate_codes_and_names(second: str, path: str) -> None:
    text = rule_text() + f"  - {second % MATCH}\n"
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(text)
    assert (raised.value.path, raised.value.message) == (path, "duplicate; rules[0] has it")


def aliased_rules(levels: int) -> str:
    """A one-rule file of a few hundred characters whose condition, its aliases expanded, is
    `levels` levels of `all:` lists of ten: 10**levels leaf conditions."""
    condition = "&c0 {type: property_match, path: amount, op: gt, value: 1}"
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*c{level - 1}"] * 9)
        condition = f"&c{level} {{all: [{condition}, {aliases}]}}"
    return rules_text(condition)


def test_a_document_whose_aliases_expand_past_the_node_limit_is_refused_before_parsing() -> None:
    """Aliases let a few hundred characters spell out 100,000 conditions, which would take a
    web worker seconds per level to walk: the document is measured as expanded, first."""
    text = aliased_rules(levels=5)
    assert len(text) < 1_000

    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(text)

    assert raised.value.path == "<document>"
    assert "more than 50,000 values once its aliases are expanded" in raised.value.message


def test_an_alias_inside_the_value_it_stands_for_is_refused_naming_the_anchors_line() -> None:
    """Such a value holds itself, endlessly: its parse never ended (a RecursionError)."""
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(rules_text("&loop {all: [*loop]}"))

    assert (raised.value.path, raised.value.message) == (
        "<document>",
        "the value anchored at line 6 holds an alias of itself",
    )


def test_aliases_that_repeat_a_condition_a_few_times_still_parse() -> None:
    assert len(alert_rules_parse(aliased_rules(levels=2))[0].condition.conditions) == 10


def test_a_code_of_the_largest_storable_integer_parses() -> None:
    assert alert_rules_parse(rule_text(code="2147483647"))[0].code == 2**31 - 1


@pytest.mark.parametrize(
    "text",
    [
        "rules: " + "[" * 500 + "]" * 500,
        rules_text("{all: [" * 300 + MATCH + "]}" * 300),
        "rules:\n" + "".join("  " * level + "- \n" for level in range(1, 100)),
    ],
    ids=["flow lists", "conditions", "block lists"],
)
def test_a_document_nested_deeper_than_the_limit_is_refused_naming_its_line(text: str) -> None:
    """Deep enough, the YAML composer's recursion ran out of stack: a 500, its traceback
    thousands of lines in the log."""
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(text)

    assert raised.value.path == "<document>"
    assert raised.value.message.startswith("nests more than 64 levels deep at line ")
    assert raised.value.line is not None


def test_conditions_nested_within_the_depth_limit_parse() -> None:
    condition = "{not: " * 25 + MATCH + "}" * 25
    parsed = alert_rules_parse(rules_text(condition))[0].condition
    for _ in range(25):
        parsed = parsed.condition
    assert parsed == PropertyMatch(path="amount", op=Operator.GT, value=Decimal(1))


def test_a_key_written_twice_in_one_mapping_is_found_at_its_second_line() -> None:
    """YAML keeps the last of the two silently: `value: 100` then `value: 50` is 50."""
    text = rules_text("{type: property_match, path: amount, op: gt, value: 1}").replace(
        "    name: seven\n", "    name: seven\n    code: 8\n"
    )
    assert alert_rules_parse(text)[0].code == 8

    with pytest.raises(RuleParseError) as raised:
        repeated_keys_check(text)

    assert raised.value.path == "<document>"
    assert raised.value.message == "the key 'code' at line 5 repeats the one at line 3"
    assert raised.value.line == 5


def test_repeated_keys_are_found_in_flow_mappings_and_behind_aliases() -> None:
    with pytest.raises(RuleParseError, match="the key 'op' at line 6 repeats the one at line 6"):
        repeated_keys_check(rules_text("{type: property_match, path: amount, op: gt, op: lt}"))
    with pytest.raises(RuleParseError, match="'a' at line 1 repeats"):
        repeated_keys_check("x: &m {a: 1, a: 2}\ny: *m\n")


def test_keys_merged_from_an_anchor_may_be_written_again() -> None:
    """`<<` takes the anchor's keys as defaults that the mapping's own keys override."""
    repeated_keys_check("base: &b {op: gt, value: 1}\nmatch: {<<: *b, value: 2}\n")


@pytest.mark.parametrize(
    "number", ["9" * 4301, "-" + "9" * 41, "0x" + "f" * 5000, "1_" * 40 + "1"], ids=str.__len__
)
def test_an_integer_of_more_than_40_digits_is_refused_naming_its_line(number: str) -> None:
    """Past 4,300 digits Python refuses to convert the text (a ValueError: a 500), and a hex
    number of thousands of digits was stored, then written into every decision's reason."""
    with pytest.raises(RuleParseError) as raised:
        alert_rules_parse(
            rules_text(f"{{type: property_match, path: amount, op: gt, value: {number}}}")
        )

    assert raised.value.path == "<document>"
    assert raised.value.message == "the number at line 6 has more than 40 digits"
    assert raised.value.line == 6


def test_an_integer_of_40_digits_parses() -> None:
    condition = alert_rules_parse(rules_text(f"{{{WINDOW_SUM}, window: {{}}, value: {'9' * 40}}}"))
    assert condition[0].condition.value == Decimal("9" * 40)
