"""The people page: find a user, and their alerts and notification decisions on one timeline.

The timeline merges two keyset-paged reads (the alerts by their event's time, the decisions
by theirs), each through its own index; the page's cursor holds where each left off, so
a page is the same handful of queries however long the user's history.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from alerts.selectors import UserAlert, UserAlertPosition, user_alerts
from console.access import console_api_staff_required, console_staff_required
from console.json_answers import json_answer, json_error
from notifications.permissions import AUDIT_EVERY_TENANT_PERMISSION
from notifications.selectors import UserDecision, UserDecisionPosition, user_decisions
from users.models import User
from users.selectors import user_exists, users_find

PAGE_SIZE = 25
POLL_INTERVAL_MS = 5000


@dataclass(frozen=True, kw_only=True)
class TimelineCursor:
    """Where the previous page left each source: None for a source it took nothing from yet."""

    alerts: UserAlertPosition | None = None
    decisions: UserDecisionPosition | None = None


class InvalidCursor(ValueError):
    """The `before` parameter is not a cursor this page wrote."""


def _permission_refused(request):
    """Answer staff who may not read every tenant's audit trail, which this page shows."""
    context = {"permission": AUDIT_EVERY_TENANT_PERMISSION}
    return render(request, "console/people_refused.html", context, status=403)


@require_GET
@console_staff_required
def people_page(request):
    """Search by `q`; one match (or `user=<pk>` among several) shows its timeline."""
    if not request.user.has_perm(AUDIT_EVERY_TENANT_PERMISSION):
        return _permission_refused(request)
    query = request.GET.get("q", "")[:256]
    matches = users_find(query=query) if query else []
    chosen = request.GET.get("user", "")
    shown = next((user for user in matches if str(user.pk) == chosen), None)
    if shown is None and len(matches) == 1:
        shown = matches[0]
    context = {
        "query": query,
        "matches": matches,
        "shown": shown,
        "audit_url": _audit_url(shown) if shown else "",
        "poll_interval_ms": POLL_INTERVAL_MS,
    }
    return render(request, "console/people.html", context)


@require_GET
@console_api_staff_required
def person_timeline_json(request, user_pk: int):
    """A page of the user's timeline, newest first: `?before=<cursor>` for the next one; 404
    `user_not_found` for a user who does not exist."""
    if not request.user.has_perm(AUDIT_EVERY_TENANT_PERMISSION):
        return json_error(
            code="permission_denied",
            message=f"The people page needs the permission {AUDIT_EVERY_TENANT_PERMISSION!r}.",
            status=403,
        )
    try:
        cursor = _cursor_read(request.GET.get("before", ""))
    except InvalidCursor:
        return json_error(
            code="invalid_query",
            message="`before` is not a cursor of this timeline.",
            status=400,
            details={"before": request.GET.get("before", "")[:100]},
        )
    if not user_exists(pk=user_pk):  # as the audit page answers: not an empty history
        return json_error(
            code="user_not_found",
            message=f"No user {user_pk}.",
            status=404,
            details={"user_id": user_pk},
        )
    alerts = user_alerts(user_pk=user_pk, after=cursor.alerts, limit=PAGE_SIZE + 1)
    decisions = user_decisions(user_pk=user_pk, after=cursor.decisions, limit=PAGE_SIZE + 1)
    entries = sorted(
        [_alert_entry(alert) for alert in alerts] + [_decision_entry(d) for d in decisions],
        key=lambda entry: (entry["at"], entry["kind"], entry["position"]),
        reverse=True,
    )
    page = entries[:PAGE_SIZE]
    more = len(entries) > PAGE_SIZE
    return json_answer(
        {
            "as_of": timezone.now().isoformat(),
            "entries": [_shown(entry) for entry in page],
            "next_before": _cursor_write(cursor, page) if more else None,
        }
    )


def _audit_url(user: User) -> str:
    """The live audit page: it names a user by external id, else by primary key."""
    return reverse("user-audit", args=[user.external_id or str(user.pk)])


def _alert_entry(alert: UserAlert) -> dict:
    return {
        "kind": "alert",
        "at": alert.occurred_at,
        "position": [alert.occurred_at.isoformat(), alert.event_pk, alert.code],
        "code": alert.code,
        "rules_version": alert.rules_version,
        "event_id": alert.event_id,
        "event_type": alert.event_type,
        "tenant_id": alert.tenant_id,
    }


def _decision_entry(entry: UserDecision) -> dict:
    decision = entry.decision
    return {
        "kind": "notification",
        "at": decision.created_at,
        "position": [decision.created_at.isoformat(), entry.id],
        "rule": decision.rule,
        "notification_type": decision.notification_type,
        "status": decision.status,
        "reason": decision.reason,
        "rules_version": decision.rules_version,
        "event_id": decision.trigger_event,
    }


def _shown(entry: dict) -> dict:
    shown = {key: value for key, value in entry.items() if key != "position"}
    shown["at"] = entry["at"].isoformat()
    return shown


def _cursor_write(previous: TimelineCursor, page: list[dict]) -> str:
    """Return the cursor after `page`: each source's last entry on it, else where it was."""
    positions = {
        "a": _position_of(previous.alerts, "occurred_at", "event_pk", "code"),
        "d": _position_of(previous.decisions, "created_at", "id"),
    }
    for entry in page:
        positions["a" if entry["kind"] == "alert" else "d"] = entry["position"]
    text = json.dumps(positions, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _position_of(position, *names: str) -> list | None:
    if position is None:
        return None
    values = [getattr(position, name) for name in names]
    return [values[0].isoformat(), *values[1:]]


def _cursor_read(text: str) -> TimelineCursor:
    """Return the cursor `text` holds (the first page for ""); raise InvalidCursor."""
    if not text:
        return TimelineCursor()
    try:
        positions = json.loads(base64.urlsafe_b64decode(text.encode()))
        alerts, decisions = positions["a"], positions["d"]
        return TimelineCursor(
            alerts=(
                None
                if alerts is None
                else UserAlertPosition(
                    occurred_at=_aware(alerts[0]),
                    event_pk=_bigint(alerts[1]),
                    code=_bigint(alerts[2]),
                )
            ),
            decisions=(
                None
                if decisions is None
                else UserDecisionPosition(created_at=_aware(decisions[0]), id=_bigint(decisions[1]))
            ),
        )
    except (binascii.Error, UnicodeError, ValueError, TypeError, KeyError, IndexError) as error:
        raise InvalidCursor(text) from error


def _aware(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError("a cursor's time carries its offset")
    return at


def _bigint(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ValueError("a cursor's ids are bigints")
    return value
