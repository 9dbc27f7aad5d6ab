"""granian's access line cannot be forged by a request path.

granian writes the decoded path into its access line: `%0A` in a URL ended the line and the
rest read as a line of its own. The service has no access log of its own to replace it with
(the application logs only its own events, and Django's 4xx and 5xx), so the line is kept
with the path escaped. The server runs for real here, with `make run`'s access-log options,
serving a tiny WSGI application.
"""

import importlib.machinery
import importlib.util
import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from midnite_test.tests.ports import free_port
from midnite_test.tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
FORGED = "2026-12-06 00:00:00 +0000] 10.0.0.1 - forged"
APP = """
def application(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no"]
"""


def _run_embedded():
    """bin/run-embedded as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("run_embedded", str(ROOT / "bin/run-embedded"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.fixture
def served(tmp_path):
    """granian with make run's access-log options; yields its port and its output file."""
    (tmp_path / "tiny_app.py").write_text(APP)
    port, output = free_port(), tmp_path / "granian.out"
    command = [
        str(Path(sys.executable).parent / "granian"),
        *("--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", "1", "--blocking-threads", "1"),
        *(
            "--working-dir",
            str(tmp_path),
            *_run_embedded().ACCESS_LOG_OPTIONS,
            "tiny_app:application",
        ),
    ]
    with output.open("wb") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: _answers(f"http://127.0.0.1:{port}/"), seconds=30)
        yield port, output
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.parametrize("separator", ["%0A", "%0D%0A", "%00"])
def test_a_path_cannot_start_a_log_line_of_its_own(served, separator):
    port, output = served
    forged = FORGED.replace(" ", "%20")

    _answers(f"http://127.0.0.1:{port}/audit/x{separator}{forged}")

    def logged() -> list[str]:
        return [line for line in output.read_text(errors="replace").splitlines() if "audit" in line]

    assert wait_until(lambda: logged(), seconds=10), output.read_text()
    lines = output.read_text(errors="replace").splitlines()
    assert not [line for line in lines if line.startswith(FORGED[:10])], lines
    assert "\x00" not in output.read_text(errors="replace")
    assert "forged" in logged()[0]  # the whole path is on the request's own line, escaped


def test_the_image_logs_access_as_make_run_does():
    command = json.loads(
        next(
            line
            for line in (ROOT / "Dockerfile").read_text().splitlines()
            if line.startswith("CMD")
        )[4:]
    )[-1]

    assert _run_embedded().ACCESS_LOG_FORMAT in command


def test_the_ready_line_is_written_in_one_piece(monkeypatch):
    """Written as two pieces, granian's access line of the readiness probe came in between
    (1 start in 5 of a new user's): a script waiting for the whole line missed it."""
    written = []

    class Stdout:
        write = staticmethod(written.append)

        def flush(self) -> None:
            written.append("<flush>")

    monkeypatch.setattr(sys, "stdout", Stdout())

    _run_embedded()._ready_say("http://127.0.0.1:8000")

    assert written == ["Ready: http://127.0.0.1:8000 (console: /console/)\n", "<flush>"]
