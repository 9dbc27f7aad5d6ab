"""What the dead letters are about: the rows of this service's tables their messages name.

A dead letter names a row by `subject_id` when its topic says which table: a stored event
(`event_stored`, of the event logs' streams and of the messages written before the event
table was the log). Each page reads each kind of subject once, all of its rows in one query.
A payload message (`user_created`) names no row, and a subject whose topic names no table
here is unknown: both are about nothing (None).
"""

from collections.abc import Callable, Collection, Iterable

from django.urls import reverse
from django.utils.http import urlencode

from events.analytics import TOPIC_EVENT_STORED
from events.models import Event
from events.selectors import events_with_users
from outbox.selectors import DeadLetter
from users.models import User


def _person(user: User | None) -> dict | None:
    """The user and their People page (`?q=<pk>&user=<pk>` shows them, whoever else matches)."""
    if user is None:
        return None
    return {
        "id": user.pk,
        "external_id": user.external_id,
        "email": user.email,
        "url": f"{reverse('console:people')}?{urlencode({'q': user.pk, 'user': user.pk})}",
    }


def _event(event: Event) -> dict:
    return {
        "kind": "event",
        "stored": True,
        "tenant_id": event.tenant_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "user": _person(event.user),
    }


def _events_about(pks: Collection[int]) -> dict[int, dict]:
    return {pk: _event(event) for pk, event in events_with_users(pks=pks).items()}


# topic -> (the kind of its subjects, a read of those of some primary keys that are stored).
_SUBJECTS: dict[str, tuple[str, Callable[[Collection[int]], dict[int, dict]]]] = {
    TOPIC_EVENT_STORED: ("event", _events_about),
}


def dead_letters_about(letters: Iterable[DeadLetter]) -> dict[int, dict | None]:
    """Each letter's subject by the letter's id: a dict with its `kind`, `stored` False for
    a row that is gone; None for a payload or a subject of an unknown kind."""
    letters = list(letters)
    wanted: dict[str, set[int]] = {}
    for letter in letters:
        if letter.subject_id is not None and letter.topic in _SUBJECTS:
            wanted.setdefault(letter.topic, set()).add(letter.subject_id)
    found = {topic: _SUBJECTS[topic][1](pks) for topic, pks in wanted.items()}
    about: dict[int, dict | None] = {}
    for letter in letters:
        if letter.topic not in found or letter.subject_id is None:
            about[letter.id] = None
            continue
        gone = {"kind": _SUBJECTS[letter.topic][0], "stored": False}
        about[letter.id] = found[letter.topic].get(letter.subject_id, gone)
    return about
