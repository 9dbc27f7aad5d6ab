"""What the benchmarks share: a PostgreSQL database of their own, a server to measure, wrk.

Imported by the scripts in bench/, which run with bench/ first on sys.path.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

import psycopg

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "transactions.lua"
# BENCH_POSTGRES_URL points a benchmark at another server, e.g. a private one, so no other
# client's work shares its CPU (docs/BENCHMARKS.md).
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def database_recreate(name: str) -> None:
    """Drop the benchmark database `name` if it exists and create it empty."""
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    with psycopg.connect(f"{POSTGRES_URL}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def gunicorn_start(
    env: dict,
    *,
    port: int,
    workers: int,
    app: str = "midnite_test.wsgi",
    cwd: Path = ROOT,
    options: tuple[str, ...] = (),
) -> subprocess.Popen:
    """Start gunicorn serving `app` and return it once /healthz/live answers (30 s at most)."""
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        app,
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--log-level=warning",
        *options,
    ]
    return _ready(subprocess.Popen(command, cwd=cwd, env=env), port=port)


# granian's worker processes in production (the Dockerfile): one more than the cores, so a core
# is not left idle while a worker waits on PostgreSQL (docs/BENCHMARKS.md, "Worker processes").
PRODUCTION_WORKERS = (os.cpu_count() or 1) + 1


def wsgi_server_start(
    env: dict,
    *,
    server: str,
    app: str,
    port: int,
    workers: int,
    cwd: Path = ROOT,
    output: IO | None = None,
) -> subprocess.Popen:
    """Start `server` (gunicorn or granian) serving the WSGI module `app`, as production would.

    gunicorn: sync workers with gunicorn.conf.py (its access log included); granian: one
    blocking thread per worker process, with its plain access log (as `bin/run-embedded`), to
    `output` if given, else this process's standard output.
    """
    if server == "gunicorn":
        return gunicorn_start(env, app=app, port=port, workers=workers, cwd=cwd)
    command = [
        str(Path(sys.executable).parent / "granian"),
        "--interface=wsgi",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={workers}",
        "--blocking-threads=1",
        "--access-log",
        "--log-level=warning",
        f"{app}:application",
    ]
    return _ready(subprocess.Popen(command, cwd=cwd, env=env, stdout=output), port=port)


def _ready(server: subprocess.Popen, *, port: int) -> subprocess.Popen:
    """Return `server` once /healthz/live answers on `port` (30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz/live", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server on port {port} did not become ready within 30 s")


def wrk_run(*, url: str, connections: int, duration: int, env: dict) -> dict:
    """Load `url` with transactions.lua (one connection a user) and return its RESULT line.

    `env` carries the script's BENCH_PATH, BENCH_FIRST_USER and BENCH_FIRST_T.
    """
    command = [
        "wrk",
        f"--threads={connections}",
        f"--connections={connections}",
        f"--duration={duration}s",
        f"--script={LUA}",
        url,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\{.*\})$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result
