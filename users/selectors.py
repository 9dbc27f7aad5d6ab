"""Reads of the users app."""

import re

from django.db.models import Q
from django.db.models.functions import Lower

from users.models import User

# A primary key is a PostgreSQL bigint: at most 19 digits.
_PK_MAX = 2**63 - 1
_PK_DIGITS = re.compile(r"[0-9]{1,19}")


def users_find(*, query: str) -> list[User]:
    """Return the users `query` names exactly: by primary key, external id or email.

    An email matches whatever its letter case (the unique index on the lowercased address).
    At most three users (one per way of naming them: each is unique), by primary key, in one
    query through those unique indexes (sorted here: ordered by the primary key and limited,
    PostgreSQL may walk the whole primary key instead); none for an empty query or one
    holding a NUL.
    """
    query = query.strip()
    if not query or "\x00" in query:  # PostgreSQL refuses a NUL; no id can hold one.
        return []
    lookup = Q(external_id=query) | Q(email_lower=query.lower(), email__gt="")
    if _PK_DIGITS.fullmatch(query) and int(query) <= _PK_MAX:
        lookup |= Q(pk=int(query))
    found = User.objects.annotate(email_lower=Lower("email")).filter(lookup).order_by()
    return sorted(found, key=lambda user: user.pk)
