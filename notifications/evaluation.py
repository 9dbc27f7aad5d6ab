"""Decide, once per (rule, event), whether a notification is scheduled, suppressed or not matched.

Runs as the handler of the outbox's `notifications` consumer, inside the transaction that marks
the messages done: a crash rolls the decisions back with the claim, and the events are handed
out again. The users are locked in id order, so one user's events are evaluated one worker at a
time and a limit is checked against everything already decided for that user; on PostgreSQL
with an advisory lock of the evaluation's own, not the users' rows: `POST /event` locks the
user's row for its transaction, and the two must never wait on each other. (The notifications
inserted here have the foreign key's check take the weak FOR KEY SHARE lock on the user's row
at commit, Django's foreign keys being deferred; the row lock `POST /event` takes, FOR NO KEY
UPDATE, does not conflict with it.)
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from events.analytics import TOPIC_EVENT_STORED
from midnite_test.prometheus import notification_decisions_count
from notifications.admission import LimitCounts, Suppressed, notification_admit
from notifications.counted import limit_counts_load
from notifications.decisions_write import DecidedRow, decisions_write
from notifications.in_array import InArray
from notifications.history import (
    BatchEvent,
    BatchHistories,
    Lookback,
    batch_events,
    condition_lookback,
    lookback_union,
)
from notifications.models import Notification
from notifications.templates import NotificationTemplate, template_render, template_variables
from rule_sets.active import rule_set_active
from rule_sets.models import KIND_NOTIFICATIONS
from rules.explain import condition_failure
from rules.schema import NotificationRule
from users.models import User

# The first key of the evaluation's advisory locks (the second is the user's id): "ntfy".
_LOCK_NAMESPACE = 0x6E746679
_USERS_LOCK = f"""
    SELECT pg_advisory_xact_lock({_LOCK_NAMESPACE}, (user_id %% 2147483648)::int)
    FROM unnest(%s::bigint[]) AS user_id ORDER BY user_id
"""


def notification_messages_handle(messages: Sequence[tuple]) -> None:
    """The outbox handler of the `notifications` consumer: evaluate the stored events once."""
    event_ids = [subject_id for _, topic, subject_id, _ in messages if topic == TOPIC_EVENT_STORED]
    notification_events_evaluate(event_ids=event_ids)


def notification_events_evaluate(*, event_ids: Sequence[int]) -> int:
    """Record a decision for every rule triggered by the events; return how many were recorded.

    Must run in a transaction. Decisions already recorded (a message delivered twice) are kept.
    The batch is evaluated under the version of the notification rules active when it starts,
    which each notification and decision records (`rules_version`).
    """
    active = rule_set_active(KIND_NOTIFICATIONS)
    config = active.rules
    events = batch_events(event_ids, config.event_types)
    if not events:
        return 0
    user_ids = sorted({event.user_id for event in events})
    _users_lock(user_ids)
    users = {user.pk: user for user in User.objects.filter(InArray("id", user_ids))}
    decided = set(
        Notification.objects.filter(
            InArray("trigger_event_id", [event.pk for event in events])
        ).values_list("rule", "trigger_event")
    )
    rules = {event_type: config.rules_for(event_type) for event_type in config.event_types}
    lookbacks = {rule.name: condition_lookback(rule.condition) for rule in config.rules}
    batch = _Batch(
        now=timezone.now(),
        rules_version=active.version,
        lookbacks=lookbacks,
        histories=BatchHistories(
            events,
            lookback_union(lookback for lookback in lookbacks.values() if lookback),
            traits={pk: user.traits for pk, user in users.items()},
        ),
        limits=limit_counts_load(events, rules),
    )
    for event in events:
        for rule in rules[event.event_type]:
            if (rule.name, event.pk) not in decided:
                batch.add(
                    rule=rule,
                    template=config.templates[rule.notification_type],
                    event=event,
                    user=users[event.user_id],
                )
    batch.save()
    if batch.due_now:
        from notifications.tasks import notifications_send_wake

        transaction.on_commit(notifications_send_wake)
    return len(batch.rows)


def _users_lock(user_ids: list[int]) -> None:
    """Take the evaluation's lock on each user, in id order, until the transaction ends.

    On SQLite a writing transaction has the whole database to itself already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_USERS_LOCK, [user_ids])


@dataclass
class _Batch:
    """The decisions of one batch of events, written with two inserts at the end."""

    now: datetime
    rules_version: int
    # What each rule looks back at, by rule name; None: its questions go to the store.
    lookbacks: Mapping[str, Lookback | None]
    histories: BatchHistories
    limits: LimitCounts
    rows: list[DecidedRow] = field(default_factory=list)
    due_now: bool = False

    def add(
        self,
        *,
        rule: NotificationRule,
        template: NotificationTemplate,
        event: BatchEvent,
        user: User,
    ) -> None:
        decided_at = datetime.now(UTC)
        status, reason, due_at, subject, body = self._decide(rule, template, event, user)
        self.rows.append(
            DecidedRow(
                user_id=user.pk,
                rule=rule.name,
                notification_type=rule.notification_type,
                channel=template.channel,
                private=template.private,
                trigger_event_id=event.pk,
                trigger_occurred_at=event.occurred_at,
                status=status,
                reason=reason,
                due_at=due_at,
                subject=subject,
                body=body,
                created_at=decided_at,
            )
        )

    def _decide(
        self, rule: NotificationRule, template: NotificationTemplate, event: BatchEvent, user: User
    ) -> tuple[str, str, datetime | None, str, str]:
        """Return the decision's status and reason, and when scheduled its due time, subject
        and body ("" and None otherwise)."""
        traits = event.user_traits or user.traits
        if self.lookbacks[rule.name] is None:
            history = self.histories.store(event, user_traits=traits)
        else:
            history = self.histories.preloaded(event)
        failure = condition_failure(
            rule.condition, event=self.histories.record(event), history=history
        )
        if failure is not None:
            return Notification.Status.NOT_MATCHED, failure, None, "", ""
        admitted = notification_admit(
            rule=rule,
            template=template,
            user_id=user.pk,
            email=user.email,
            account_traits=user.traits,
            traits=traits,
            occurred_at=event.occurred_at,
            now=self.now,
            limits=self.limits,
        )
        if isinstance(admitted, Suppressed):
            reason = f"skipped {rule.notification_type}: {admitted.reason}"
            return Notification.Status.SUPPRESSED, reason, None, "", ""
        due = admitted.due
        reasons = list(admitted.notes)
        variables = _variables(event, user, traits)
        subject, missing_subject = template_render(template.subject, variables)
        body, missing_body = template_render(template.text, variables)
        missing = sorted(set(missing_subject) | set(missing_body))
        if missing:
            reasons.append(f"missing variables: {', '.join(missing)}")
        self.due_now = self.due_now or due <= self.now
        when = "due now" if due <= self.now else f"due {due.isoformat()}"
        return Notification.Status.SCHEDULED, "; ".join([when, *reasons]), due, subject, body

    def save(self) -> None:
        decisions_write(self.rows, rules_version=self.rules_version, now=self.now)
        notification_decisions_count((row.rule, row.status) for row in self.rows)


def _variables(event: BatchEvent, user: User, traits: dict) -> dict:
    return template_variables(
        user_id=user.external_id or str(user.pk),
        event_type=event.event_type,
        event_timestamp=event.occurred_at.isoformat().replace("+00:00", "Z"),
        properties=event.properties,
        user_traits=traits,
    )
