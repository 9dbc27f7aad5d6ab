"""`make run` on a port already in use stops at once with one line, before any set-up.

It used to migrate first (most of a minute) and then end in granian's long traceback.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port():
    """A port a server listens on, as another program's would be."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _run(command: list[str], port: int, var_dir: Path) -> subprocess.CompletedProcess:
    """Run `command` in the checkout with PORT and VAR_DIR set; return how it ended."""
    env = {**os.environ, "PORT": str(port), "VAR_DIR": str(var_dir)}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_run_embedded_refuses_a_port_in_use_in_one_line(taken_port, tmp_path):
    done = _run([sys.executable, "bin/run-embedded"], taken_port, tmp_path)

    assert done.returncode != 0
    assert done.stderr.splitlines() == [
        f"run-embedded: port {taken_port} is in use; run `make run PORT=<free port>`"
    ]
    assert not (tmp_path / "prometheus").exists()  # it stopped before anything else


def test_make_run_refuses_a_port_in_use_before_setting_up(taken_port, tmp_path):
    done = _run(["make", "--no-print-directory", "run", f"PORT={taken_port}"], taken_port, tmp_path)

    assert done.returncode != 0
    assert f"port {taken_port} is in use; run `make run PORT=<free port>`" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "migrate" not in done.stdout  # no set-up ran: neither pip nor the migrations
    assert list(tmp_path.iterdir()) == []
