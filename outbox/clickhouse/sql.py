"""Every ClickHouse statement the service runs: table names, DDL builders and queries.

Values travel as query parameters, never inside the SQL text.
"""

from outbox.contracts import EVENT_LOG_NAMESPACE

EVENT_LOG = "event_log"
SCHEMA_MIGRATIONS = "schema_migrations"

# event_log's stored columns, in the order the migrations create them.
EVENT_LOG_COLUMNS = (
    "event_id",
    "event_type",
    "event_date_time",
    "environment",
    "event_context",
    "metadata_version",
    "tenant_id",
    "user_id",
)
# What the relay inserts: the record's key in place of event_id, which ClickHouse derives from
# it (event_log_derive_event_id), and the types as the migrations create them, so an insert
# needs no DESCRIBE.
EVENT_LOG_INSERT_COLUMNS = ("event_key", *EVENT_LOG_COLUMNS[1:])
EVENT_LOG_INSERT_TYPES = (
    "String",
    "LowCardinality(String)",
    "DateTime64(6, 'UTC')",
    "LowCardinality(String)",
    "String",
    "UInt64",
    "LowCardinality(String)",
    "Nullable(Int64)",
)

# Insert blocks remembered per table for deduplication by insert_deduplication_token. A batch
# retried after more than this many later inserts is no longer recognised (the deterministic
# event_id still collapses its rows when ClickHouse merges them).
DEDUPLICATION_WINDOW = 10_000


def schema_migrations_create() -> str:
    return f"""
        CREATE TABLE IF NOT EXISTS {SCHEMA_MIGRATIONS} (
            version String,
            applied_at DateTime64(6, 'UTC') DEFAULT now64(6)
        )
        ENGINE = ReplacingMergeTree
        ORDER BY version
    """


def schema_migrations_applied() -> str:
    return f"SELECT DISTINCT version FROM {SCHEMA_MIGRATIONS}"


def event_log_create() -> str:
    return f"""
        CREATE TABLE IF NOT EXISTS {EVENT_LOG} (
            event_id UUID,
            event_type LowCardinality(String),
            event_date_time DateTime64(6, 'UTC'),
            environment LowCardinality(String),
            event_context String,
            metadata_version UInt64,
            tenant_id LowCardinality(String),
            user_id Nullable(Int64)
        )
        ENGINE = ReplacingMergeTree(metadata_version)
        PARTITION BY toYYYYMM(event_date_time)
        ORDER BY (event_type, event_date_time, event_id)
        SETTINGS non_replicated_deduplication_window = {DEDUPLICATION_WINDOW}
    """


def event_log_add_event_key() -> str:
    """Add `event_key`, an EPHEMERAL column: inserts may write it, nothing stores it."""
    return f"ALTER TABLE {EVENT_LOG} ADD COLUMN IF NOT EXISTS event_key String EPHEMERAL"


def event_log_derive_event_id() -> str:
    """Make event_id default to uuid5(EVENT_LOG_NAMESPACE, event_key), computed by ClickHouse.

    The same id as `uuid.uuid5` (RFC 4122: the first 16 bytes of SHA-1(namespace + name),
    version 5 in the high nibble of byte 7, variant 10 in the high bits of byte 9), so rows
    inserted with their id and rows inserted with their key replace each other. ClickHouse
    hashes a whole column at once, which in the relay's Python cost about 15 ms per 10,000
    rows. The namespace is a constant of the code, written as hex (DDL takes no parameters).
    """
    digest = f"SHA1(concat(unhex('{EVENT_LOG_NAMESPACE.hex}'), event_key))"
    version = f"char(bitOr(bitAnd(reinterpretAsUInt8(substring({digest}, 7, 1)), 15), 80))"
    variant = f"char(bitOr(bitAnd(reinterpretAsUInt8(substring({digest}, 9, 1)), 63), 128))"
    uuid_bytes = (
        f"concat(substring({digest}, 1, 6), {version}, substring({digest}, 8, 1), {variant},"
        f" substring({digest}, 10, 7))"
    )
    return (
        f"ALTER TABLE {EVENT_LOG} MODIFY COLUMN event_id UUID"
        f" DEFAULT toUUID(UUIDNumToString(toFixedString({uuid_bytes}, 16)))"
    )


def ping() -> str:
    return "SELECT 1"
