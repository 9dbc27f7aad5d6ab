"""What a backtest counts: per rule, the events each version matches, and how they differ.

Each kind replays stored history in its own way (alerts.backtest, notifications.backtest) and
reports every judgement here; `ReplayTally.result()` is the backtest's `result`, the same shape
for both kinds (docs/rules.md, "Backtests").
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SAMPLES_MAX = 50
ADDED = "added"
REMOVED = "removed"


@dataclass
class _RuleTally:
    active: int = 0
    candidate: int = 0
    added: int = 0
    removed: int = 0
    users: set[int] = field(default_factory=set)
    # Notifications only: outcomes after limits, by version ("sent", "suppressed: <reason>").
    outcomes: dict[str, Counter] = field(
        default_factory=lambda: {"active": Counter(), "candidate": Counter()}
    )


class ReplayTally:
    """Counts a backtest's judgements, rule by rule, and keeps the first `SAMPLES_MAX` changes."""

    def __init__(self) -> None:
        self.events = 0
        self._rules: dict[str, _RuleTally] = {}
        self._samples: list[dict[str, Any]] = []

    def rule(self, rule: str) -> None:
        """Name a rule of either version, so it is listed even when it matches nothing."""
        self._rules.setdefault(rule, _RuleTally())

    def judged(
        self,
        *,
        rule: str,
        event_id: str,
        user_id: int,
        active: bool,
        candidate: bool,
        why: Callable[[], str],
    ) -> None:
        """Record whether each version matched `event_id` for `rule`.

        `why` is called only for a change kept as a sample: the explanation sentence of the
        version that matched.
        """
        # Looked up before it is made: this runs for every event and rule of a backtest.
        tally = self._rules.get(rule) or self._rules.setdefault(rule, _RuleTally())
        tally.active += active
        tally.candidate += candidate
        if active == candidate:
            return
        change = ADDED if candidate else REMOVED
        if candidate:
            tally.added += 1
        else:
            tally.removed += 1
        tally.users.add(user_id)
        if len(self._samples) < SAMPLES_MAX:
            self._samples.append(
                {
                    "event_id": event_id,
                    "user_id": user_id,
                    "rule": rule,
                    "change": change,
                    "why": why(),
                }
            )

    def outcome(self, *, rule: str, version: str, outcome: str) -> None:
        """Count a notification's outcome after limits under `version` ("active"/"candidate").

        `outcome` is "sent" or a suppression's reason.
        """
        self._rules.setdefault(rule, _RuleTally()).outcomes[version][outcome] += 1

    def result(self) -> dict[str, Any]:
        """Return the backtest's result: `events`, `rules` (per rule) and `samples`."""
        return {
            "events": self.events,
            "rules": [
                {
                    "rule": rule,
                    "active": tally.active,
                    "candidate": tally.candidate,
                    "added": tally.added,
                    "removed": tally.removed,
                    "users": len(tally.users),
                    **(
                        {"outcomes": {v: dict(c) for v, c in tally.outcomes.items()}}
                        if any(tally.outcomes.values())
                        else {}
                    ),
                }
                for rule, tally in self._rules.items()
            ],
            "samples": self._samples,
        }
