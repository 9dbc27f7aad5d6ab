"""The dead letters page: outbox messages given up on, and re-queueing them.

Re-queueing goes through the service the admin action and `manage.py outbox retry-dead` share,
and needs the permission the admin asks for it (DEAD_LETTERS_RETRY_PERMISSION).
"""

import re

from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from console.access import console_api_staff_required, console_staff_required
from console.dead_letter_subjects import dead_letters_about
from console.json_answers import json_answer, json_error
from outbox.selectors import DeadLetter, outbox_dead_letters
from outbox.services import DEAD_LETTERS_RETRY_PERMISSION, outbox_dead_letters_retry

PAGE_SIZE = 50
# Re-queued at once: a page's worth, with room to spare.
REQUEUE_MAX = 500
POLL_INTERVAL_MS = 5000
# A message id: a bigint, written in ASCII digits.
_ID = re.compile(r"[0-9]{1,18}")
# What the re-queue reads `ids` from (request.POST): the page sends the first.
FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"]


@require_GET
@console_staff_required
def dead_letters_page(request):
    can_requeue = request.user.has_perm(DEAD_LETTERS_RETRY_PERMISSION)
    context = {
        "can_requeue": can_requeue,
        "permission": DEAD_LETTERS_RETRY_PERMISSION,
        "poll_interval_ms": POLL_INTERVAL_MS,
    }
    return render(request, "console/dead_letters.html", context)


@require_GET
@console_api_staff_required
def dead_letters_json(request):
    """A page of dead letters, newest first: `?before=<id>` for the page after one."""
    before = request.GET.get("before", "")
    if before and not _ID.fullmatch(before):
        return json_error(
            code="invalid_query",
            message="`before` is a message id: digits.",
            status=400,
            details={"before": before},
        )
    page = outbox_dead_letters(before_id=int(before) if before else None, limit=PAGE_SIZE + 1)
    shown = page[:PAGE_SIZE]
    about = dead_letters_about(shown)
    return json_answer(
        {
            "as_of": timezone.now().isoformat(),
            "dead_letters": [_dead_letter(letter, about[letter.id]) for letter in shown],
            "next_before": shown[-1].id if len(page) > PAGE_SIZE else None,
        }
    )


@require_POST
@console_api_staff_required
def dead_letters_requeue(request):
    """Re-queue the dead letters named by `ids` (form fields); answer how many were. Another
    body (JSON) is 415: request.POST would read it as no ids at all."""
    if not request.user.has_perm(DEAD_LETTERS_RETRY_PERMISSION):
        return json_error(
            code="permission_denied",
            message=f"Re-queueing needs the permission {DEAD_LETTERS_RETRY_PERMISSION!r}.",
            status=403,
        )
    if request.content_type not in FORM_TYPES:
        return json_error(
            code="unsupported_media_type",
            message=(
                f"Send the ids as form fields `ids` ({' or '.join(FORM_TYPES)}), "
                f"not {request.content_type or 'a body without a Content-Type'}."
            ),
            status=415,
            details={"content_type": request.content_type, "accepted": FORM_TYPES},
        )
    ids = request.POST.getlist("ids")
    if not ids or len(ids) > REQUEUE_MAX or not all(_ID.fullmatch(id) for id in ids):
        return json_error(
            code="invalid_ids",
            message=(
                f"Send 1 to {REQUEUE_MAX} message ids (digits) as form fields `ids` "
                "(application/x-www-form-urlencoded), with the page's CSRF token."
            ),
            status=400,
            details={"ids": ids[:10]},
        )
    requeued = outbox_dead_letters_retry(ids=[int(id) for id in ids])
    return json_answer({"requeued": requeued})


def _dead_letter(letter: DeadLetter, about: dict | None) -> dict:
    """A letter as listed: `about` says what its subject is (console.dead_letter_subjects)."""
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "topic": letter.topic,
        "subject_id": letter.subject_id,
        "about": about,
        "error": letter.last_error,
        "attempts": letter.attempts,
        "created_at": letter.created_at.isoformat(),
        "dead_lettered_at": letter.dead_lettered_at.isoformat(),
    }
