"""The kinds of rule sets and how each is compiled: registered by the apps that evaluate them.

The alerts and notifications apps sit above this one, so they tell it at start-up (their
`ready()`) how to turn a version's YAML text into the object they evaluate, and where their
default file is; this app never imports them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from rule_sets.replay import ReplayTally


class Replay(Protocol):
    """Replay a kind's stored history in [start, end) under `active` and `candidate` (compiled
    rules of the kind), reporting each judgement to `tally` and calling `progress(done, total)`
    now and then (events replayed, events in the window). Writes nothing."""

    def __call__(
        self,
        *,
        active: Any,
        candidate: Any,
        start: datetime,
        end: datetime,
        tally: ReplayTally,
        progress: Callable[[int, int], None],
    ) -> None: ...


@dataclass(frozen=True, kw_only=True)
class RuleSetKind:
    """A kind of rule set.

    `compile` turns YAML text into the kind's evaluable rules, raising RuleParseError naming
    the rule and the field; `default_path` returns the file imported as version 1; `replay`
    runs a backtest (None until the kind has one).
    """

    name: str
    compile: Callable[[str], Any]
    default_path: Callable[[], Path]
    replay: Replay | None = None


_KINDS: dict[str, RuleSetKind] = {}


def rule_set_kind_register(kind: RuleSetKind) -> None:
    """Register `kind` (again, for the same name, replaces it)."""
    _KINDS[kind.name] = kind


def rule_set_kind(name: str) -> RuleSetKind:
    """Return the registered kind `name`; KeyError when no app registered it."""
    return _KINDS[name]


def rule_set_kinds() -> tuple[RuleSetKind, ...]:
    """Return every registered kind, in registration order."""
    return tuple(_KINDS.values())
