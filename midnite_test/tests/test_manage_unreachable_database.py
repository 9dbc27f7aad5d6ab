"""A manage.py command whose database cannot be reached says so in one line.

Before: `make run` with a `.env` naming a database not created yet ended its set-up in
psycopg's thirty-line traceback from `migrate`.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_database_that_does_not_exist_is_one_line_naming_it():
    missing = "midnite_never_created"
    env = {**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{missing}"}

    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("manage.py: cannot connect to the database DATABASE_URL names: ")
    assert f'database "{missing}" does not exist' in line
