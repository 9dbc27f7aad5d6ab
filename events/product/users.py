"""The users product events name by external id: created on first sight, locked, traits saved.

Set-based, whatever the number of users in a batch: on PostgreSQL each step is one statement
over arrays (sent in binary), elsewhere (SQLite) multi-row VALUES.
"""

from collections.abc import Collection

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from events.validation import payload_serialize
from outbox.contracts import CONSUMER_ANALYTICS
from outbox.services import outbox_publish
from users.analytics import TOPIC_USER_CREATED, user_record
from users.models import User

# Users per INSERT on SQLite: 3 parameters a row stays under its parameter limit.
INSERT_CHUNK = 1_000


def users_create_and_lock(*, external_ids: Collection[str]) -> dict[str, tuple[int, dict]]:
    """Create the users not seen before, lock every one, and return their (pk, traits).

    Side effects, in the caller's transaction: a user row and a `user_created` outbox message
    for each new external id. The rows are locked (`SELECT ... FOR NO KEY UPDATE`, which lets
    the check of a foreign key to them through: notification evaluation committing) in id
    order, so concurrent batches naming the same users queue instead of deadlocking.
    """
    _users_insert_missing(sorted(external_ids))
    users = User.objects.select_for_update(no_key=True).order_by("id")
    if connection.vendor == "postgresql":
        # One array parameter rather than an IN list of up to 5,000 placeholders.
        users = users.filter(
            external_id__in=RawSQL("SELECT unnest(%s::text[])", [list(external_ids)])
        )
    else:
        users = users.filter(external_id__in=external_ids)
    rows = users.values_list("external_id", "id", "traits")
    return {external_id: (pk, traits) for external_id, pk, traits in rows}


def _users_insert_missing(external_ids: list[str]) -> None:
    """Insert a user for each external id not taken and publish `user_created` for each.

    In the order given (sorted), so two batches inserting the same new users wait for each
    other instead of deadlocking; a user another transaction inserted first is left out.
    """
    now = timezone.now()
    created_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_INSERT_UNNEST, [created_at, created_at, external_ids])
            created = cursor.fetchall()
        else:
            created = []
            for start in range(0, len(external_ids), INSERT_CHUNK):
                chunk = external_ids[start : start + INSERT_CHUNK]
                rows = ", ".join(["(%s, '', '', '', '{}', %s, %s)"] * len(chunk))
                cursor.execute(
                    f"{_INSERT} VALUES {rows} {_ON_CONFLICT}",
                    [
                        value
                        for external_id in chunk
                        for value in (external_id, created_at, created_at)
                    ],
                )
                created += cursor.fetchall()
    outbox_publish(
        messages=[
            user_record(User(pk=pk, external_id=external_id, created_at=now)).as_message(
                topic=TOPIC_USER_CREATED
            )
            for pk, external_id in created
        ],
        consumers=[CONSUMER_ANALYTICS],
    )


_INSERT = (
    "INSERT INTO events_user "
    "(external_id, first_name, last_name, email, traits, created_at, updated_at)"
)
_ON_CONFLICT = "ON CONFLICT (external_id) DO NOTHING RETURNING id, external_id"
_INSERT_UNNEST = f"""
    {_INSERT}
    SELECT external_id, '', '', '', '{{}}', %s, %s FROM unnest(%b::text[]) AS new (external_id)
    {_ON_CONFLICT}
"""


def users_traits_update(*, traits: dict[int, dict]) -> None:
    """Set the traits of the users with these pks: one UPDATE, whatever their number.

    (The ORM's bulk_update would build a CASE expression of one branch per user.)
    """
    if not traits:
        return
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    ids, values = list(traits), [payload_serialize(merged) for merged in traits.values()]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_TRAITS_UPDATE_UNNEST, [now, ids, values])
            return
        rows = ", ".join(["(%s, %s)"] * len(ids))
        cursor.execute(
            f"UPDATE events_user SET traits = new.column2, updated_at = %s "
            f"FROM (VALUES {rows}) AS new WHERE events_user.id = new.column1",
            [now, *(value for row in zip(ids, values) for value in row)],
        )


_TRAITS_UPDATE_UNNEST = """
    UPDATE events_user SET traits = new.traits::jsonb, updated_at = %s
    FROM unnest(%b::bigint[], %b::text[]) AS new (id, traits)
    WHERE events_user.id = new.id
"""
