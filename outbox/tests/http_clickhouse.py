"""A ClickHouse HTTP endpoint on this machine that answers inserts as a test tells it to.

It answers the handshake clickhouse-connect makes on connecting (the server's version and
time zone, its settings: none) and a ping (`SELECT 1`) as a ClickHouse server does; every
other request, the relay's inserts, gets what `answer` says: a proxy's 502, or a success once
`release` is set, so a test can look at the database while an insert is in flight.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# `SELECT name, value, readonly FROM system.settings` with no rows, in the Native format.
_NO_SETTINGS = b"\x03\x00\x04name\x06String\x05value\x06String\x08readonly\x05UInt8"


@dataclass
class FakeClickHouse:
    url: str = ""
    answer: str = "502"  # "502", or "ok": succeed once `release` is set
    release: threading.Event = field(default_factory=threading.Event)
    insert_arrived: threading.Event = field(default_factory=threading.Event)
    inserts: list[dict] = field(default_factory=list)


@contextmanager
def fake_clickhouse(answer: str = "502") -> Iterator[FakeClickHouse]:
    fake = FakeClickHouse(answer=answer)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            params = parse_qs(urlsplit(self.path).query)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query = params.get("query", [""])[0] or body.decode(errors="replace")
            if "version()" in query:
                self._send(200, b"24.8.1.1\tUTC\n")
            elif "system.settings" in query:
                self._send(200, _NO_SETTINGS)
            elif query.strip() == "SELECT 1":
                self._send(200, b"1\n")
            elif "INSERT" not in query.upper():
                self._send(502, b"<html><body>502 Bad Gateway</body></html>")
            else:
                fake.inserts.append({name: values[0] for name, values in params.items()})
                fake.insert_arrived.set()
                if fake.answer == "502":
                    self._send(502, b"<html><body>502 Bad Gateway</body></html>")
                    return
                fake.release.wait(timeout=60)
                self._send(200, b"")

        do_GET = do_POST  # noqa: N815

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
