"""The ClickHouse connection: embedded chDB (`chdb:///path`) or a server (`http(s)://...`).

One client per process and URL. With chDB only one process may open a path, so in embedded
mode the worker is the only process that calls this; web processes never do.
"""

import fcntl
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from django.conf import settings

from outbox.clickhouse.errors import is_data_error, is_outage
from outbox.exceptions import ClickHouseRejected, ClickHouseStoreHeld, ClickHouseUnavailable

_lock = threading.Lock()
_clients: dict[str, Client] = {}


def is_embedded(url: str | None = None) -> bool:
    """Return whether `url` (default: settings.CLICKHOUSE_URL) names an embedded store."""
    return (url or settings.CLICKHOUSE_URL).startswith("chdb:")


def embedded_path(url: str | None = None) -> str:
    return urlsplit(url or settings.CLICKHOUSE_URL).path


def clickhouse_client() -> Client:
    """Return this process's client for settings.CLICKHOUSE_URL, connecting on first use.

    Raises ClickHouseStoreHeld when another process holds the embedded store, and
    ClickHouseUnavailable when the server cannot be reached.
    """
    url = settings.CLICKHOUSE_URL
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = _connect(url)
        return client


def _connect(url: str) -> Client:
    if is_embedded(url):
        _raise_if_held(embedded_path(url))
    timeouts = {} if is_embedded(url) else {"connect_timeout": 5, "send_receive_timeout": 30}
    try:
        return clickhouse_connect.get_client(dsn=url, **timeouts)
    except ClickHouseError as exc:
        raise ClickHouseUnavailable(f"Cannot connect to ClickHouse: {exc}") from exc


def _raise_if_held(path: str) -> None:
    """Raise ClickHouseStoreHeld when another process holds the store at `path`.

    chDB, like a ClickHouse server, holds an exclusive lock on `<path>/status` while open
    and writes its pid there; the same non-blocking lock tells whether it is free.
    """
    status = Path(path) / "status"
    if not status.exists():
        return
    with status.open("rb") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = file.read(64).decode(errors="replace").splitlines()[:1]
            raise ClickHouseStoreHeld(
                f"The embedded ClickHouse store at {path} is held by another process "
                f"({holder[0] if holder else 'unknown pid'}, a running worker): only one "
                "process may open it."
            ) from None
        fcntl.flock(file, fcntl.LOCK_UN)


def clickhouse_close() -> None:
    """Close this process's clients, releasing an embedded store for other processes."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def clickhouse_command(statement: str, *, parameters: dict[str, Any] | None = None) -> Any:
    """Run one DDL or other statement that returns no rows."""
    return _guarded(lambda: clickhouse_client().command(statement, parameters=parameters))


def clickhouse_rows(
    query: str, *, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None
) -> tuple[list[str], list[tuple]]:
    """Run a query and return its column names and rows."""

    def run() -> tuple[list[str], list[tuple]]:
        result = clickhouse_client().query(query, parameters=parameters, settings=settings)
        return list(result.column_names), [tuple(row) for row in result.result_rows]

    return _guarded(run)


@contextmanager
def _readonly_session() -> Iterator[Client]:
    """A session of its own with ClickHouse's `readonly` setting, closed after.

    `readonly` is a setting of the client (a session setting), not a SETTINGS clause after the
    query, so ClickHouse's positions in an error are the query's own. The session is not this
    process's shared one: once set, `readonly` cannot be unset on it.
    """
    url = settings.CLICKHOUSE_URL
    clickhouse_client()  # held elsewhere or unreachable: raise as every use does
    timeouts = {} if is_embedded(url) else {"connect_timeout": 5, "send_receive_timeout": 30}
    session = _guarded(
        lambda: clickhouse_connect.get_client(dsn=url, settings={"readonly": 1}, **timeouts)
    )
    try:
        yield session
    finally:
        session.close()


def clickhouse_rows_readonly(query: str) -> tuple[list[str], list[tuple]]:
    """Run `query` on a read-only session and return its column names and rows.

    The driver reads the rows in Native, so it sends `query` followed by `FORMAT Native`.
    """
    with _readonly_session() as session:

        def run() -> tuple[list[str], list[tuple]]:
            result = session.query(query)
            return list(result.column_names), [tuple(row) for row in result.result_rows]

        return _guarded(run)


def clickhouse_run_as_written(query: str) -> None:
    """Run `query` on a read-only session exactly as written, nothing appended, discarding rows.

    Raises ClickHouseRejected with ClickHouse's error about that text alone.
    """
    with _readonly_session() as session:
        _guarded(lambda: session.raw_query(query, fmt=None))


def clickhouse_insert(
    table: str,
    data: Sequence[Sequence[Any]],
    *,
    column_names: Sequence[str],
    token: str,
    column_types: Sequence[str] | None = None,
    column_oriented: bool = False,
) -> None:
    """Insert `data` in one insert, deduplicated by `token` when the same insert is retried.

    `data` is rows, or columns with `column_oriented`. Given `column_types`, the client
    skips the DESCRIBE it otherwise runs before each insert. Raises ClickHouseRejected when
    ClickHouse refuses the rows themselves, ClickHouseUnavailable for any other failure
    (outbox.clickhouse.errors).
    """

    def run() -> None:
        clickhouse_client().insert(
            table,
            data,
            column_names=list(column_names),
            column_type_names=None if column_types is None else list(column_types),
            column_oriented=column_oriented,
            settings={"insert_deduplication_token": token},
        )

    _guarded_insert(run)


def clickhouse_insert_raw(
    table: str, data: bytes, *, column_names: Sequence[str], fmt: str, token: str
) -> None:
    """Insert `data`, rows already in ClickHouse's format `fmt`, in one deduplicated insert.

    Raises as clickhouse_insert does.
    """

    def run() -> None:
        clickhouse_client().raw_insert(
            table,
            list(column_names),
            insert_block=data,
            fmt=fmt,
            settings={"insert_deduplication_token": token},
        )

    _guarded_insert(run)


def _guarded(call):
    """Run a statement: an outage raises ClickHouseUnavailable, a refusal ClickHouseRejected."""
    try:
        return call()
    except ClickHouseError as exc:
        if is_outage(exc):
            raise ClickHouseUnavailable(str(exc)) from exc
        raise ClickHouseRejected(str(exc)) from exc


def _guarded_insert(call) -> None:
    """Run an insert: only refused rows are ClickHouseRejected, every other failure an outage.

    A rejection is counted towards bisecting the batch, so nothing but the rows' own fault may
    be one: an insert refused for a missing table or column fails every batch alike.
    """
    try:
        call()
    except ClickHouseError as exc:
        if is_data_error(exc):
            raise ClickHouseRejected(str(exc)) from exc
        raise ClickHouseUnavailable(str(exc)) from exc
