"""The WSGI entry point a server imports."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_REPORT = (
    "import gc, midnite_test.wsgi\n"
    "gc.collect()\n"
    "print(gc.get_freeze_count(), len(gc.get_objects()))\n"
)


def test_the_objects_of_start_up_are_frozen_out_of_full_collections():
    """Django's start-up objects stay out of every later full collection's walk."""
    result = subprocess.run(
        [sys.executable, "-c", _REPORT], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    frozen, tracked = map(int, result.stdout.split())
    assert frozen > 50_000
    assert tracked < frozen / 2
