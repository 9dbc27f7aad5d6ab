"""Every ClickHouse statement the service runs: table names, DDL builders and queries.

Values travel as query parameters, never inside the SQL text.
"""

EVENT_LOG = "event_log"
SCHEMA_MIGRATIONS = "schema_migrations"

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
# The types of EVENT_LOG_COLUMNS as the migrations create them, so an insert needs no DESCRIBE.
EVENT_LOG_COLUMN_TYPES = (
    "UUID",
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


def ping() -> str:
    return "SELECT 1"
