"""The line of a rule error: the field's line in the source, or its deepest part found."""

from rule_sets.error_lines import rule_error_line

SOURCE = """\
# a comment
rules:
  - code: 10
    actions:
      - channel: email
      - channel: pager
  - code: 20
    condition:
      count: three
"""


def test_the_line_is_the_fields():
    assert rule_error_line(SOURCE, rule="rules[1] (code 20)", field="condition.count") == 9


def test_an_index_in_the_field_is_followed():
    assert rule_error_line(SOURCE, rule="rules[0] (code 10)", field="actions[1].channel") == 6


def test_a_missing_field_is_at_its_deepest_part_found():
    assert rule_error_line(SOURCE, rule="rules[1] (code 20)", field="condition.window") == 8
    assert rule_error_line(SOURCE, rule="rules[1] (code 20)", field="") == 7


def test_no_such_rule_or_no_yaml_has_no_line():
    assert rule_error_line(SOURCE, rule="rules[5]", field="code") is None
    assert rule_error_line("rules: [unclosed", rule="rules[0]", field="code") is None
