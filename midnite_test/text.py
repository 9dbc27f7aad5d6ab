"""Text the service stores or queries by: no control characters."""

import re

# C0 and C1 control characters (NUL, line breaks, escape...): never part of an identifier or a
# name, and a line break in a name would reach an email's headers.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL = "Control characters (such as \\u0000, \\n or \\u001b) are not allowed."


def controls_refuse(value: str) -> str:
    """Return `value`; raise ValueError if it holds a control character."""
    # Control characters are not printable: most text needs no search.
    if not value.isprintable() and CONTROL_CHARACTER.search(value):
        raise ValueError(_CONTROL)
    return value
