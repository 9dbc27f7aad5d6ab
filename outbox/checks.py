"""System check: can the database role see the sessions that hold the commit horizon back?

Run with the database checks (`manage.py migrate`, which every start runs first, and
`manage.py check --database default`): one query, never on a request or a claim.
"""

from django.core import checks
from django.db import connections


def horizon_visibility_check(app_configs, databases=None, **kwargs) -> list[checks.Warning]:
    """Warn when the role may not see the state and transaction start of other roles' sessions.

    The commit horizon itself needs no privilege: PostgreSQL shows every role each session's
    database and transaction id, so transactions of other databases never hold claims back.
    Naming the session of this database that does hold them (its age and state, on
    /healthz/status and in `outbox.claim_held_back`) needs pg_read_all_stats for a session of
    another role.
    """
    warnings = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as db:
            db.execute("SELECT current_user, pg_has_role('pg_read_all_stats', 'USAGE')")
            role, sees_all = db.fetchone()
        if not sees_all:
            warnings.append(
                checks.Warning(
                    f"The database role {role!r} of {alias!r} is neither a superuser nor a "
                    "member of pg_read_all_stats (or pg_monitor): a session of another role "
                    "that holds the outbox back (a migration, a psql session left idle in a "
                    "transaction) is named by its pid only, without its age or state, on "
                    "/healthz/status, and the worker never logs outbox.claim_held_back for it. "
                    "Claims are not affected: nothing is lost, and transactions of other "
                    "databases still hold nothing back.",
                    hint=f'GRANT pg_read_all_stats TO "{role}";',
                    id="outbox.W001",
                )
            )
    return warnings
