"""Frozen objects that a parsed rule file is made of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rules.conditions import Condition


@dataclass(frozen=True, kw_only=True)
class Window:
    """A span of time around an event, inclusive at both ends.

    The parser accepts only non-negative integers (never booleans) for both fields.
    """

    before_seconds: int = 0
    after_seconds: int = 0

    def bounds(self, at: datetime) -> tuple[datetime, datetime]:
        """Return the first and last instants of the window around `at`.

        Both instants belong to the window: `[at - before, at + after]`.
        """
        return (
            at - timedelta(seconds=self.before_seconds),
            at + timedelta(seconds=self.after_seconds),
        )


@dataclass(frozen=True, kw_only=True)
class AlertRule:
    """A rule that raises `code` when an event of `event_type` satisfies `condition`."""

    code: int
    name: str
    event_type: str
    condition: Condition
    description: str = ""
