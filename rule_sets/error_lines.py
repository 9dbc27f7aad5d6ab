"""The line of a rule error in its source: where the API, the console and `manage.py rules` say
the mistake is."""

import re

import yaml

# "rules[1] (code 30)" -> 1; a field's part "actions[0]" -> "actions", then index 0.
RULE_INDEX = re.compile(r"^rules\[(\d+)\]")
FIELD_PART = re.compile(r"^([^\[]+)((?:\[\d+\])*)$")
INDEX = re.compile(r"\[(\d+)\]")


def rule_error_line(source: str, *, rule: str, field: str) -> int | None:
    """Return the line (1-based) of `field` of `rule` in `source`, or the deepest part found.

    `rule` is the error's rule ("rules[1] (code 30)"), `field` its field ("condition.count").
    None when the source does not load as YAML or has no such rule.
    """
    item = RULE_INDEX.match(rule)
    if item is None:
        return None
    try:
        node = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    steps: list[str | int] = ["rules", int(item[1])]
    for part in filter(None, field.split(".")):
        keyed = FIELD_PART.match(part)
        if keyed is None:
            break
        steps.append(keyed[1])
        steps.extend(int(index) for index in INDEX.findall(keyed[2]))
    line = None
    for depth, step in enumerate(steps):
        found = _child(node, step)
        if found is None:
            return line if depth > 1 else None  # no such rule: no line
        at, node = found
        line = at.start_mark.line + 1
    return line


def _child(node, step: str | int):
    """Return (the node marking where `step` is, its value), or None when `node` has none."""
    if isinstance(step, int):
        if isinstance(node, yaml.SequenceNode) and step < len(node.value):
            return node.value[step], node.value[step]
        return None
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == step:
                return key, value
    return None
