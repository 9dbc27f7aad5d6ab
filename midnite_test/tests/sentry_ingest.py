"""Sentry's ingest on 127.0.0.1: a real HTTP server that keeps every envelope posted to it.

The tests point `sentry_configure` at it, so what they read is exactly what would leave the
process for sentry.io.
"""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sentry_sdk

from midnite_test.observability import sentry_configure


class SentryIngest(ThreadingHTTPServer):
    """Keeps every envelope posted to it, decompressed."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EnvelopeHandler)
        self.envelopes: list[bytes] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_address[1]}/1"

    def events(self, item_type: str) -> list[dict]:
        """The payloads of every item of `item_type` ("event", "transaction") received."""
        return [
            json.loads(payload)
            for envelope in list(self.envelopes)
            for header, payload in envelope_items(envelope)
            if header.get("type") == item_type
        ]


class _EnvelopeHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "identity")
        assert encoding in ("gzip", "identity"), encoding
        self.server.envelopes.append(gzip.decompress(body) if encoding == "gzip" else body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args) -> None:
        pass


def envelope_items(envelope: bytes) -> list[tuple[dict, bytes]]:
    """Split a Sentry envelope into its items' headers and payloads."""
    _, _, rest = envelope.partition(b"\n")
    items = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest.removeprefix(b"\n")
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((header, payload))
    return items


def sentry_ingest_running():
    """Yield Sentry started as settings start it, sending to a loopback ingest; off afterwards."""
    server = SentryIngest()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sentry_configure(dsn=server.dsn, environment="test", traces_sample_rate=1.0)
    try:
        yield server
    finally:
        sentry_sdk.flush(timeout=10)
        sentry_sdk.get_client().close()
        sentry_sdk.get_global_scope().set_client(None)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
