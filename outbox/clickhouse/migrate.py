"""Apply the versioned ClickHouse migrations in `outbox/clickhouse/migrations/`, idempotently.

Each module `NNNN_<verb>_<object>.py` holds only `operations = [...]`, statements from
`sql.py`. Applied versions are recorded in `schema_migrations`; a merged migration is never
edited, a change is a new module.
"""

import importlib
import pkgutil

from outbox.clickhouse import migrations, sql
from outbox.clickhouse.client import clickhouse_command, clickhouse_insert, clickhouse_rows


def clickhouse_migration_versions() -> list[str]:
    """Return every migration's version (its module name), in order."""
    return sorted(info.name for info in pkgutil.iter_modules(migrations.__path__))


def clickhouse_migrate() -> list[str]:
    """Apply the migrations not yet recorded and return their versions."""
    clickhouse_command(sql.schema_migrations_create())
    _, rows = clickhouse_rows(sql.schema_migrations_applied())
    applied = {version for (version,) in rows}
    pending = [version for version in clickhouse_migration_versions() if version not in applied]
    for version in pending:
        module = importlib.import_module(f"{migrations.__name__}.{version}")
        for statement in module.operations:
            clickhouse_command(statement)
        clickhouse_insert(
            sql.SCHEMA_MIGRATIONS, [(version,)], column_names=("version",), token=version
        )
    return pending
