"""Where the notification files in the existing format are kept: a verbatim copy in the repository.

See `fixtures/notification-seed/SOURCE.md`: users' files of the system we replace, never edited.
"""

from pathlib import Path

SEED_DIR = Path(__file__).resolve().parent / "fixtures" / "notification-seed"


def seed_dir() -> Path:
    """Return the folder of the seed files, `notifications/tests/fixtures/notification-seed`."""
    return SEED_DIR
