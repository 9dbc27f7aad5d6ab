"""Errors raised by the rule core."""


class RuleParseError(Exception):
    """Rule text that does not follow the rule language, located by its YAML path."""

    def __init__(self, path: str, message: str) -> None:
        """Record where the problem is (`path`) and what it is (`message`)."""
        super().__init__(path, message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        """Return "<path>: <message>"."""
        return f"{self.path}: {self.message}"
