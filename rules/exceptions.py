"""Errors raised by the rule core."""


class RuleParseError(Exception):
    """Rule text that does not follow the rule language, located by its YAML path."""

    def __init__(self, path: str, message: str, *, line: int | None = None) -> None:
        """Record where the problem is (`path`, and the `line` of the text when the YAML
        itself is at fault) and what it is (`message`)."""
        super().__init__(path, message)
        self.path = path
        self.message = message
        self.line = line

    def __str__(self) -> str:
        """Return "<path>: <message>"."""
        return f"{self.path}: {self.message}"
