from django.core.management.base import BaseCommand, CommandError

from outbox.clickhouse.migrate import clickhouse_migrate
from outbox.exceptions import ClickHouseStoreHeld, OutboxError

# Unlike a query (clickhouse_query), a migration is not handed to the worker that holds the
# embedded store: it changes the tables under that worker's feet.
_STOP_THE_HOLDER_FIRST = (
    "Stop `make run` (or the worker holding the store) and run clickhouse_migrate again; "
    "`make run` itself applies the migrations as it starts."
)


class Command(BaseCommand):
    help = (
        "Apply the pending ClickHouse migrations (outbox/clickhouse/migrations/). An embedded "
        "store must not be open in another process (the worker of `make run`)."
    )

    def handle(self, *args, **options) -> None:
        try:
            applied = clickhouse_migrate()
        except ClickHouseStoreHeld as exc:
            raise CommandError(f"{exc} {_STOP_THE_HOLDER_FIRST}") from exc
        except OutboxError as exc:
            raise CommandError(str(exc)) from exc
        for version in applied:
            self.stdout.write(f"Applied {version}")
        if not applied:
            self.stdout.write("No ClickHouse migrations to apply.")
