import os
import sys
from uuid import uuid4

from celery.exceptions import TimeoutError as CeleryTimeoutError
from django.core.management.base import BaseCommand, CommandError

from outbox.exceptions import ClickHouseStoreHeld, OutboxError
from outbox.selectors import clickhouse_query_readonly, clickhouse_value_text
from outbox.tasks import clickhouse_query_readonly_task
from outbox.worker_channel import task_send


class Command(BaseCommand):
    help = (
        "Run a read-only ClickHouse query and print its rows, tab-separated. When a running "
        "worker holds the embedded store, the worker runs the query."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("query", help='for example "SELECT count() FROM event_log"')
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="seconds to wait for the worker"
        )

    def handle(self, *args, query: str, timeout: float, **options) -> None:
        try:
            columns, rows = clickhouse_query_readonly(query)
        except ClickHouseStoreHeld as exc:
            self.stderr.write(f"{exc} Asking the worker to run the query.")
            columns, rows = self._through_worker(query, timeout)
        except OutboxError as exc:
            raise CommandError(str(exc)) from exc
        try:
            self.stdout.write("\t".join(columns))
            for row in rows:
                self.stdout.write("\t".join(clickhouse_value_text(value) for value in row))
            self.stdout.flush()
        except BrokenPipeError:
            # The reader stopped (`| head`): the rest is not wanted. Point stdout at /dev/null,
            # so Python's last flush of it at exit does not fail on the closed pipe too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def _through_worker(self, query: str, timeout: float) -> tuple[list[str], list]:
        task_id = str(uuid4())
        try:
            task_send(clickhouse_query_readonly_task, args=(query,), task_id=task_id)
            answer = clickhouse_query_readonly_task.AsyncResult(task_id).get(timeout=timeout)
        except (CeleryTimeoutError, OSError) as exc:
            raise CommandError(f"No worker answered within {timeout:g} s; is one running?") from exc
        except Exception as exc:  # noqa: BLE001 - the worker's error, re-raised by Celery
            raise CommandError(f"{type(exc).__name__}: {exc}") from exc
        if "error" in answer:
            raise CommandError(answer["error"])
        return answer["columns"], answer["rows"]
