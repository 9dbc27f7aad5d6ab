#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    """Run administrative tasks; a database that cannot be reached is one line, not a traceback.

    `make run` with a `.env` naming a database not created yet ended its set-up in psycopg's
    thirty-line traceback. A failure of a connection already made stays a traceback.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "midnite_test.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError, connection

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        if connection.connection is not None:
            raise
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        sys.exit(
            f"manage.py: cannot connect to the database DATABASE_URL names: {reason} (create "
            "it, or remove DATABASE_URL from the environment and .env for SQLite under var/)"
        )


if __name__ == "__main__":
    main()
