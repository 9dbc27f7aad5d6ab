import os
import signal
import sys

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from outbox.embedded_worker import EmbeddedWorker


class Command(BaseCommand):
    help = (
        "Run `make run`'s one worker without a broker: the worker schedule's tasks, and the "
        "requests the web processes send to EMBEDDED_WORKER_SOCKET. With CELERY_BROKER_URL set "
        "(a .env from env.example), become a Celery worker of one process instead. Stops on "
        "SIGTERM or SIGINT."
    )

    def handle(self, *args, **options) -> None:
        if not settings.EMBEDDED_WORKER_SOCKET:
            # `make run` is then the deployment the .env describes: its worker is Celery's, one
            # process, as the embedded one is (an embedded ClickHouse store allows one). The
            # thread pool runs the tasks in the process whose thread runs the worker schedule
            # (docs/architecture.md), where the default pool would fork children that could not
            # open the store; two threads, as the embedded worker runs a long task beside the rest.
            celery = [sys.executable, "-m", "celery", "--app", "midnite_test", "worker"]
            pool = ["--pool", "threads", "--concurrency", "2"]
            os.execv(sys.executable, [*celery, *pool, "--loglevel", settings.LOG_LEVEL])
        try:
            worker = EmbeddedWorker(app=current_app, socket_path=settings.EMBEDDED_WORKER_SOCKET)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        worker.run()
