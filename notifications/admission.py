"""What a notification whose rule matched meets before it is scheduled: the user's opt-out and
address, the rule's limit, delay, quiet hours and maximum event age.

Shared by the live evaluation (notifications.evaluation), whose limit counts start from the
stored notifications, and the backtest (notifications.backtest), whose counts are its own
simulated sends; `now` is when the event is evaluated.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from notifications.channels import address_missing
from notifications.policy import (
    LimitWindow,
    event_too_old,
    limit_window,
    quiet_hours_defer,
    user_timezone,
)
from notifications.templates import NotificationTemplate
from rules.explain import duration_text
from rules.schema import NotificationRule


@dataclass
class LimitCounts:
    """Trigger times of the notifications that count against limits, by (user, type).

    Each notification admitted is added, so the next event of the same user sees it.
    """

    times: dict[tuple[int, str], list[datetime]] = field(default_factory=lambda: defaultdict(list))

    def count(self, key: tuple[int, str], window: LimitWindow) -> int:
        return sum(
            1
            for at in self.times[key]
            if (window.start is None or at >= window.start)
            and (window.end is None or at < window.end)
        )

    def add(self, key: tuple[int, str], at: datetime) -> None:
        self.times[key].append(at)


@dataclass(frozen=True)
class Suppressed:
    """Not to be sent. `reason` is the decision's, after "skipped <type>: "; `outcome` is the
    same without what is particular to the event (a date, an age), as backtests count it."""

    reason: str
    outcome: str


@dataclass(frozen=True)
class Scheduled:
    """To be sent at `due`; `notes` say what moved it ("deferred by quiet hours from ...")."""

    due: datetime
    notes: tuple[str, ...]


def notification_admit(
    *,
    rule: NotificationRule,
    template: NotificationTemplate,
    user_id: int,
    email: str | None,
    account_traits: Mapping[str, Any],
    traits: Mapping[str, Any],
    occurred_at: datetime,
    now: datetime,
    limits: LimitCounts,
) -> Scheduled | Suppressed:
    """Decide whether the notification of `rule`, which matched an event that occurred at
    `occurred_at`, is scheduled or suppressed when evaluated at `now`; count it in `limits`
    when scheduled.

    `email` and `account_traits` say whether the user opted out and where they can be
    reached; `traits` are the event's view of the user, whose timezone places the calendar
    day and the quiet hours.
    """
    if not template.private and account_traits.get("unsubscribed") is True:
        return Suppressed("unsubscribed", "unsubscribed")
    missing = (
        None
        if template.private
        else address_missing(template.channel, email=email, traits=account_traits)
    )
    if missing is not None:
        return Suppressed(missing, missing)
    tz = user_timezone(traits)
    window = limit_window(rule.debounce, at=occurred_at, tz=tz)
    key = (user_id, rule.notification_type)
    if window is not None:
        counted = limits.count(key, window)
        if counted >= window.limit:
            period = "today" if rule.debounce.calendar_day else window.description
            return Suppressed(
                f"already scheduled or sent {counted} of {window.limit} {window.description}",
                f"already scheduled or sent {window.limit} of {window.limit} {period}",
            )
    due = now + timedelta(seconds=rule.delay_seconds)
    notes = []
    if rule.quiet_hours is not None and not template.private:
        deferred = quiet_hours_defer(due, rule.quiet_hours, tz=tz)
        if deferred != due:
            # The decision's reason says when it is due ("due <deferred>; ..."): the note says
            # when it was due before quiet hours moved it.
            notes.append(f"deferred by quiet hours from {due.isoformat()}")
            due = deferred
    too_old = event_too_old(rule.max_event_age_seconds, occurred_at=occurred_at, now=due)
    if too_old is not None:
        age = duration_text(rule.max_event_age_seconds or 0)
        return Suppressed(
            too_old, f"the event is older than the rule's max_event_age_seconds ({age})"
        )
    limits.add(key, occurred_at)
    return Scheduled(due, tuple(notes))
