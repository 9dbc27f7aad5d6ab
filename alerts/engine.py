"""The alert rules of POST /event: loaded once per file, planned per event type, evaluated."""

import functools
from pathlib import Path

from django.conf import settings

from events.history import UnsupportedFilter, check_answerable
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


@functools.lru_cache(maxsize=4)
def _alert_rule_engine_for(path: str) -> AlertRuleEngine:
    return AlertRuleEngine.from_file(Path(path))


def alert_rule_engine() -> AlertRuleEngine:
    """Return the engine for `settings.ALERT_RULES_PATH`, loaded once per path."""
    return _alert_rule_engine_for(str(settings.ALERT_RULES_PATH))
