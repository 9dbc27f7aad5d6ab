"""Reads of the events app."""

from django.db import DatabaseError, connection


def database_is_ready() -> bool:
    """Return whether the database answers a trivial query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        return False
