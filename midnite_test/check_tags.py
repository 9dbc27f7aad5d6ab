"""Tags of the system checks that a process runs by name."""

# Checks of the rules in force (the active versions) against the files they need. They read
# the database, so a plain `manage.py check` skips them; `migrate`, `check --database default`
# and the Celery worker's start-up (midnite_test.celery) run them.
ACTIVE_RULES = "active_rules"
