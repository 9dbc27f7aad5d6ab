"""`make run` on a port already in use, or beside another `make run` of the same var/, stops at
once with one line, before any set-up.

It used to migrate first (most of a minute) and then end in granian's long traceback, or, on
another port, in clickhouse_migrate's advice to stop `make run`.
"""

import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from midnite_test.tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port():
    """A port a server listens on, as another program's would be."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _run(command: list[str], port: int, var_dir: Path, **settings) -> subprocess.CompletedProcess:
    """Run `command` in the checkout with PORT, VAR_DIR and `settings` set; return how it ended."""
    env = {**os.environ, "PORT": str(port), "VAR_DIR": str(var_dir), **settings}
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


@pytest.fixture
def var_in_use(tmp_path):
    """A var/ whose run lock is held, as another `make run`'s keeper holds it."""
    with open(tmp_path / "run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield tmp_path


@pytest.fixture(name="free_port")
def free_port_fixture():
    return free_port()


def test_make_run_refuses_a_var_directory_another_make_run_uses_before_setting_up(
    var_in_use, free_port
):
    before = sorted(var_in_use.iterdir())

    done = _run(["make", "--no-print-directory", "run", f"PORT={free_port}"], free_port, var_in_use)

    assert done.returncode != 0
    assert (
        f"run-embedded: another `make run` uses {var_in_use} (it holds "
        f"{var_in_use / 'run.lock'}); stop it, or set VAR_DIR to another directory"
    ) in done.stderr.splitlines()
    assert "migrate" not in done.stdout
    assert sorted(var_in_use.iterdir()) == before


def test_a_run_lock_left_by_a_killed_make_run_is_no_refusal(tmp_path, free_port):
    (tmp_path / "run.lock").touch()  # its keeper died: the kernel let go of the lock

    done = _run([sys.executable, "bin/run-embedded", "--check"], free_port, tmp_path)

    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize(
    "setting, value, refusal",
    [
        ("PORT", "0", "PORT must be 1-65535, not 0"),
        ("PORT", "65536", "PORT must be 1-65535, not 65536"),
        (
            "WEB_CONCURRENCY",
            "abc",
            "WEB_CONCURRENCY must be a number of processes, 1 or more, not 'abc'",
        ),
        (
            "WEB_CONCURRENCY",
            "0",
            "WEB_CONCURRENCY must be a number of processes, 1 or more, not '0'",
        ),
    ],
)
def test_a_port_or_a_worker_count_granian_cannot_take_is_refused_in_one_line(
    tmp_path, free_port, setting, value, refusal
):
    """Before: PORT=0 passed (granian listened on a port of the system's choosing and the run
    never said Ready), and WEB_CONCURRENCY=abc ended the run after its set-up."""
    done = _run(
        [sys.executable, "bin/run-embedded", "--check"], free_port, tmp_path, **{setting: value}
    )

    assert (done.returncode, done.stderr.splitlines()) == (1, [f"run-embedded: {refusal}"])


def test_run_embedded_takes_the_port_from_a_dotenv_as_every_other_setting(taken_port, tmp_path):
    """Before: a `.env`'s PORT was ignored (make passed its own 8000), so `make run` served
    another port than the one the `.env` named."""
    (tmp_path / ".env").write_text(f"# the deployment's\nPORT=1\nPORT = '{taken_port}'\n")
    env = {name: value for name, value in os.environ.items() if name != "PORT"}
    command = [sys.executable, str(ROOT / "bin" / "run-embedded"), "--check"]

    done = subprocess.run(
        command, cwd=tmp_path, env={**env, "VAR_DIR": str(tmp_path / "var")}, capture_output=True
    )

    assert done.stderr.decode().splitlines() == [
        f"run-embedded: port {taken_port} is in use; run `make run PORT=<free port>`"
    ]
