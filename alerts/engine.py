"""The alert rules of POST /event: compiled once per version, planned per event type, evaluated.

Which version a process evaluates under is the active one (rule_sets.active): POST /event
plans its history questions with the version this process last saw active
(`alert_rules_planned`) and learns in the same round trip which version is active now
(`alert_rules_seen`), so an activation reaches every process at its next event.
"""

import functools
from pathlib import Path

from django.conf import settings

from events.history import UnsupportedFilter, check_answerable
from rule_sets.active import ActiveRuleSet, rule_set_active, rule_set_at
from rule_sets.models import KIND_ALERTS
from rules.evaluator import alert_codes_evaluate
from rules.exceptions import RuleParseError
from rules.history import EventRecord, History
from rules.parser import alert_rules_parse
from rules.plan import HistoryPlan, history_plan
from rules.schema import AlertRule


class AlertRuleEngine:
    """Evaluate a set of alert rules against an event and its user's history."""

    def __init__(self, rules: tuple[AlertRule, ...]) -> None:
        for index, rule in enumerate(rules):
            try:
                check_answerable(rule.condition)
            except UnsupportedFilter as exc:
                raise RuleParseError(f"rules[{index}] (code {rule.code}).condition", str(exc))
        self.rules = rules
        self._plans: dict[str, HistoryPlan] = {}

    @classmethod
    def from_file(cls, path: Path) -> "AlertRuleEngine":
        """Load and validate the rules in the YAML file at `path`.

        Raises RuleParseError, naming the file, the rule and the field, for a bad file.
        """
        try:
            return cls.from_source(path.read_text())
        except OSError as exc:
            raise RuleParseError(str(path), f"cannot read the rules file: {exc.strerror}")
        except RuleParseError as exc:
            raise RuleParseError(f"{path}: {exc.path}", exc.message)

    @classmethod
    def from_source(cls, source: str) -> "AlertRuleEngine":
        """Compile the alert rules of the YAML text `source` (a rule set version's).

        Raises RuleParseError naming the rule and the field.
        """
        return cls(alert_rules_parse(source))

    def plan(self, event_type: str) -> HistoryPlan:
        """Return the history questions the rules ask about an event of `event_type`."""
        plan = self._plans.get(event_type)
        if plan is None:
            plan = self._plans[event_type] = history_plan(rules=self.rules, event_type=event_type)
        return plan

    def evaluate(self, *, event: EventRecord, history: History) -> tuple[int, ...]:
        """Return the codes of the rules `event` raises, in ascending order."""
        return alert_codes_evaluate(rules=self.rules, event=event, history=history)


# The version of the alert rules this process last saw active; None until its first event.
_planned: ActiveRuleSet | None = None


def alert_rules_planned() -> ActiveRuleSet:
    """Return the version this process last saw active, to plan an event's questions with.

    Its `rules` are an AlertRuleEngine. Read from the database at the process's first event
    (one query, once), and after that from what each event's own round trip saw
    (`alert_rules_seen`).
    """
    global _planned
    if _planned is None:
        _planned = rule_set_active(KIND_ALERTS)
    return _planned


def alert_rules_seen(row: tuple[int, str] | None) -> ActiveRuleSet:
    """Return the version `row` (version, sha256) that an event read as active; the process
    plans its next events with it.

    None (no version active, never so once version 1 is imported: an activation replaces the
    active version in one transaction): the version planned with.
    """
    global _planned
    planned = alert_rules_planned()
    if row is None or row == (planned.version, planned.sha256):
        return planned
    _planned = rule_set_at(KIND_ALERTS, row)
    return _planned


@functools.lru_cache(maxsize=4)
def _alert_rule_engine_for(path: str) -> AlertRuleEngine:
    return AlertRuleEngine.from_file(Path(path))


def alert_rule_engine_default() -> AlertRuleEngine:
    """Return the engine of the default file, `settings.ALERT_RULES_PATH`, loaded once per path.

    The file is what a database without alert rules imports as version 1; the system check
    loads it at start-up so a bad file is reported before it could be imported.
    """
    return _alert_rule_engine_for(str(settings.ALERT_RULES_PATH))
