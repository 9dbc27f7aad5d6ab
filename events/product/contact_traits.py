"""The traits notifications act on, `email`, `phone` and `unsubscribed`, checked before they
are stored.

Every other trait is the client's own data and stored as sent; `email` and `phone` become the
recipient of a customer email (when the user has no email of their own) and of an SMS
(notifications.channels), so a value that is not an address would be sent to as one; and
`unsubscribed` is honoured when it is true, so an opt-out written otherwise ("true", 1) would
be stored and ignored.
"""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from events.validation import InvalidEvent

# E.164: "+", a country code (never 0), at most 15 digits in all.
_PHONE = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL_PROBLEM = (
    "The `email` trait must be an email address (a string), such as ada@example.com, or null."
)
PHONE_PROBLEM = (
    "The `phone` trait must be a phone number in E.164 (a string), such as +447700900123, or null."
)
UNSUBSCRIBED_PROBLEM = "The `unsubscribed` trait must be true, false or null."


def contact_traits_check(user_traits: dict[str, Any]) -> None:
    """Raise InvalidEvent naming `user_traits` when its `email` or `phone` is not one, or its
    `unsubscribed` not a boolean.

    null is accepted: a shallow merge of it clears the trait, and the user then has no
    address there (the notification is suppressed, as for a user who never had one).
    """
    problems = []
    if not _null_or(user_traits.get("email"), _is_email):
        problems.append(EMAIL_PROBLEM)
    if not _null_or(user_traits.get("phone"), _PHONE.fullmatch):
        problems.append(PHONE_PROBLEM)
    if not isinstance(user_traits.get("unsubscribed"), bool | None):
        problems.append(UNSUBSCRIBED_PROBLEM)
    if problems:
        raise InvalidEvent({"user_traits": problems})


def _null_or(value: Any, is_valid) -> bool:
    return value is None or (isinstance(value, str) and bool(is_valid(value)))


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True
