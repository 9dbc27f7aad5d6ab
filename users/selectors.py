"""Reads of the users app."""

import re

from django.db.models import Q
from django.db.models.functions import Lower

from users.models import EMAIL_TRAIT_LOWER, User

# A primary key is a PostgreSQL bigint: at most 19 digits.
# The largest primary key a row can have (a bigint); a larger number names nobody.
PK_MAX = 2**63 - 1
_PK_DIGITS = re.compile(r"[0-9]{1,19}")
# The most users a search lists (the people page's list to choose from).
FIND_MAX = 50


def user_exists(*, pk: int) -> bool:
    """Whether a user has primary key `pk`; False, without a query, past PK_MAX (PostgreSQL
    and SQLite refuse such a number rather than find nobody)."""
    return pk <= PK_MAX and User.objects.filter(pk=pk).exists()


def users_find(*, query: str) -> list[User]:
    """Return the users `query` names exactly: by primary key, external id, email or the
    `email` trait (where product events keep a user's address).

    An email matches whatever its letter case, the user's own (the unique index on the
    lowercased address) or the trait (the index on the lowercased trait, `user_email_trait_ci`).
    At most FIND_MAX users, by primary key, in one query through those indexes (sorted here:
    ordered by the primary key and limited, PostgreSQL may walk the whole primary key instead);
    none for an empty query or one holding a NUL. The trait is not unique, so an address
    several users were given lists them all, up to FIND_MAX.
    """
    query = query.strip()
    if not query or "\x00" in query:  # PostgreSQL refuses a NUL; no id can hold one.
        return []
    lowered = query.lower()
    lookup = (
        Q(external_id=query) | Q(email_lower=lowered, email__gt="") | Q(email_trait_lower=lowered)
    )
    if _PK_DIGITS.fullmatch(query) and int(query) <= PK_MAX:
        lookup |= Q(pk=int(query))
    found = (
        User.objects.annotate(email_lower=Lower("email"), email_trait_lower=EMAIL_TRAIT_LOWER)
        .filter(lookup)
        .order_by()[:FIND_MAX]
    )
    return sorted(found, key=lambda user: user.pk)
