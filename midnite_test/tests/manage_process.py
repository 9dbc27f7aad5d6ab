"""Run `manage.py` in a process of its own, as an operator would, with chosen variables."""

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage_run(
    *args: str, unset: Iterable[str] = (), **variables: str
) -> subprocess.CompletedProcess:
    """Run `manage.py *args` with this environment less `unset`, plus `variables`.

    Settings read at start-up: the variables under test are unset first, so what the test
    process was started with does not choose for them.
    """
    dropped = set(unset)
    env = {k: v for k, v in os.environ.items() if k not in dropped} | variables
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
